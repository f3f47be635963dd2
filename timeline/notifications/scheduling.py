"""Create and move outbox rows when events or subscriptions change (called after commit)."""

import datetime as dt
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import (
    DIGESTS,
    AnnouncedSchedule,
    Event,
    Notification,
    Subscriber,
    is_calendar_precision,
)
from ..models.subscribers import SubscriberQuerySet
from . import news
from .changes import schedule_changed, schedule_of

Kind, State = Notification.Kind, Notification.State
# How an outbox row withheld because its address is suppressed begins its last_error: the
# metrics count these rows as "suppressed" (timeline.metrics.collector).
SUPPRESSED = "Address suppressed"


def suppressed_note(subscriber: Subscriber) -> str:
    """Say why no mail goes to this suppressed address ("Address suppressed (hard bounce).")."""
    return f"{SUPPRESSED} ({subscriber.suppression_reason.replace('_', ' ')})."


def grace() -> dt.timedelta:
    """Return how late a reminder may still go out; older ones are skipped, not sent late."""
    return dt.timedelta(minutes=settings.REMINDER_GRACE_MINUTES)


def debounce() -> dt.timedelta:
    return dt.timedelta(seconds=settings.CHANGE_NOTICE_DELAY_SECONDS)


def followers(event: Event) -> SubscriberQuerySet:
    """Return the active subscribers one of whose follows selects this event."""
    return Subscriber.objects.active().following(event)


def reminder_key(lead: int, start: dt.datetime) -> str:
    return f"{lead}@{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


