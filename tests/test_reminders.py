"""Reminders and change notices: created once, moved with their event, sent once, over real SMTP."""

import datetime as dt
import threading

import icalendar
import pytest
from celery.signals import before_task_publish
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext

from timeline import tasks
from timeline.feeds import publishing as feeds
from timeline.models import Event, Feed, Notification, Subscriber, SubscriberLink
from timeline.notifications import dispatch, links, scheduling

from .factories import NotificationFactory, SourceFactory, SubscriberFactory
from .notify_helpers import follower, topic, upcoming_event

pytestmark = pytest.mark.django_db
Kind, State = Notification.Kind, Notification.State


def subject(message) -> str:
    # A long encoded subject is folded right after "Subject:"; readers drop that space.
    return str(message["Subject"]).strip()


def reminders(event) -> list[Notification]:
    return list(Notification.objects.filter(event=event, kind=Kind.REMINDER).order_by("due_at"))


def test_one_reminder_per_lead_time_sent_at_its_moment_with_everything(smtp, settings):
    settings.SITE_URL = "https://timeline.example.org"
    energy = topic()
    reader = follower("reader@example.com", energy, lead_times=(1440, 60), zone="Europe/Berlin")
    event = upcoming_event(energy, starts_in=dt.timedelta(days=2), title="Talks in Astana")
    source = SourceFactory(
        event=event, url="https://astanatimes.com/2025/11/talks/", publisher="The Astana Times"
    )
    scheduling.sync_event(event.pk)
    scheduling.sync_event(event.pk)  # idempotent
    day_before, hour_before = reminders(event)
    assert (day_before.lead_minutes, hour_before.lead_minutes) == (1440, 60)
    assert day_before.due_at == event.start_utc - dt.timedelta(days=1)

    dispatch.dispatch_due(now=day_before.due_at - dt.timedelta(seconds=1))
    assert smtp.messages == []  # not before it is due
    dispatch.dispatch_due(now=day_before.due_at)
    dispatch.dispatch_due(now=day_before.due_at + dt.timedelta(seconds=5))
    assert len(smtp.messages) == 1
    dispatch.dispatch_due(now=hour_before.due_at)
    assert len(smtp.messages) == 2

    message = smtp.messages[0]
    assert message["To"] == reader.email
    assert subject(message).startswith("Reminder: Talks in Astana")
    day_before.refresh_from_db()
    # The row's random trace token, never its id: the same on every retry, and unguessable.
    assert message["Message-ID"] == f"<{day_before.trace_token}@timeline.example.org>"
    assert day_before.state == State.SENT and day_before.sent_at is not None
    unsubscribe = str(message["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<https://timeline.example.org/en/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    local = event.local_start
    reader_time = event.start_utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert f"{local:%H:%M} (Asia/Almaty)" in text
    assert f"{reader_time:%H:%M} (Europe/Berlin)" in text
    assert "Talks in Astana" in html and "/en/subscriptions/" in html
    assert "Sources:" in text and source.url in text and "The Astana Times" in text
    assert f'<a href="{source.url}">' in html

    attachments = [part for part in message.iter_attachments()]
    assert [a.get_content_type() for a in attachments] == ["text/calendar"]
    calendar = icalendar.Calendar.from_ical(attachments[0].get_content())
    vevent = calendar.walk("VEVENT")[0]
    feed_calendar = icalendar.Calendar.from_ical(feeds.render_single(event))
    feed_vevent = feed_calendar.walk("VEVENT")[0]
    assert str(vevent["UID"]) == str(feed_vevent["UID"]) == str(event.uid)
    assert int(vevent["SEQUENCE"]) == int(feed_vevent["SEQUENCE"]) == event.sequence


def test_an_edit_queues_its_feeds_and_its_reminders_as_two_tasks(
    django_capture_on_commit_callbacks,
):
    queued: dict[str, list] = {}

    def note(sender, headers=None, body=None, **kwargs) -> None:
        queued[headers["task"]] = body[0]

    before_task_publish.connect(note)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            energy = topic()
            follower("reader@example.com", energy, lead_times=[60])
            event = upcoming_event(energy, title="Intergovernmental commission")
    finally:
        before_task_publish.disconnect(note)
    assert list(queued) == [tasks.publish_feeds.name, tasks.sync_outbox.name]
    # Each does its own part: the reminders come without the feeds, and the feeds without them.
    tasks.sync_outbox.apply(args=queued[tasks.sync_outbox.name]).get()
    assert [row.subscriber.email for row in reminders(event)] == ["reader@example.com"]
    assert not Feed.objects.exists()
    Notification.objects.all().delete()
    tasks.publish_feeds.apply(args=queued[tasks.publish_feeds.name]).get()
    assert "Intergovernmental commission" in Feed.objects.get(key="en/all").read().decode()
    assert not Notification.objects.exists()


def test_a_moved_event_takes_its_reminders_and_gets_one_debounced_notice(smtp, settings):
    settings.CHANGE_NOTICE_DELAY_SECONDS = 600
    energy = topic()
    follower("reader@example.com", energy, lead_times=(60,))
    event = upcoming_event(energy, starts_in=dt.timedelta(days=3))
    original_when = event.when
    scheduling.sync_event(event.pk)
    (reminder,) = reminders(event)
    now = timezone.now()
    for hours in (1, 2, 3, 4, 5):  # five edits within ten minutes
        event = Event.objects.get(pk=event.pk)
        event.start_time = (
            dt.datetime.combine(event.start_date, event.start_time) + dt.timedelta(hours=1)
        ).time()
        event.save()
        scheduling.sync_event(event.pk, now=now + dt.timedelta(minutes=hours))
    event.refresh_from_db()
    (moved,) = [r for r in reminders(event) if r.state == State.PENDING]
    assert moved.pk == reminder.pk
    assert moved.due_at == event.start_utc - dt.timedelta(hours=1)
    notices = Notification.objects.filter(event=event, kind=Kind.RESCHEDULED)
    assert notices.count() == 1
    dispatch.dispatch_due(now=now + dt.timedelta(minutes=5))
    assert smtp.messages == []  # still within the delay
    dispatch.dispatch_due(now=now + dt.timedelta(minutes=11))
    (message,) = smtp.messages
    assert subject(message) == f"Changed: {event.title}"
    text = message.get_body(("plain",)).get_content()
    moved = gettext("Moved: was %(old)s, now %(new)s")
    assert moved % {"old": original_when, "new": event.when} in text


def test_edits_that_change_nothing_in_the_end_send_nothing(smtp):
    energy = topic()
    follower("reader@example.com", energy)
    event = upcoming_event(energy)
    scheduling.sync_event(event.pk)
    original = event.start_time
    event.start_time = dt.time(5, 0) if original != dt.time(5, 0) else dt.time(6, 0)
    event.save()
    scheduling.sync_event(event.pk)
    event.start_time = original
    event.save()
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due(now=timezone.now() + dt.timedelta(hours=1))
    assert [subject(m) for m in smtp.messages if subject(m).startswith("Changed")] == []


def test_cancelled_event_drops_reminders_and_tells_followers_once(smtp):
    energy = topic()
    follower("a@example.com", energy)
    follower("b@example.com", energy)
    event = upcoming_event(energy)
    scheduling.sync_event(event.pk)
    assert len(reminders(event)) == 4
    event.status = Event.Status.CANCELLED
    event.save()
    scheduling.sync_event(event.pk)
    scheduling.sync_event(event.pk)
    assert all(r.state == State.SKIPPED for r in reminders(event))
    dispatch.dispatch_due(now=event.start_utc)  # everything due by now
    subjects = sorted((m["To"], subject(m)) for m in smtp.messages)
    assert subjects == [
        ("a@example.com", f"Cancelled: {event.title}"),
        ("b@example.com", f"Cancelled: {event.title}"),
    ]


def test_date_announced_for_an_undated_visit(smtp):
    diplomacy = topic("Diplomacy")
    follower("reader@example.com", diplomacy, lead_times=(1440,))
    visit = upcoming_event(diplomacy, starts_in=dt.timedelta(days=40), title="State visit")
    Event.objects.filter(pk=visit.pk).update(start_time=None)
    visit = Event.objects.get(pk=visit.pk)
    visit.precision, visit.start_time = "year", None
    visit.save()
    scheduling.sync_event(visit.pk)
    assert reminders(visit) == []  # no reminders for "2026, date to be announced"
    visit.precision = "day"
    visit.start_date = (timezone.now() + dt.timedelta(days=40)).date()
    visit.save()
    scheduling.sync_event(visit.pk)
    dispatch.dispatch_due(now=timezone.now())
    (message,) = smtp.messages
    assert subject(message).startswith("Date announced: State visit")
    assert len(reminders(visit)) == 1


def test_send_time_checks_never_send_a_wrong_reminder(smtp):
    energy = topic()
    follower("reader@example.com", energy, lead_times=(60,))
    moved = upcoming_event(energy, starts_in=dt.timedelta(minutes=90))
    started = upcoming_event(energy, starts_in=dt.timedelta(minutes=90))
    for event in (moved, started):
        scheduling.sync_event(event.pk)
    # The event moved, and its reminder was not yet moved (the sync has not run).
    Event.objects.filter(pk=moved.pk).update(start_utc=moved.start_utc + dt.timedelta(days=1))
    Event.objects.filter(pk=moved.pk).update(revision=0)
    from timeline.models import AnnouncedSchedule

    AnnouncedSchedule.objects.filter(event=moved).update(revision=0)
    Notification.objects.update(due_at=timezone.now())
    # The "1 hour before" reminder of an event that has already started.
    Event.objects.filter(pk=started.pk).update(start_utc=timezone.now() - dt.timedelta(minutes=1))
    Notification.objects.filter(event=started).update(
        payload={"start_utc": (timezone.now() - dt.timedelta(minutes=1)).isoformat()}
    )
    outcome = dispatch.reason_not_to_send(
        Notification.objects.select_related("subscriber", "event").get(event=moved),
        timezone.now(),
    )
    assert outcome == "Event has moved since this reminder was scheduled."
    row = Notification.objects.select_related("subscriber", "event").get(event=started)
    row.payload = {"start_utc": Event.objects.get(pk=started.pk).start_utc.isoformat()}
    assert dispatch.reason_not_to_send(row, timezone.now()) == "Event has already started."


def test_late_reminders_are_skipped_not_sent(smtp, settings):
    settings.REMINDER_GRACE_MINUTES = 30
    energy = topic()
    follower("reader@example.com", energy, lead_times=(60,))
    event = upcoming_event(energy, starts_in=dt.timedelta(hours=3))
    scheduling.sync_event(event.pk)
    (reminder,) = reminders(event)
    dispatch.dispatch_due(now=reminder.due_at + dt.timedelta(minutes=45))
    reminder.refresh_from_db()
    assert reminder.state == State.SKIPPED and smtp.messages == []


def test_a_title_with_line_breaks_cannot_inject_headers(smtp):
    energy = topic()
    follower("reader@example.com", energy)
    event = upcoming_event(energy, title="Talks\r\nBcc: victim@example.com\r\nX-Evil: 1")
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due(now=event.start_utc - dt.timedelta(hours=1))
    assert smtp.messages
    for message in smtp.messages:
        assert message["Bcc"] is None and message["X-Evil"] is None
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])


