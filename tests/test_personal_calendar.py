"""A subscriber's personal calendar: a private feed of what they follow, from the preferences page.

Turned on, rotated and turned off through the page (its link shown once); holds exactly the
followed events, in the subscriber's language, with alarms at their lead times if they chose
them (read back by icalendar, vobject and ical.js); republished when a follow, a lead time or a
followed event changes, and only then; gone when they leave or their links are revoked.
"""

import datetime as dt
import gzip
import re

import pytest
from celery.signals import before_task_publish
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from timeline import tasks
from timeline.feeds import ical
from timeline.feeds import publishing as feeds
from timeline.models import (
    EventFragment,
    Feed,
    PrivateFeed,
    StoredFile,
    Subscriber,
    Subscription,
    hash_token,
)
from timeline.notifications import links, services

from .factories import (
    ActorFactory,
    EventFactory,
    PlaceFactory,
    PrivateFeedFactory,
    SubscriberFactory,
    TopicFactory,
    TrackFactory,
)
from .feed_helpers import expected
from .parsers import (
    PARSERS,
    assert_lines_well_formed,
    parse_with_icalendar,
)

pytestmark = pytest.mark.django_db

FEED_LINK = re.compile(r"https://timeline\.test/feeds/private/([A-Za-z0-9_-]{43})\.ics")


# --- helpers -----------------------------------------------------------------------------------
def page_url(subscriber: Subscriber) -> str:
    return reverse("timeline:subscription", args=[links.token_for(subscriber)])


def turn_on(client, subscriber: Subscriber, alarms: bool = False) -> str:
    """Turn the calendar on through the page; return the token it shows."""
    response = client.post(
        page_url(subscriber), {"calendar_on": "1", **({"alarms": "on"} if alarms else {})}
    )
    assert response.status_code == 200
    [token] = set(FEED_LINK.findall(response.content.decode()))
    return token


def feed_url(token: str) -> str:
    return f"/feeds/private/{token}.ics"


