"""News of new events, at once: one mail when a change to an event makes it match a follower's
follows, debounced, checked again when it goes, over real SMTP."""

import datetime as dt

import pytest
from django.utils import timezone

from timeline.models import AnnouncedSchedule, DigestItem, Event, News, Notification
from timeline.notifications import dispatch, mail, scheduling, services

from .factories import SubscriberFactory
from .notify_helpers import topic, upcoming_event

pytestmark = pytest.mark.django_db
Kind, State = Notification.Kind, Notification.State
DELAY = dt.timedelta(minutes=10)


@pytest.fixture(autouse=True)
def notice_delay(settings):
    settings.CHANGE_NOTICE_DELAY_SECONDS = int(DELAY.total_seconds())


def reader(email: str, *follows, news: str = News.AT_ONCE, **fields):
    """Return a confirmed subscriber who follows *follows* and hears of news as *news* says."""
    fields.setdefault("lead_times", [1440])
    return SubscriberFactory(email=email, news=news, follows=list(follows), **fields)


def subjects(smtp) -> list[tuple[str, str]]:
    return [(m["To"], str(m["Subject"]).strip()) for m in smtp.messages]


def edit(event: Event, now: dt.datetime, **changes) -> Event:
    """Save changes to an event as an editor does, and bring the outbox in line at *now*."""
    event = Event.objects.get(pk=event.pk)
    for name, value in changes.items():
        setattr(event, name, value)
    event.save()
    scheduling.sync_event(event.pk, now=now)
    return event


def a_draft(*topics, title: str = "Talks in Astana") -> Event:
    event = upcoming_event(None, starts_in=dt.timedelta(days=5), title=title, published=False)
    event.topics.add(*topics)
    return event


def later(event: Event, hours: int) -> dt.time:
    moment = dt.datetime.combine(event.start_date, event.start_time) + dt.timedelta(hours=hours)
    return moment.time()


def test_publishing_a_followed_event_sends_one_news_mail_after_the_delay(smtp, settings):
    settings.SITE_URL = "https://timeline.example.org"
    energy = topic()
    anna = reader("anna@example.com", energy, timezone="Europe/Berlin")
    draft = a_draft(energy)
    now = timezone.now()
    scheduling.sync_event(draft.pk, now=now)
    assert not Notification.objects.filter(kind=Kind.NEWS).exists()  # a draft is news to no one

    edit(draft, now, published=True)
    # Edited within the delay: still one mail, showing the event as it is when it goes.
    event = edit(draft, now + dt.timedelta(minutes=3), start_time=later(draft, 2))
    dispatch.dispatch_due(now=now + DELAY - dt.timedelta(seconds=1))
    assert smtp.messages == []
    dispatch.dispatch_due(now=now + DELAY)
    dispatch.dispatch_due(now=now + 2 * DELAY)

    when = mail.times(event, "Europe/Berlin", "en")
    assert subjects(smtp) == [(anna.email, f"New: Talks in Astana — {when['reader']}")]
    (message,) = smtp.messages
    text = message.get_body(("plain",)).get_content()
    assert "New event: Talks in Astana" in text
    assert f"When: {when['reader']}" in text
    assert f"https://timeline.example.org/en/events/{event.slug}/" in text
    assert (
        str(message["List-Unsubscribe"])
        .strip()
        .startswith("<https://timeline.example.org/en/unsubscribe/")
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = Notification.objects.get(kind=Kind.NEWS)
    assert message["Message-ID"] == mail.message_id(row)
    assert [a.get_content_type() for a in message.iter_attachments()] == ["text/calendar"]


def test_an_event_unpublished_or_deleted_before_the_news_goes_sends_nothing(smtp):
    energy = topic()
    reader("anna@example.com", energy)
    kept_back, deleted = a_draft(energy, title="Kept back"), a_draft(energy, title="Deleted")
    now = timezone.now()
    for event in (kept_back, deleted):
        edit(event, now, published=True)
    assert Notification.objects.filter(kind=Kind.NEWS, state=State.PENDING).count() == 2

    edit(kept_back, now + dt.timedelta(minutes=1), published=False)
    deleted.delete()
    dispatch.dispatch_due(now=now + DELAY)

    assert smtp.messages == []
    row = Notification.objects.get(kind=Kind.NEWS)
    assert (row.state, row.last_error) == (State.SKIPPED, "Event is no longer published.")


def test_gaining_a_followed_topic_is_news(smtp):
    energy, transit = topic("Energy"), topic("Transit")
    anna = reader("anna@example.com", transit)
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)
    assert not Notification.objects.filter(kind=Kind.NEWS).exists()  # not what she follows

    event.topics.add(transit)
    scheduling.sync_event(event.pk, now=now + dt.timedelta(hours=1))
    dispatch.dispatch_due(now=now + dt.timedelta(hours=1) + DELAY)

    assert [subject.split(" — ")[0] for _to, subject in subjects(smtp)] == ["New: Talks in Astana"]
    assert smtp.messages[0]["To"] == anna.email