def test_unconfirmed_paused_or_unsubscribed_get_nothing_but_a_confirmation(smtp):
    energy = topic()
    unconfirmed = SubscriberFactory(
        email="new@example.com", lead_times=[60], unconfirmed=True, follows=[energy]
    )
    paused = follower("paused@example.com", energy, lead_times=(60,))
    paused.paused = True
    paused.save()
    event = upcoming_event(energy)
    scheduling.sync_event(event.pk)
    scheduling.request_confirmation(unconfirmed)
    # A row made for them anyway (e.g. before they paused) is re-checked at send time.
    NotificationFactory(subscriber=paused, event=event)
    dispatch.dispatch_due(now=event.start_utc - dt.timedelta(minutes=59))
    assert [(m["To"], subject(m).split(" ")[0]) for m in smtp.messages] == [
        ("new@example.com", "Confirm")
    ]


def test_temporary_failures_are_retried_until_delivered(smtp, settings):
    settings.SEND_RETRY_BASE_SECONDS = 0
    smtp.temporary_failure_every = 5
    energy = topic()
    for number in range(20):
        follower(f"r{number}@example.com", energy, lead_times=(60,))
    event = upcoming_event(energy)
    scheduling.sync_event(event.pk)
    moment = event.start_utc - dt.timedelta(minutes=60)
    for _ in range(10):
        dispatch.dispatch_due(now=moment)
        if not Notification.objects.exclude(state=State.SENT).exists():
            break
    assert Notification.objects.filter(state=State.SENT).count() == 20
    ids = smtp.ids()
    assert len(ids) == len(set(ids)) == 20
    assert smtp.attempts > 20  # some were refused with 451 first
    retried = Notification.objects.filter(attempts__gt=1)
    assert retried.exists() and all("451" in row.last_error for row in retried)