def fetch(client, token: str, **headers):
    response = client.get(feed_url(token), **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return response


def calendar_of(subscriber: Subscriber) -> PrivateFeed:
    return PrivateFeed.objects.get(subscriber=subscriber)


def uids(body: bytes) -> set[str]:
    return {row["uid"] for row in parse_with_icalendar(body)}


@pytest.fixture
def queued_keys(transactional_db):
    """Collect the feed keys the publish tasks sent to the broker carry (each change commits,
    as in production, so its tasks go as it does)."""
    keys: list[str] = []

    def collect(sender=None, body=None, **kwargs) -> None:
        if sender == tasks.publish_feeds.name:
            args = body[0]
            keys.extend(args[1])

    before_task_publish.connect(collect)
    yield keys
    before_task_publish.disconnect(collect)


def etags() -> dict[str, str]:
    return dict(Feed.objects.values_list("key", "etag"))


# --- turning it on, its link shown once --------------------------------------------------------
def test_turning_on_shows_the_link_once(client):
    topic = TopicFactory(in_use=True)
    subscriber = SubscriberFactory(follows=[topic])
    url = page_url(subscriber)
    page = client.get(url).content.decode()
    assert "Your calendar" in page and 'name="calendar_on"' in page
    assert not FEED_LINK.search(page)

    response = client.post(url, {"calendar_on": "1"})
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    text = response.content.decode()
    [token] = set(FEED_LINK.findall(text))
    assert f'value="https://timeline.test/feeds/private/{token}.ics"' in text
    assert f'href="webcal://timeline.test/feeds/private/{token}.ics"' in text
    assert "calendar.google.com" in text
    calendar = calendar_of(subscriber)
    assert calendar.is_active and not calendar.alarms
    # Only its hash is kept.
    assert calendar.token_hash == hash_token(token)
    assert token not in str(PrivateFeed.objects.filter(pk=calendar.pk).values().get())

    again = client.get(url).content.decode()
    assert token not in again and not FEED_LINK.search(again)
    assert 'name="calendar_rotate"' in again and 'name="calendar_off"' in again
    # Asking again does not make a new link (it could not show the old one).
    response = client.post(url, {"calendar_on": "1"}, follow=True)
    assert "Your calendar is already on." in response.content.decode()
    assert not FEED_LINK.search(response.content.decode())
    assert calendar_of(subscriber).token_hash == hash_token(token)
    assert fetch(client, token).content.count(b"BEGIN:VEVENT") == 1


def test_only_a_subscriber_who_confirmed_and_stayed_can_have_one(client):
    topic = TopicFactory(in_use=True)
    unconfirmed = SubscriberFactory(unconfirmed=True, follows=[topic])
    gone = SubscriberFactory(
        follows=[topic], unsubscribed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    for subscriber in (unconfirmed, gone):
        url = page_url(subscriber)
        assert 'name="calendar_on"' not in client.get(url).content.decode()
        response = client.post(url, {"calendar_on": "1"})
        assert response.status_code == 302
        assert not PrivateFeed.objects.filter(subscriber=subscriber).exists()


def test_calendar_forms_need_the_pages_csrf_token(client):
    subscriber = SubscriberFactory(follows=[TopicFactory(in_use=True)])
    url = page_url(subscriber)
    strict = client.__class__(enforce_csrf_checks=True)
    assert strict.post(url, {"calendar_on": "1"}).status_code == 403
    assert not PrivateFeed.objects.exists()
    assert client.get(url).status_code == 200


# --- what it holds -----------------------------------------------------------------------------
def test_holds_exactly_what_the_subscriber_follows(client):
    topic, other_topic = TopicFactory(), TopicFactory()
    actor, track = ActorFactory(), TrackFactory()
    by_topic = EventFactory(title="By topic", countries=["RU"])
    by_topic.topics.add(topic)
    by_country = EventFactory(title="By country", countries=["KZ"], precision="minute")
    by_country.start_time = dt.time(10, 30)
    by_country.save()
    by_actor = EventFactory(title="By actor", countries=["DE"])
    by_actor.participants.add(actor)
    by_track = EventFactory(title="By track", countries=["DE"], track=track)
    single = EventFactory(title="Single", countries=["DE"], status="cancelled")
    not_followed = EventFactory(title="Elsewhere", countries=["DE"])
    not_followed.topics.add(other_topic)
    draft = EventFactory(title="Draft", published=False, countries=["KZ"])
    coarse = EventFactory(title="Coarse", precision="month", countries=["KZ"])
    subscriber = SubscriberFactory(follows=[topic, "KZ", actor, track, single])

    token = turn_on(client, subscriber)
    body = fetch(client, token).content

    assert_lines_well_formed(body)
    followed = [by_topic, by_country, by_actor, by_track, single]
    want = expected(followed, "en", with_languages=True)
    for name, parse in PARSERS.items():
        assert parse(body, languages=True) == want, name
    for absent in (not_followed, draft, coarse):
        assert str(absent.uid).encode() not in body
    assert b"BEGIN:VALARM" not in body  # alarms off
    assert b"NAME;LANGUAGE=en:Kazakhstan\xe2\x80\x93Russia timeline: What you follow" in body


def test_written_in_the_subscribers_language_which_they_may_change(client, queued_keys):
    topic = TopicFactory(name="Energy", name_ru="Энергетика")
    event = EventFactory(title="Talks", title_ru="Переговоры", status="cancelled")
    event.topics.add(topic)
    kept_in_english = EventFactory(title="Only English")
    kept_in_english.topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic], language="ru")
    token = turn_on(client, subscriber)

    body = fetch(client, token).content
    text = body.decode().replace("\r\n ", "")
    assert "NAME;LANGUAGE=ru:" in text
    assert "SUMMARY;LANGUAGE=ru:Отменено: Переговоры" in text
    assert "SUMMARY;LANGUAGE=en:Only English" in text  # no Russian title: the fallback, marked
    assert "CATEGORIES;LANGUAGE=ru:Встреча,Энергетика" in text
    for name, parse in PARSERS.items():
        assert parse(body, languages=True) == expected(
            [event, kept_in_english], "ru", with_languages=True
        ), name
    calendar = calendar_of(subscriber)
    assert set(Feed.objects.filter(key__contains="private:").values_list("key", flat=True)) == {
        f"ru/private:{calendar.pk}"
    }

    services.set_preferences(
        subscriber=subscriber,
        follows={("topic_id", topic.pk)},
        lead_times=[1440],
        zone="UTC",
        language="kk",
    )
    # Every language's: the Russian one goes.
    assert set(feeds.in_every_language([calendar.subject])) <= set(queued_keys)
    feeds.publish_changes(keys=queued_keys)
    assert set(Feed.objects.filter(key__contains="private:").values_list("key", flat=True)) == {
        f"kk/private:{calendar.pk}"
    }
    text = fetch(client, token).content.decode()
    assert "NAME;LANGUAGE=kk:" in text and "CATEGORIES;LANGUAGE=kk:" in text


