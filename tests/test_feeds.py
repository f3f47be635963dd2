"""Calendar feeds as clients fetch them: parsed alike by three parsers, served with validators."""

import datetime as dt
import gzip
from collections import Counter

import pytest
from celery.signals import before_task_publish
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from timeline.feeds import ical
from timeline.feeds import publishing as feeds
from timeline.languages import CODES as LANGUAGES
from timeline.languages import NAMES as LANGUAGE_NAMES
from timeline.models import Event, EventFragment, Feed, PrivateFeed, hash_token

from .factories import (
    EventFactory,
    PlaceFactory,
    PrivateFeedFactory,
    SourceFactory,
    TopicFactory,
)
from .feed_helpers import expected, generate_events
from .parsers import (
    assert_lines_well_formed,
    parse_with_icalendar,
    parse_with_icaljs,
    parse_with_vobject,
)
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db


def fetch(client, url: str, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return response


def assert_three_parsers_agree(body: bytes, events, language: str = "en") -> None:
    assert_lines_well_formed(body)
    want = expected(events, language, with_languages=True)
    assert parse_with_icalendar(body, languages=True) == want
    assert parse_with_vobject(body, languages=True) == want
    assert parse_with_icaljs(body, languages=True) == want


def test_every_seed_feed_reads_the_same_in_three_parsers_in_each_language(client):
    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    keys = feeds.public_keys()
    for language in ("kk", "ru", "en"):
        assert {
            f"{language}/all",
            f"{language}/topic:nuclear",
            f"{language}/country:KZ",
            f"{language}/track:kazakhstan-first-nuclear-power-plant",
        } <= set(keys)
    for key in keys:
        feed_spec = feeds.spec(key)
        body = fetch(client, feed_spec.path).content
        events = feeds.feed_events(feed_spec.selection)
        assert_three_parsers_agree(body, events, feed_spec.language)
    all_events = fetch(client, "/feeds/all.ics").content.decode()
    assert "DTSTART;VALUE=DATE:20251111" in all_events
    assert "DTEND;VALUE=DATE:20251113" in all_events  # 11–12 Nov, exclusive end
    # The 2026 visit is known only to the year: kept out of calendars.
    assert Event.objects.filter(precision="year").exists()
    for event in Event.objects.filter(precision="year"):
        assert str(event.uid) not in all_events


def test_generated_feed_reads_the_same_in_three_parsers(client):
    events = generate_events(400)
    assert len(events) > 350
    body = fetch(client, "/feeds/all.ics").content
    assert_three_parsers_agree(body, feeds.feed_events(feeds.spec("en/all").selection))
    assert body.count(b"BEGIN:VEVENT") == len(events)
    text = body.decode()
    for zone in ("Asia/Almaty", "Europe/Moscow", "Asia/Omsk", "Europe/Berlin"):
        assert f"TZID:{zone}\r\n" in text
    assert "TZID:UTC" not in text  # UTC times are written with Z


def test_regressions_almaty_and_far_future_berlin(client):
    almaty = PlaceFactory(timezone="Asia/Almaty")
    berlin = PlaceFactory(timezone="Europe/Berlin", country="DE")
    talks = EventFactory(
        place=almaty, precision="minute", start_date=dt.date(2025, 11, 12), start_time=dt.time(10)
    )
    milestone = EventFactory(
        place=berlin, precision="minute", start_date=dt.date(2040, 7, 1), start_time=dt.time(10)
    )
    summer = EventFactory(
        place=berlin, precision="minute", start_date=dt.date(2025, 7, 15), start_time=dt.time(10)
    )
    body = fetch(client, "/feeds/all.ics").content
    for parse in (parse_with_icalendar, parse_with_vobject, parse_with_icaljs):
        starts = {row["uid"]: row["start"] for row in parse(body)}
        assert starts[str(talks.uid)] == "2025-11-12T05:00:00Z"
        assert starts[str(milestone.uid)] == "2040-07-01T08:00:00Z"
        assert starts[str(summer.uid)] == "2025-07-15T08:00:00Z"


def test_vevent_carries_every_property(client, settings):
    topic = TopicFactory(name="Energy")
    event = EventFactory(
        title="Talks",
        summary="Presidents meet.",
        place=PlaceFactory(name="Astana", latitude=51.128, longitude=71.43),
        status="cancelled",
    )
    event.topics.add(topic)
    SourceFactory(event=event, url="https://astanatimes.com/2025/11/talks/")
    event.refresh_from_db()
    text = fetch(client, "/feeds/all.ics").content.decode().replace("\r\n ", "")
    for expected_line in (
        f"UID:{event.uid}",
        "SUMMARY;LANGUAGE=en:Cancelled: Talks",
        "STATUS:CANCELLED",
        f"SEQUENCE:{event.sequence}",
        "DTSTAMP:" + event.updated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
        "CREATED:",
        "LAST-MODIFIED:",
        "LOCATION;LANGUAGE=en:Astana\\, Kazakhstan",
        "GEO:51.128;71.43",
        f"URL:{settings.SITE_URL}/en/events/{event.slug}/",
        "CATEGORIES;LANGUAGE=en:Meeting,Energy",
        "https://astanatimes.com/2025/11/talks/",
        "METHOD:PUBLISH",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:",
        "NAME;LANGUAGE=en:",
        "X-WR-CALDESC:",
        "DESCRIPTION;LANGUAGE=en:Every dated event",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        "SOURCE;VALUE=URI:",
    ):
        assert expected_line in text, expected_line


def test_serving_validators_conditional_get_head_and_gzip(client):
    generate_events(20)
    first = fetch(client, "/feeds/all.ics")
    second = fetch(client, "/feeds/all.ics")
    assert first.content == second.content
    assert first["ETag"] == second["ETag"] and first["ETag"].startswith('"')
    assert first["Cache-Control"] == "public, max-age=3600"
    assert first["Content-Disposition"] == 'inline; filename="all.ics"'
    assert first["Vary"] == "Accept-Encoding"

    not_modified = client.get("/feeds/all.ics", HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == first["ETag"]
    since = client.get("/feeds/all.ics", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    stale = client.get("/feeds/all.ics", HTTP_IF_NONE_MATCH='"something-else"')
    assert stale.status_code == 200

    head = client.head("/feeds/all.ics")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(first.content))
    assert head["ETag"] == first["ETag"]

    zipped = client.get("/feeds/all.ics", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == first.content
    assert zipped["ETag"] != first["ETag"]
    again = client.get(
        "/feeds/all.ics", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=zipped["ETag"]
    )
    assert again.status_code == 304
    assert client.post("/feeds/all.ics").status_code == 405


def test_a_feed_never_404s_before_a_worker_published_it(client):
    EventFactory(countries=["KZ"])
    assert not Feed.objects.exists()
    response = fetch(client, "/feeds/countries/kz.ics")
    assert b"BEGIN:VEVENT" in response.content
    assert Feed.objects.filter(key="en/country:KZ").exists()


def test_unknown_feeds_answer_404(client):
    assert client.get("/feeds/topics/no-such-topic.ics").status_code == 404
    assert client.get("/feeds/countries/XX.ics").status_code == 404
    assert client.get("/feeds/tracks/nothing.ics").status_code == 404
    assert client.get("/feeds/actors/nobody.ics").status_code == 404
    assert client.get("/events/nothing.ics").status_code == 404


def test_drafts_coarse_dates_and_old_events_stay_out(client, settings):
    shown = EventFactory(title="Shown", start_date=dt.date(2027, 1, 1))
    draft = EventFactory(title="Draft", published=False)
    coarse = EventFactory(title="Coarse", precision="month", start_date=dt.date(2026, 6, 1))
    settings.FEED_WINDOW_DAYS = 30
    old = EventFactory(title="Old", start_date=dt.date(2020, 1, 1))
    body = fetch(client, "/feeds/all.ics").content.decode()
    assert str(shown.uid) in body
    for absent in (draft, coarse, old):
        assert str(absent.uid) not in body


def test_feed_queries_do_not_grow_with_events(client):
    def queries_for_feed() -> int:
        feeds.publish("en/all")
        with CaptureQueriesContext(connection) as context:
            fetch(client, "/feeds/all.ics")
        return len(context.captured_queries)

    generate_events(10)
    few = queries_for_feed()
    generate_events(1000, seed=8)
    assert Event.objects.count() > 900
    assert queries_for_feed() == few
    print("queries per feed request:", few)


def test_single_event_calendar(client):
    event = EventFactory(precision="minute", start_time=dt.time(12, 30))
    response = fetch(client, f"/events/{event.slug}.ics")
    assert response["Content-Disposition"] == f'inline; filename="{event.slug}.ics"'
    assert_three_parsers_agree(response.content, [event])
    again = client.get(f"/events/{event.slug}.ics", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_private_feed_by_secret_token(client):
    nuclear, trade = TopicFactory(name="Nuclear"), TopicFactory(name="Trade")
    followed = EventFactory(title="Followed")
    followed.topics.add(nuclear)
    other = EventFactory(title="Other", countries=["DE"])
    other.topics.add(trade)
    private = PrivateFeedFactory(topics=[nuclear])
    token = private.token
    assert token not in private.token_hash and len(token) >= 43  # 256 random bits

    body = fetch(client, f"/feeds/private/{token}.ics").content.decode()
    assert str(followed.uid) in body and str(other.uid) not in body

    for wrong in (token[:-1], token + "x", "A" * len(token), ""):
        assert client.get(f"/feeds/private/{wrong}.ics").status_code == 404
    new_token = private.issue_token()
    private.save()
    assert client.get(f"/feeds/private/{token}.ics").status_code == 404
    assert client.get(f"/feeds/private/{new_token}.ics").status_code == 200
    private.is_active = False
    private.save()
    assert client.get(f"/feeds/private/{new_token}.ics").status_code == 404


def test_publish_changes_touches_only_affected_feeds():
    energy, education = TopicFactory(slug="energy"), TopicFactory(slug="education")
    event = EventFactory()
    event.topics.add(energy)
    bystander = EventFactory()
    bystander.topics.add(education)
    subjects = ("all", "topic:energy", "topic:education")
    for key in feeds.in_every_language(subjects):
        feeds.publish(key)
    before = dict(Feed.objects.values_list("key", "etag"))

    event.topics.set([education])
    event.start_date = dt.date(2025, 11, 20)
    event.save()
    published = feeds.publish_changes([event.pk])
    assert set(feeds.in_every_language(subjects)) <= set(published)
    after = dict(Feed.objects.values_list("key", "etag"))
    for language in ("kk", "ru", "en"):
        assert after[f"{language}/all"] != before[f"{language}/all"]
        energy_feed = Feed.objects.get(key=f"{language}/topic:energy")
        assert str(event.uid).encode() not in energy_feed.read()
        education_feed = Feed.objects.get(key=f"{language}/topic:education")
        assert str(event.uid).encode() in education_feed.read()

    # Re-publishing with nothing changed leaves bytes, ETag and Last-Modified alone.
    unchanged = Feed.objects.get(key="ru/all")
    feeds.publish("ru/all")
    again = Feed.objects.get(key="ru/all")
    assert (again.etag, again.last_modified) == (unchanged.etag, unchanged.last_modified)


def test_deleted_event_leaves_its_feeds():
    event = EventFactory()
    for key in feeds.in_every_language(["all"]):
        feeds.publish(key)
    keys = feeds.keys_for_events([event.pk])
    event.delete()
    feeds.publish_changes(keys=keys)
    for key in feeds.in_every_language(["all"]):
        assert str(event.uid).encode() not in Feed.objects.get(key=key).read()


def test_publish_feeds_command_recomputes_utc_and_publishes(capsys):
    event = EventFactory(precision="minute", start_time=dt.time(10))
    Event.objects.filter(pk=event.pk).update(start_utc=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    call_command("publish_feeds")
    event.refresh_from_db()
    assert event.start_utc == dt.datetime(2025, 11, 11, 5, 0, tzinfo=dt.UTC)
    assert set(Feed.objects.values_list("key", flat=True)) >= {"kk/all", "ru/all", "en/all"}
    assert "Published" in capsys.readouterr().out


def test_private_feed_admin_shows_token_once_and_rotates(client, superuser):
    log_in_verified(client, superuser)
    topic = TopicFactory()
    response = client.post(
        "/admin/timeline/privatefeed/add/",
        {"name": "Newsroom", "topics": [topic.pk], "language": "en", "is_active": "on"},
        follow=True,
    )
    message = str(next(iter(response.context["messages"])))
    token = message.split("/feeds/private/")[1].split(".ics")[0]
    private = PrivateFeed.objects.get(name="Newsroom")
    assert private.token_hash == hash_token(token)
    assert client.get(f"/feeds/private/{token}.ics").status_code == 200

    response = client.post(
        "/admin/timeline/privatefeed/",
        {"action": "rotate_token", "_selected_action": [private.pk]},
        follow=True,
    )
    new_token = str(list(response.context["messages"])[-1]).split("/feeds/private/")[1][:43]
    assert client.get(f"/feeds/private/{token}.ics").status_code == 404
    assert client.get(f"/feeds/private/{new_token}.ics").status_code == 200
    client.post(
        "/admin/timeline/privatefeed/", {"action": "revoke", "_selected_action": [private.pk]}
    )
    assert client.get(f"/feeds/private/{new_token}.ics").status_code == 404


def test_feed_directory_offers_each_feed_in_each_language_its_own_first(client, settings):
    settings.SITE_URL = "https://timeline.example.org"
    topic = TopicFactory(name="Nuclear", name_ru="Атомная энергетика", slug="nuclear")
    EventFactory(countries=["KZ"]).topics.add(topic)
    for language, others in (("en", ("kk", "ru")), ("ru", ("kk", "en")), ("kk", ("ru", "en"))):
        page = client.get(f"/{language}/feeds/").content.decode()
        page = page[page.index('class="feed-list"') :]  # not the language switcher
        for kind in ("all.ics", "topics/nuclear.ics", "countries/KZ.ics"):
            webcal = [f"webcal://timeline.example.org/feeds/{code}/{kind}" for code in others]
            own = page.index(f'"webcal://timeline.example.org/feeds/{language}/{kind}"')
            assert own < page.index(webcal[0]) < page.index(webcal[1]), (language, kind)
        # Each row is labelled with its language's own name, the page's first.
        labels = [f'lang="{code}">{name}</p>' for code, name in LANGUAGE_NAMES.items()]
        assert all(label in page for label in labels)
        own_label = page.index(f'lang="{language}">{LANGUAGE_NAMES[language]}</p>')
        assert own_label < min(page.index(f'lang="{code}">') for code in others)
        google = (
            "https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2Ftimeline.example.org"
        )
        assert f"{google}%2Ffeeds%2F{language}%2Fall.ics" in page
        outlook = "https://outlook.live.com/calendar/0/addfromweb?url=webcal%3A%2F%2F"
        assert f"{outlook}timeline.example.org%2Ffeeds%2F{language}%2Fall.ics" in page
        # The address to copy is the page language's feed.
        assert f'readonly value="https://timeline.example.org/feeds/{language}/all.ics"' in page
    assert "Атомная энергетика" in client.get("/ru/feeds/").content.decode()


def test_spliced_republish_equals_a_fresh_render_and_its_gzip():
    events = generate_events(60)
    feeds.publish("ru/all")
    event = events[5]
    event.title_ru = "Retitled — Қайта аталды"
    event.save()
    EventFactory(title="Brand new", start_date=dt.date(2027, 3, 3))
    events[9].delete()
    spliced = feeds.publish("ru/all")
    body = spliced.read()
    assert gzip.decompress(spliced.read(gzipped=True)) == body
    # Neither has a Russian title: the Russian feed shows their English one.
    assert b"SUMMARY;LANGUAGE=en:Brand new" in body and "Қайта аталды".encode() in body
    # The same feed rendered from scratch gives the same bytes and ETag.
    Feed.objects.all().delete()
    EventFragment.objects.all().delete()
    fresh = feeds.publish("ru/all")
    assert fresh.read() == body and fresh.etag == spliced.etag


def test_a_feed_drawn_a_few_events_at_a_time_equals_one_drawn_at_once(monkeypatch):
    """Across chunk boundaries: VEVENTs drawn, read from the cache and spliced from the previous
    feed a few at a time give the bytes of the feed drawn in one go."""
    events = generate_events(40)
    monkeypatch.setattr(feeds, "PIECES_AT_ONCE", 7)
    drawn = []
    render_event = ical.render_event

    def counting(entry):
        drawn.append(entry.uid)
        return render_event(entry)

    monkeypatch.setattr(ical, "render_event", counting)
    cold = feeds.publish("kk/all")
    assert len(drawn) == cold.event_count == len(events)
    assert gzip.decompress(cold.read(gzipped=True)) == cold.read()
    edited = [events[2], events[20], events[33]]
    for event in edited:
        event.title_kk = f"Өзгертілді {event.pk}"
        event.save()
    drawn.clear()
    spliced = feeds.publish("kk/all")
    # The edited ones drawn again (in every language), the rest spliced from the previous feed.
    assert Counter(drawn) == {str(event.uid): len(LANGUAGES) for event in edited}
    body = spliced.read()
    assert body != cold.read() and gzip.decompress(spliced.read(gzipped=True)) == body
    Feed.objects.all().delete()
    drawn.clear()
    from_cache = feeds.publish("kk/all")
    assert drawn == []  # every VEVENT from the cache
    assert from_cache.read() == body and from_cache.read(gzipped=True) == spliced.read(gzipped=True)
    assert from_cache.etag == spliced.etag
    monkeypatch.undo()
    Feed.objects.all().delete()
    EventFragment.objects.all().delete()
    whole = feeds.publish("kk/all")
    assert whole.read() == body and whole.read(gzipped=True) == spliced.read(gzipped=True)
    assert whole.etag == spliced.etag


def test_renaming_a_place_or_topic_reaches_the_feeds(django_capture_on_commit_callbacks):
    sent = []

    def count(sender, headers=None, **kwargs) -> None:
        sent.append(headers["task"])

    before_task_publish.connect(count)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            place = PlaceFactory(name="Astana")
            topic = TopicFactory(name="Energy", slug="energy")
            event = EventFactory(place=place)
            event.topics.add(topic)
            feeds.publish("en/all")
            revision = Event.objects.get(pk=event.pk).revision
            place.name = "Nur-Sultan"
            place.save()
            topic.name = "Power"
            topic.save()
    finally:
        before_task_publish.disconnect(count)
    # One feed task reaches the broker for the whole transaction, however many changes (and
    # one for the reminders of the events touched).
    assert sent == ["timeline.tasks.publish_feeds", "timeline.tasks.sync_outbox"]
    assert Event.objects.get(pk=event.pk).revision > revision
    feeds.publish_changes([event.pk])
    body = Feed.objects.get(key="en/all").read().decode()
    assert "LOCATION;LANGUAGE=en:Nur-Sultan" in body
    assert "CATEGORIES;LANGUAGE=en:Meeting,Power" in body


def test_public_feeds_may_be_cached_by_anyone_private_ones_only_by_their_reader(client):
    topic = TopicFactory(slug="energy")
    EventFactory().topics.add(topic)
    private = PrivateFeedFactory(topics=[topic])
    token = private.token
    for url, cache_control in (
        ("/feeds/all.ics", "public, max-age=3600"),
        ("/feeds/topics/energy.ics", "public, max-age=3600"),
        (f"/feeds/private/{token}.ics", "private, no-cache"),
    ):
        first = fetch(client, url)
        assert first["Cache-Control"] == cache_control, url
        not_modified = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert not_modified.status_code == 304, url
        assert not_modified["Cache-Control"] == cache_control, url
        assert client.head(url)["Cache-Control"] == cache_control, url

    # Revalidation is what makes a revoked feed stop at once for a cache that kept a copy.
    private.is_active = False
    private.save()
    assert (
        client.get(f"/feeds/private/{token}.ics", HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 404
    )