def test_a_permanent_failure_is_recorded_and_the_rest_delivered(smtp):
    energy = topic()
    for name in ("ok1", "gone", "ok2"):
        follower(f"{name}@example.com", energy, lead_times=(60,))
    smtp.refuse = {"gone@example.com"}
    event = upcoming_event(energy)
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due(now=event.start_utc - dt.timedelta(minutes=60))
    failed = Notification.objects.get(subscriber__email="gone@example.com")
    assert failed.state == State.FAILED and "550" in failed.last_error
    assert sorted(m["To"] for m in smtp.messages) == ["ok1@example.com", "ok2@example.com"]


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_each_of_1000_mails_once(smtp):
    energy = topic()
    subscribers = Subscriber.objects.bulk_create(
        [
            Subscriber(
                email=f"r{n}@example.com",
                lead_times=[60],
                confirmed_at=timezone.now(),
                link_nonce=f"{n:032x}",
            )
            for n in range(100)
        ]
    )
    events = [upcoming_event(energy, starts_in=dt.timedelta(minutes=70)) for _ in range(10)]
    for subscriber in subscribers:
        subscriber.follows.create(topic=energy)
    for event in events:
        scheduling.sync_event(event.pk)
    assert Notification.objects.count() == 1000
    moment = timezone.now() + dt.timedelta(minutes=11)
    errors = []

    def run():
        try:
            dispatch.dispatch_due(batch_size=25, now=moment)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = smtp.ids()
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert Notification.objects.filter(state=State.SENT).count() == 1000