# --- events ----------------------------------------------------------------------------------
def sync_event(event_id: int, now: dt.datetime | None = None) -> None:
    """Bring the outbox in line with an event's current state: news, notices, then reminders."""
    now = now or timezone.now()
    event = (
        Event.objects.select_related("place")
        .prefetch_related("topics", "participants")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return  # its rows went with it
    with transaction.atomic():
        announced = AnnouncedSchedule.objects.select_for_update().filter(event=event).first()
        followed = news.selection(event)
        # News first: who hears of the event as new is not told of its changes besides.
        news.notice(event, followed, announced, now + debounce(), now)
        _notice_changes(event, now)
        _sync_reminders(event, now)
        AnnouncedSchedule.objects.filter(event=event).update(
            revision=event.revision, followed=followed
        )


def sync_changed_events(limit: int = 500, now: dt.datetime | None = None) -> int:
    """Sync the events changed since their outbox was last brought in line; return how many.

    This is what makes a lost message harmless: the dispatcher calls it on every run, so an
    edit reaches the outbox even if the task queued after its commit never arrived.
    """
    stale = Event.objects.exclude(announced__revision=F("revision")).values_list("pk", flat=True)
    ids = list(stale[:limit])
    for event_id in ids:
        sync_event(event_id, now)
    return len(ids)


def _notice_changes(event: Event, now: dt.datetime) -> None:
    current = schedule_of(event)
    announced = AnnouncedSchedule.objects.select_for_update().filter(event=event).first()
    if announced is None or not event.published:
        AnnouncedSchedule.objects.update_or_create(event=event, defaults={"data": current})
        return
    old = announced.data
    if old == current:
        return
    announced.data = current
    announced.save(update_fields=["data"])
    pending_notices = Notification.objects.filter(
        event=event, kind=Kind.RESCHEDULED, state=State.PENDING
    )
    if current["status"] == Event.Status.CANCELLED and old["status"] != Event.Status.CANCELLED:
        pending_notices.update(state=State.SKIPPED, last_error="Superseded by the cancellation.")
        _notify_followers(
            event, Kind.CANCELLED, f"cancelled@{event.sequence}", now, now, old, current
        )
    elif (
        not is_calendar_precision(old["precision"])
        and is_calendar_precision(current["precision"])
        # A date taken away and given back while a change notice is pending is just a change:
        # followers never heard it had gone, and that notice must show the date as it is now.
        and not pending_notices.exists()
    ):
        _notify_followers(
            event, Kind.DATE_ANNOUNCED, f"dated@{event.sequence}", now, now, old, current
        )
    elif schedule_changed(old, current):
        # Debounced: later changes within the delay update the pending notice's "new" values.
        # Both stay data (see notifications.changes), put into words only when the notice goes.
        updated = 0
        for notice in pending_notices:
            notice.payload = {**notice.payload, "new": current}
            notice.save(update_fields=["payload", "updated_at"])
            updated += 1
        # A digest may have told the change before (so no item is pending): hold this one.
        key, due = f"changed@{event.sequence}", now + debounce()
        _notify_followers(event, Kind.RESCHEDULED, key, now, due, old, current, notices=not updated)


def _notify_followers(
    event: Event,
    kind: str,
    key: str,
    now: dt.datetime,
    due: dt.datetime,
    old: dict[str, Any],
    new: dict[str, Any],
    notices: bool = True,
) -> None:
    """Tell followers of a change: a notice each (unless not *notices*), or an item of their
    next digest (a pending one keeps its older "old").

    Not those whose news of the event is still to go: it shows the event as it is then.
    """
    told = followers(event).exclude(pk__in=news.awaiting(event).values("pk"))
    on_digest = told.filter(news__in=DIGESTS).values_list("pk", flat=True)
    news.hold_change(event, on_digest, old, now)
    if not notices:
        return
    Notification.objects.bulk_create(
        [
            Notification(
                subscriber_id=subscriber_id,
                event=event,
                kind=kind,
                key=key,
                due_at=due,
                payload={"old": old, "new": new},
            )
            for subscriber_id in told.exclude(news__in=DIGESTS).values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )


def _sync_reminders(event: Event, now: dt.datetime) -> None:
    pending = Notification.objects.filter(event=event, kind=Kind.REMINDER, state=State.PENDING)
    if not event.gets_reminders:
        pending.update(state=State.SKIPPED, last_error=f"Event is {event.get_status_display()}.")
        return
    wanted = {
        (subscriber_id, lead)
        for subscriber_id, leads in followers(event).reminded().values_list("pk", "lead_times")
        for lead in leads
    }
    moved = []
    for row in pending:
        if (row.subscriber_id, row.lead_minutes) not in wanted:
            row.state, row.last_error = State.SKIPPED, "No longer followed."
        else:
            # An event that moves takes its pending reminders with it.
            lead = cast(int, row.lead_minutes)  # a reminder always has its lead time
            row.due_at = event.start_utc - dt.timedelta(minutes=lead)
            row.key = reminder_key(lead, event.start_utc)
            row.payload = {"start_utc": event.start_utc.isoformat()}
        moved.append(row)
    for row in moved:
        try:
            with transaction.atomic():
                row.save(update_fields=["state", "last_error", "due_at", "key", "payload"])
        except Exception:  # the reminder for this start exists already (sent before the move)
            Notification.objects.filter(pk=row.pk).update(
                state=State.SKIPPED, last_error="Already reminded for this start."
            )
    _create_reminders(event, wanted, now)


def _create_reminders(event: Event, wanted: set[tuple[int, int]], now: dt.datetime) -> None:
    earliest = now - grace()
    rows = []
    for subscriber_id, lead in wanted:
        due = event.start_utc - dt.timedelta(minutes=lead)
        if due >= earliest:
            rows.append(
                Notification(
                    subscriber_id=subscriber_id,
                    event=event,
                    kind=Kind.REMINDER,
                    key=reminder_key(lead, event.start_utc),
                    lead_minutes=lead,
                    due_at=due,
                    payload={"start_utc": event.start_utc.isoformat()},
                )
            )
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    # A reminder skipped earlier (paused, unfollowed, event cancelled) comes back when wanted
    # again and still in time; one already sent keeps its key, so it is never sent twice.
    for subscriber_id, lead in wanted:
        due = event.start_utc - dt.timedelta(minutes=lead)
        if due >= earliest:
            Notification.objects.filter(
                subscriber_id=subscriber_id,
                event=event,
                kind=Kind.REMINDER,
                key=reminder_key(lead, event.start_utc),
                state=State.SKIPPED,
            ).update(state=State.PENDING, due_at=due, last_error="", claimed_until=None)


# --- subscribers -----------------------------------------------------------------------------
def sync_subscriber(subscriber_id: int, now: dt.datetime | None = None) -> None:
    """Bring a subscriber's reminders in line with what they follow and their lead times."""
    now = now or timezone.now()
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return
    # Digests are checked when they go (notifications.digests); the rest is about one event.
    pending = Notification.objects.filter(subscriber=subscriber, state=State.PENDING).exclude(
        kind__in=(Kind.CONFIRMATION, Kind.DIGEST)
    )
    if subscriber.suppressed_at:
        pending.update(state=State.SKIPPED, last_error=suppressed_note(subscriber))
        return
    if not subscriber.active:
        pending.update(state=State.SKIPPED, last_error="Subscriber is not active.")
        return
    news.rehome(subscriber, now)
    followed = Event.objects.matching(subscriber.followed())
    pending.exclude(event__in=followed.values("pk")).update(
        state=State.SKIPPED, last_error="No longer followed."
    )
    if not subscriber.gets_reminders:
        pending.filter(kind=Kind.REMINDER).update(
            state=State.SKIPPED, last_error="Reminders are off while on a digest."
        )
        return
    events = list(followed.getting_reminders().filter(start_utc__gt=now - grace()))
    leads = set(subscriber.lead_times)
    pending.filter(kind=Kind.REMINDER).exclude(lead_minutes__in=leads).update(
        state=State.SKIPPED, last_error="Lead time no longer chosen."
    )
    for event in events:
        _create_reminders(event, {(subscriber.pk, lead) for lead in leads}, now)


def request_confirmation(subscriber: Subscriber, now: dt.datetime | None = None) -> Notification:
    """Queue the one mail an unconfirmed address may get: the confirmation link."""
    notification, _ = Notification.objects.get_or_create(
        subscriber=subscriber,
        event=None,
        kind=Kind.CONFIRMATION,
        key=f"confirm@{subscriber.link_nonce}",
        defaults={"due_at": now or timezone.now()},
    )
    return notification
