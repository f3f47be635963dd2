"""The dispatcher: claim due outbox rows, check them again, send over one SMTP connection, mark.

Safe to run in several processes at once: rows are claimed with SELECT … FOR UPDATE SKIP LOCKED
and leased (state "sending" until `claimed_until`), so no two dispatchers send the same row; a row
whose dispatcher died is taken up again when its lease runs out.
"""

import datetime as dt
import logging
import smtplib
from collections import Counter

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from .. import timing
from ..models import Event, Notification
from . import mail, scheduling
from .scheduling import grace, is_remindable

log = logging.getLogger(__name__)
Kind, State = Notification.Kind, Notification.State
LEASE = dt.timedelta(minutes=5)


class TemporaryFailure(Exception):
    """The server may take the message later (4xx, a dropped connection)."""


class PermanentFailure(Exception):
    """The server refused the message for good (5xx)."""


def skip_stale(now: dt.datetime) -> int:
    """Mark reminders due longer ago than the grace period skipped: never sent late."""
    # Only rows never tried: a retried row's due time is its next try, not its moment.
    return Notification.objects.filter(
        kind=Kind.REMINDER, state=State.PENDING, attempts=0, due_at__lt=now - grace()
    ).update(state=State.SKIPPED, last_error="Too late to remind.")


def claim(batch_size: int, now: dt.datetime) -> list[Notification]:
    """Take up to *batch_size* due rows for this dispatcher alone, and return them loaded."""
    with transaction.atomic():
        due = Q(state=State.PENDING, due_at__lte=now) | Q(
            state=State.SENDING, claimed_until__lt=now
        )
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        Notification.objects.filter(pk__in=ids).update(
            state=State.SENDING, claimed_until=now + LEASE, attempts=F("attempts") + 1
        )
    return list(
        Notification.objects.filter(pk__in=ids)
        .select_related("subscriber", "event", "event__place")
        .prefetch_related("event__topics", "event__sources")
        .order_by("due_at", "pk")
    )


def reason_not_to_send(notification: Notification, now: dt.datetime) -> str:
    """Return why this row must not go out now (re-checked at send time), or ''."""
    subscriber, event = notification.subscriber, notification.event
    if notification.kind == Kind.CONFIRMATION:
        return "Already confirmed." if subscriber.confirmed_at else ""
    if not subscriber.active:
        return "Subscriber is not active."
    if event is None or not event.published:
        return "Event is no longer published."
    if notification.kind == Kind.REMINDER:
        if not is_remindable(event):
            return f"Event is {event.get_status_display().lower()}."
        if notification.payload.get("start_utc") != event.start_utc.isoformat():
            return "Event has moved since this reminder was scheduled."
        if notification.lead_minutes and event.start_utc <= now:
            return "Event has already started."
        scheduled = event.start_utc - dt.timedelta(minutes=notification.lead_minutes or 0)
        if now > scheduled + grace():
            return "Too late to remind."
    if notification.kind == Kind.RESCHEDULED:
        old, new = notification.payload.get("old", {}), notification.payload.get("new", {})
        if all(old.get(k) == new.get(k) for k in ("start_utc", "end_utc", "place", "status")):
            return "Changed back before the notice went out."
        if event.status == Event.Status.CANCELLED:
            return "Superseded by the cancellation."
    if notification.kind == Kind.DATE_ANNOUNCED and event.precision in timing.COARSER_THAN_DAY:
        return "The date is no longer known."
    return ""


def send(connection, notification: Notification) -> None:
    """Send one row's email, raising TemporaryFailure or PermanentFailure."""
    message = mail.build(notification)
    if getattr(connection, "connection", False) is None:
        connection.open()  # kept open across messages; send_messages would open and close one
    try:
        connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _text in error.recipients.values()]
        detail = "; ".join(f"{code} {text!r}" for code, text in error.recipients.values())
        raise (PermanentFailure if min(codes) >= 500 else TemporaryFailure)(detail) from error
    except smtplib.SMTPResponseException as error:
        detail = f"{error.smtp_code} {error.smtp_error!r}"
        raise (PermanentFailure if error.smtp_code >= 500 else TemporaryFailure)(detail) from error
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        connection.close()  # reopened for the next message
        raise TemporaryFailure(f"{error.__class__.__name__}: {error}") from error


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=settings.SEND_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def dispatch_due(
    batch_size: int | None = None, now: dt.datetime | None = None, max_batches: int = 1000
) -> Counter:
    """Send every due row, batch by batch, over one reused connection; return counts by outcome."""
    batch_size = batch_size or settings.DISPATCH_BATCH_SIZE
    outcomes: Counter = Counter()
    scheduling.sync_changed_events(now=now)
    outcomes["skipped"] += skip_stale(now or timezone.now())
    connection = get_connection(fail_silently=False)
    relaxed = _relax_commits()
    try:
        for _ in range(max_batches):
            moment = now or timezone.now()
            rows = claim(batch_size, moment)
            if not rows:
                break
            for row in rows:
                outcomes[_deliver(connection, row, moment)] += 1
    finally:
        connection.close()
        if relaxed:
            _restore_commits()
    return outcomes


def _relax_commits() -> bool:
    """Stop waiting for the disk flush of each commit while this dispatcher runs (PostgreSQL).

    Each row is marked the moment its mail is accepted, so a killed dispatcher leaves at most
    the one message in flight to send again; not waiting for every such commit to reach the disk
    keeps that cheap. A clean restart of the server still writes them all; only a crash of the
    database server itself could forget the last instant's marks (and so resend those).
    """
    if db_connection.vendor != "postgresql":
        return False
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    return True


def _restore_commits() -> None:
    with db_connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")


def _deliver(connection, row: Notification, now: dt.datetime) -> str:
    reason = reason_not_to_send(row, now)
    if reason:
        _finish(row, State.SKIPPED, error=reason)
        return "skipped"
    try:
        send(connection, row)
    except (PermanentFailure, TemplateDoesNotExist, TemplateSyntaxError, ValueError) as error:
        _finish(row, State.FAILED, error=str(error))
        return "failed"
    except TemporaryFailure as error:
        if row.attempts >= settings.SEND_MAX_ATTEMPTS:
            _finish(row, State.FAILED, error=f"Gave up after {row.attempts} attempts: {error}")
            return "failed"
        Notification.objects.filter(pk=row.pk, state=State.SENDING).update(
            state=State.PENDING,
            due_at=now + retry_delay(row.attempts),
            claimed_until=None,
            last_error=str(error)[:2000],
        )
        return "retry"
    _finish(row, State.SENT)
    return "sent"


def _finish(row: Notification, state: str, error: str = "") -> None:
    changes = {"state": state, "claimed_until": None}
    if state == State.SENT:
        changes["sent_at"] = timezone.now()  # an earlier try's error stays on record
    else:
        changes["last_error"] = error[:2000]
    Notification.objects.filter(pk=row.pk).update(**changes)