# --- alarms ------------------------------------------------------------------------------------
def test_alarms_at_the_lead_times_read_by_three_parsers(client):
    topic = TopicFactory()
    timed = EventFactory(precision="minute", start_time=dt.time(12, 30), title="Signing")
    all_day = EventFactory(title="Visit", end_date=dt.date(2025, 11, 12))
    cancelled = EventFactory(title="Called off", status="cancelled")
    for event in (timed, all_day, cancelled):
        event.topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic], lead_times=[60, 1440, 0])

    token = turn_on(client, subscriber, alarms=True)
    assert calendar_of(subscriber).alarms
    body = fetch(client, token).content
    assert_lines_well_formed(body)

    def alarm(seconds: int, description: str) -> dict:
        return {
            "action": "DISPLAY",
            "trigger": seconds,
            "related": "START",
            "description": description,
            "language": "en",
        }

    rung = [alarm(-86400, "1 day before"), alarm(-3600, "1 hour before"), alarm(0, "At the start")]
    for name, parse in PARSERS.items():
        read = {row["uid"]: row["alarms"] for row in parse(body, alarms=True)}
        assert read == {str(timed.uid): rung, str(all_day.uid): rung, str(cancelled.uid): []}, name
    text = body.decode()
    for trigger in ("TRIGGER:-P1D", "TRIGGER:-PT1H"):
        assert text.count(trigger + "\r\n") == 2
    assert text.count("ACTION:DISPLAY\r\n") == 6


def test_alarms_in_the_subscribers_language_and_off_again(client, queued_keys):
    topic = TopicFactory()
    EventFactory(precision="minute", start_time=dt.time(9)).topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic], lead_times=[1440], language="ru")
    token = turn_on(client, subscriber, alarms=True)
    first = fetch(client, token)
    body = first.content
    [row] = parse_with_icalendar(body, alarms=True)
    assert row["alarms"] == [
        {
            "action": "DISPLAY",
            "trigger": -86400,
            "related": "START",
            "description": "За день",
            "language": "ru",
        }
    ]

    response = client.post(page_url(subscriber), {"calendar_alarms": "1"}, follow=True)
    assert "Your calendar’s alarms are saved." in response.content.decode()
    assert not calendar_of(subscriber).alarms
    feeds.publish_changes(keys=queued_keys)
    without = fetch(client, token)
    assert b"VALARM" not in without.content
    assert without["ETag"] != first["ETag"]
    assert parse_with_icalendar(without.content) == parse_with_icalendar(body)