def test_the_confirmation_mail_states_the_real_expiry(smtp, settings):
    settings.CONFIRMATION_MAX_AGE_HOURS = 5
    subscriber = SubscriberFactory(email="new@example.com", lead_times=[60], unconfirmed=True)
    scheduling.request_confirmation(subscriber)
    dispatch.dispatch_due()
    (message,) = smtp.messages
    assert "within 5 hours" in message.get_body(("plain",)).get_content()
    assert "expires in 5 hours" in message.get_body(("html",)).get_content()


def test_a_date_taken_away_and_given_back_before_the_notice_is_just_a_change(smtp, settings):
    settings.CHANGE_NOTICE_DELAY_SECONDS = 600
    energy = topic()
    follower("reader@example.com", energy, lead_times=(1440,))
    event = upcoming_event(energy, starts_in=dt.timedelta(days=3), title="Talks")
    scheduling.sync_event(event.pk)
    original = (event.precision, event.start_date, event.start_time)
    now = timezone.now()
    event.precision, event.start_time = "year", None  # "date to be announced", by mistake
    event.save()
    scheduling.sync_event(event.pk, now=now)
    event.precision, event.start_date, event.start_time = original  # put back at once
    event.save()
    scheduling.sync_event(event.pk, now=now + dt.timedelta(minutes=1))
    dispatch.dispatch_due(now=now + dt.timedelta(minutes=11))
    assert [subject(m) for m in smtp.messages] == []  # they never heard the date had gone


def test_each_mail_carries_its_own_link_and_unsent_ones_leave_no_token(smtp):
    energy = topic()
    reader = follower("reader@example.com", energy, lead_times=(1440, 60))
    event = upcoming_event(energy, starts_in=dt.timedelta(days=2))
    cancelled = upcoming_event(energy, starts_in=dt.timedelta(days=2))
    for each in (event, cancelled):
        scheduling.sync_event(each.pk)
    # A reminder of an event cancelled after it was scheduled is skipped at send time.
    Event.objects.filter(pk=cancelled.pk).update(status=Event.Status.CANCELLED)
    day_before, hour_before = reminders(event)

    # A few seconds late: the second event was made a moment after the first, and starts then.
    dispatch.dispatch_due(now=day_before.due_at + dt.timedelta(seconds=10))
    dispatch.dispatch_due(now=hour_before.due_at + dt.timedelta(seconds=10))

    assert len(smtp.messages) == 2
    unsubscribe = [str(message["List-Unsubscribe"]).strip()[1:-1] for message in smtp.messages]
    tokens = [url.rstrip("/").rsplit("/", 1)[1] for url in unsubscribe]
    assert tokens[0] != tokens[1]
    assert all(links.subscriber_from(token) == reader for token in tokens)
    skipped = Notification.objects.filter(event=cancelled, state=State.SKIPPED)
    assert skipped.count() == 2
    # Only the two mails sent hold a token: the skipped ones gave theirs back.
    assert SubscriberLink.objects.filter(subscriber=reader).count() == 2