def test_following_something_more_is_not_news(smtp):
    energy, transit = topic("Energy"), topic("Transit")
    anna = reader("anna@example.com", transit)
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)

    # She starts following what the event already carries: it is not new, only new to her.
    services.apply_follows(
        subscriber=anna, wanted={("topic_id", energy.pk), ("topic_id", transit.pk)}
    )
    scheduling.sync_subscriber(anna.pk, now=now + dt.timedelta(minutes=1))
    edit(event, now + dt.timedelta(minutes=2), summary="An agenda is out.")
    event.topics.add(transit)  # and a topic she followed before: she matched already
    scheduling.sync_event(event.pk, now=now + dt.timedelta(minutes=3))
    dispatch.dispatch_due(now=now + dt.timedelta(days=1))

    assert not [s for _to, s in subjects(smtp) if s.startswith("New:")]
    assert not Notification.objects.filter(kind=Kind.NEWS).exists()


def test_a_reader_hears_of_an_event_once(smtp):
    energy = topic()
    reader("anna@example.com", energy)
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)
    dispatch.dispatch_due(now=now + DELAY)
    assert len(smtp.messages) == 1

    # Taken down, then published again; a topic taken away and given back.
    edit(event, now + dt.timedelta(hours=1), published=False)
    edit(event, now + dt.timedelta(hours=2), published=True)
    event.topics.clear()
    scheduling.sync_event(event.pk, now=now + dt.timedelta(hours=3))
    event.topics.add(energy)
    scheduling.sync_event(event.pk, now=now + dt.timedelta(hours=4))
    dispatch.dispatch_due(now=now + dt.timedelta(hours=5))

    assert len(smtp.messages) == 1


def test_news_goes_as_each_reader_chose(smtp):
    energy = topic()
    at_once = reader("now@example.com", energy)
    daily = reader("daily@example.com", energy, news=News.DAILY)
    weekly = reader("weekly@example.com", energy, news=News.WEEKLY)
    reader("never@example.com", energy, news=News.NEVER)
    reader("left@example.com", energy, unsubscribed_at=timezone.now())
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)
    dispatch.dispatch_due(now=now + DELAY)

    assert [to for to, _subject in subjects(smtp)] == [at_once.email]
    held = DigestItem.objects.filter(kind=DigestItem.Kind.NEWS, digest=None)
    assert sorted(held.values_list("subscriber__email", flat=True)) == sorted(
        [daily.email, weekly.email]
    )
    assert {item.event_id for item in held} == {event.pk}


def test_news_no_longer_followed_when_it_is_due_is_not_sent(smtp):
    energy, transit = topic("Energy"), topic("Transit")
    anna = reader("anna@example.com", energy)
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)
    services.apply_follows(subscriber=anna, wanted={("topic_id", transit.pk)})
    dispatch.dispatch_due(now=now + DELAY)

    assert smtp.messages == []
    row = Notification.objects.get(kind=Kind.NEWS)
    assert (row.state, row.last_error) == (State.SKIPPED, "No longer followed.")


def test_an_event_that_moves_after_its_news_went_is_a_change(smtp):
    """Who heard of an event as new hears of its later changes as any follower does."""
    energy = topic()
    reader("anna@example.com", energy)
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)
    dispatch.dispatch_due(now=now + DELAY)
    edit(event, now + 2 * DELAY, start_time=later(event, 1))
    dispatch.dispatch_due(now=now + 4 * DELAY)

    assert [s.split(":")[0] for _to, s in subjects(smtp)] == ["New", "Changed"]


def test_events_published_before_news_began_are_not_news(smtp):
    energy, transit = topic("Energy"), topic("Transit")
    reader("anna@example.com", transit)
    event = a_draft(energy)
    now = timezone.now()
    edit(event, now, published=True)
    # As the migration leaves the events announced before news existed.
    AnnouncedSchedule.objects.filter(event=event).update(followed=None)

    event.topics.add(transit)
    scheduling.sync_event(event.pk, now=now)
    assert not Notification.objects.filter(kind=Kind.NEWS).exists()
    assert AnnouncedSchedule.objects.get(event=event).followed["topics"] == sorted(
        [energy.pk, transit.pk]
    )