# --- republished as things change --------------------------------------------------------------
def test_changes_republish_the_calendar_and_nothing_else(client, queued_keys):
    energy, transit = TopicFactory(in_use=True), TopicFactory(in_use=True)
    energy_event = EventFactory(title="Energy talks", precision="minute", start_time=dt.time(10))
    energy_event.topics.add(energy)
    transit_event = EventFactory(title="Transit talks")
    transit_event.topics.add(transit)
    subscriber = SubscriberFactory(follows=[energy], lead_times=[1440])
    token = turn_on(client, subscriber, alarms=True)
    neighbour = SubscriberFactory(follows=[transit])
    neighbours_token = turn_on(client, neighbour)
    editors = PrivateFeedFactory(topics=[transit])
    for key in [*feeds.public_keys(), *PrivateFeed.objects.serving().keys()]:
        feeds.publish(key)
    mine = calendar_of(subscriber).key
    url = page_url(subscriber)

    def change(data: dict) -> dict[str, str]:
        """Post the preferences; publish what they queued; return the ETags before."""
        before = etags()
        queued_keys.clear()
        assert client.post(url, {"timezone": "UTC", **data}).status_code == 302
        # Only their calendar is queued (in every language: they may have changed it).
        assert set(queued_keys) == set(feeds.in_every_language([calendar_of(subscriber).subject]))
        feeds.publish_changes(keys=queued_keys)
        return before

    def changed(before: dict[str, str]) -> set[str]:
        return {key for key, etag in etags().items() if before.get(key) != etag}

    # A follow added.
    before = change({"topics": [energy.pk, transit.pk], "lead_times": ["1440"]})
    assert changed(before) == {mine}
    assert str(transit_event.uid) in uids(fetch(client, token).content)
    # A lead time changed: the same events, other alarms.
    before = change({"topics": [energy.pk, transit.pk], "lead_times": ["60"]})
    assert changed(before) == {mine}
    assert b"TRIGGER:-PT1H" in fetch(client, token).content
    # Nothing changed: the same bytes.
    before = change({"topics": [energy.pk, transit.pk], "lead_times": ["60"]})
    assert changed(before) == set()
    # A follow removed.
    before = change({"topics": [transit.pk], "lead_times": ["60"]})
    assert changed(before) == {mine}
    held = uids(fetch(client, token).content)
    assert str(transit_event.uid) in held and str(energy_event.uid) not in held

    # An edit of an event it holds republishes it, and the other feeds that hold the event.
    before = etags()
    transit_event.title = "Transit talks, moved"
    transit_event.start_date = dt.date(2025, 11, 20)
    transit_event.save()
    feeds.publish_changes([transit_event.pk])
    touched = changed(before)
    assert {mine, calendar_of(neighbour).key, editors.key} <= touched
    assert not any(key.endswith(f"topic:{energy.slug}") for key in touched)
    summaries = {
        row["summary"] for row in parse_with_icalendar(fetch(client, neighbours_token).content)
    }
    assert "Transit talks, moved" in summaries
    # An edit of an event it does not hold leaves it alone.
    before = etags()
    energy_event.start_time = dt.time(11)
    energy_event.save()
    feeds.publish_changes([energy_event.pk])
    touched = changed(before)
    assert mine not in touched and calendar_of(neighbour).key not in touched
    assert f"en/topic:{energy.slug}" in touched


def test_lead_times_change_nothing_without_alarms(client, queued_keys):
    topic = TopicFactory()
    EventFactory().topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic], lead_times=[1440])
    token = turn_on(client, subscriber)
    first = fetch(client, token)
    services.set_preferences(
        subscriber=subscriber, follows={("topic_id", topic.pk)}, lead_times=[60], zone="UTC"
    )
    assert queued_keys
    feeds.publish_changes(keys=queued_keys)
    assert client.get(feed_url(token), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_a_follow_changed_in_the_admin_or_directly_republishes_it(client, queued_keys):
    topic, other = TopicFactory(), TopicFactory()
    event = EventFactory()
    event.topics.add(other)
    subscriber = SubscriberFactory(follows=[topic])
    token = turn_on(client, subscriber)
    assert str(event.uid) not in uids(fetch(client, token).content)
    follow = Subscription.objects.create(subscriber=subscriber, topic=other)
    feeds.publish_changes(keys=queued_keys)
    assert str(event.uid) in uids(fetch(client, token).content)
    queued_keys.clear()
    follow.delete()
    feeds.publish_changes(keys=queued_keys)
    assert str(event.uid) not in uids(fetch(client, token).content)


def test_a_draft_never_appears_until_published(client):
    topic = TopicFactory()
    draft = EventFactory(published=False)
    draft.topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic, draft])
    token = turn_on(client, subscriber)
    assert str(draft.uid) not in fetch(client, token).content.decode()

    draft.published = True
    draft.save()
    feeds.publish_changes([draft.pk])
    assert str(draft.uid) in uids(fetch(client, token).content)
    draft.published = False
    draft.save()
    feeds.publish_changes([draft.pk])
    assert str(draft.uid) not in fetch(client, token).content.decode()


def test_including_finds_the_calendars_of_those_who_follow_an_event(client):
    topic, track, actor = TopicFactory(), TrackFactory(), ActorFactory()
    event = EventFactory(countries=["KZ"], track=track)
    event.topics.add(topic)
    event.participants.add(actor)
    other = EventFactory(countries=["DE"])
    followers = [
        SubscriberFactory(follows=[followed]) for followed in (topic, track, actor, "KZ", event)
    ]
    bystander = SubscriberFactory(follows=[other])
    for subscriber in [*followers, bystander]:
        turn_on(client, subscriber)
    including = set(PrivateFeed.objects.including(event))
    assert including == {calendar_of(subscriber) for subscriber in followers}
    services.stop_calendar(subscriber=followers[0])
    services.leave(subscriber=followers[1])
    assert set(PrivateFeed.objects.including(event)) == {
        calendar_of(subscriber) for subscriber in followers[2:]
    }


# --- new link, off, leaving, links revoked -----------------------------------------------------
def test_new_link_and_turning_off_from_the_page(client, queued_keys):
    subscriber = SubscriberFactory(follows=[TopicFactory(in_use=True)])
    url = page_url(subscriber)
    old = turn_on(client, subscriber)

    response = client.post(url, {"calendar_rotate": "1"})
    assert response.status_code == 200
    [new] = set(FEED_LINK.findall(response.content.decode()))
    assert new != old
    assert client.get(feed_url(old)).status_code == 404
    fetch(client, new)
    assert not FEED_LINK.search(client.get(url).content.decode())

    response = client.post(url, {"calendar_off": "1"}, follow=True)
    assert "Your calendar is off: its link no longer works." in response.content.decode()
    assert client.get(feed_url(new)).status_code == 404
    assert 'name="calendar_on"' in response.content.decode()
    # Its published bytes go too.
    feeds.publish_changes(keys=queued_keys)
    assert not Feed.objects.filter(key__contains="private:").exists()
    # On again: a new link; the earlier ones stay dead.
    again = turn_on(client, subscriber)
    assert again not in (old, new)
    fetch(client, again)
    for dead in (old, new):
        assert client.get(feed_url(dead)).status_code == 404


def test_leaving_or_revoked_links_end_the_calendar(client):
    topic = TopicFactory(in_use=True)
    leaver, renewer, revoked = (SubscriberFactory(follows=[topic]) for _ in range(3))
    tokens = {
        subscriber.pk: turn_on(client, subscriber) for subscriber in (leaver, renewer, revoked)
    }

    # One-click unsubscribe from a mail.
    assert (
        client.post(reverse("timeline:unsubscribe", args=[links.token_for(leaver)])).status_code
        == 200
    )
    assert client.get(feed_url(tokens[leaver.pk])).status_code == 404
    services.rejoin(subscriber=Subscriber.objects.get(pk=leaver.pk))
    assert client.get(feed_url(tokens[leaver.pk])).status_code == 404  # it stays off

    # "Revoke my links" on the page, and the editors' action.
    client.post(page_url(renewer), {"new_links": "1"})
    assert client.get(feed_url(tokens[renewer.pk])).status_code == 404
    services.revoke_links(subscriber_ids=[revoked.pk])
    assert client.get(feed_url(tokens[revoked.pk])).status_code == 404
    assert not PrivateFeed.objects.serving().exists()


def test_a_subscriber_marked_as_left_is_not_served_even_before_revocation(client):
    subscriber = SubscriberFactory(follows=[TopicFactory(in_use=True)])
    token = turn_on(client, subscriber)
    fetch(client, token)
    # As an editor might in the admin, without the service that turns the calendar off.
    Subscriber.objects.filter(pk=subscriber.pk).update(
        unsubscribed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert client.get(feed_url(token)).status_code == 404


# --- served as every feed ----------------------------------------------------------------------
def test_served_with_validators_head_and_gzip(client):
    topic = TopicFactory()
    EventFactory(place=PlaceFactory(timezone="Europe/Moscow"), precision="minute").topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic])
    token = turn_on(client, subscriber, alarms=True)
    plain = fetch(client, token)
    assert plain["Cache-Control"] == "private, no-cache"
    assert plain["ETag"] and plain["Last-Modified"]
    assert client.get(feed_url(token), HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 304
    assert (
        client.get(feed_url(token), HTTP_IF_MODIFIED_SINCE=plain["Last-Modified"]).status_code
        == 304
    )
    zipped = fetch(client, token, HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    head = client.head(feed_url(token))
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(plain.content))


def test_publishing_queries_do_not_grow_with_followed_events(client):
    subscriber = SubscriberFactory(lead_times=[1440, 60])

    def follow(count: int) -> None:
        for number in range(count):
            event = EventFactory(precision="minute" if number % 2 else "day")
            Subscription.objects.create(subscriber=subscriber, event=event)

    def queries_to_publish(key: str, cold: bool) -> int:
        if cold:  # nothing to reuse: every VEVENT drawn, every file stored
            Feed.objects.all().delete()
            EventFragment.objects.all().delete()
            StoredFile.objects.all().delete()
        with CaptureQueriesContext(connection) as context:
            feeds.publish(key)
        return len(context.captured_queries)

    follow(5)
    turn_on(client, subscriber, alarms=True)
    key = calendar_of(subscriber).key
    few = queries_to_publish(key, cold=True)
    follow(45)
    grown = queries_to_publish(key, cold=False)  # 45 new VEVENTs, 5 reused
    many = queries_to_publish(key, cold=True)
    assert Feed.objects.get(key=key).event_count == 50
    assert many == few
    assert grown <= few + 2
    print("queries to publish a subscriber's calendar:", few)


def test_alarms_go_inside_the_vevent_folded_like_every_line():
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    vevent = ical.render_event(
        ical.CalendarEvent(
            uid="u1",
            sequence=0,
            summary="Келіссөздер",
            status="CONFIRMED",
            start=dt.date(2025, 11, 11),
            end=dt.date(2025, 11, 12),
            timezone="Asia/Almaty",
            created=moment,
            last_modified=moment,
        )
    )
    long_kazakh = (
        "Басталуына бір апта қалды, Қазақстан мен Ресей келіссөздері; өңірлік ынтымақтастық"
    )
    block = ical.render_alarms([ical.Alarm(dt.timedelta(days=7), long_kazakh, "kk")])
    assert ical.with_alarms(vevent, b"") == vevent
    calendar = ical.render_calendar(
        ical.CalendarMeta(
            name="n", description="d", url="https://x.test/", source="https://x.test/"
        ),
        [ical.with_alarms(vevent, block)],
    )
    assert_lines_well_formed(calendar)
    for name, parse in PARSERS.items():
        [row] = parse(calendar, alarms=True)
        assert row["alarms"] == [
            {
                "action": "DISPLAY",
                "trigger": -7 * 86400,
                "related": "START",
                "description": long_kazakh,
                "language": "kk",
            }
        ], name
    with pytest.raises(ValueError):
        ical.with_alarms(block, block)
