"""The dispatcher: claim due outbox rows, check them again, send over one SMTP connection, mark.

Safe to run in several processes at once: rows are claimed with SELECT … FOR UPDATE SKIP LOCKED
and leased (state "sending" until `claimed_until`, renewed while the batch lasts), so no two
dispatchers send the same row. A row whose dispatcher died is taken up again at once when the
claimer's database session is gone (on PostgreSQL), else when its lease runs out. Each row is
marked the moment the server accepts its mail; if the database is unreachable at that moment,
the dispatcher keeps trying to record it rather than let another dispatcher send it again.
"""

import datetime as dt
import logging
import smtplib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from ..models import Event, News, Notification, sources_official_first
from . import digests, links, mail, scheduling
from .changes import schedule_changed
from .scheduling import grace

log = logging.getLogger(__name__)
Kind, State = Notification.Kind, Notification.State
LOST_DATABASE = (OperationalError, InterfaceError)


class TemporaryFailure(Exception):
    """The server may take the message later (4xx, a dropped connection)."""

    def __init__(self, detail: str, uncertain: bool = False) -> None:
        super().__init__(detail)
        # The connection dropped while the message was handed over: it may have been delivered.
        self.uncertain = uncertain


class PermanentFailure(Exception):
    """The server refused the message for good (5xx)."""


def skip_stale(now: dt.datetime) -> int:
    """Mark reminders due longer ago than the grace period skipped: never sent late."""
    # Only rows never tried: a retried row's due time is its next try, not its moment.
    return Notification.objects.filter(
        kind=Kind.REMINDER, state=State.PENDING, attempts=0, due_at__lt=now - grace()
    ).update(state=State.SKIPPED, last_error="Too late to remind.")


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


def abandoned_claims(now: dt.datetime) -> Q:
    """Match rows in "sending" whose dispatcher is gone: lease over, or (PostgreSQL) dead session.

    A session is dead when its backend no longer exists; after a restart of the database server
    every session is new, so rows claimed before it wait for their lease: their dispatcher may
    be alive and about to record what it sent.
    """
    abandoned = Q(state=State.SENDING, claimed_until__lt=now)
    if db_connection.vendor == "postgresql":
        abandoned |= (
            Q(state=State.SENDING, claimed_by__isnull=False)
            & ~Q(claimed_by__in=RawSQL("SELECT pid FROM pg_stat_activity", ()))
            & Q(claimed_at__gt=RawSQL("pg_postmaster_start_time()", ()))
        )
    return abandoned


def session_id() -> int | None:
    """Return this process's database session id (PostgreSQL backend pid), or None."""
    if db_connection.vendor != "postgresql":
        return None
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cast(int, cursor.fetchone()[0])


def claim(batch_size: int, now: dt.datetime, token: uuid.UUID | None = None) -> list[Notification]:
    """Take up to *batch_size* due rows for this dispatcher alone, and return them loaded."""
    token = token or uuid.uuid4()
    with transaction.atomic():
        due = Q(state=State.PENDING, due_at__lte=now) | abandoned_claims(now)
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        Notification.objects.filter(pk__in=ids).update(
            state=State.SENDING,
            claimed_until=now + lease(),
            claimed_at=now,
            claimed_by=session_id(),
            claim_token=token,
            attempts=F("attempts") + 1,
        )
    return list(
        Notification.objects.filter(pk__in=ids)
        .select_related("subscriber", "event", "event__place")
        .prefetch_related("event__topics", sources_official_first("event__sources"))
        .order_by("due_at", "pk")
    )


def renew(rows: list[Notification], token: uuid.UUID, now: dt.datetime) -> set[int]:
    """Extend the lease on *rows* this dispatcher still holds; return the ids it holds."""
    held = Notification.objects.filter(
        pk__in=[row.pk for row in rows], state=State.SENDING, claim_token=token
    )
    ids = set(held.values_list("pk", flat=True))
    held.filter(pk__in=ids).update(claimed_until=now + lease(), claimed_by=session_id())
    return ids


def reason_not_to_send(notification: Notification, now: dt.datetime) -> str:
    """Return why this row must not go out now (re-checked at send time), or ''."""
    subscriber, event = notification.subscriber, notification.event
    if subscriber.suppressed_at and not (
        # The one mail a suppressed address may get: a confirmation it asked for since.
        notification.kind == Kind.CONFIRMATION
        and notification.created_at > subscriber.suppressed_at
    ):
        return scheduling.suppressed_note(subscriber)
    if notification.kind == Kind.CONFIRMATION:
        return "Already confirmed." if subscriber.confirmed_at else ""
    if not subscriber.active:
        return "Subscriber is not active."
    if notification.kind == Kind.DIGEST:
        return digests.reason_not_to_send(notification, now)
    if event is None or not event.published:
        return "Event is no longer published."
    if notification.kind == Kind.NEWS:
        if subscriber.news != News.AT_ONCE:
            return "The subscriber no longer takes news at once."
        if not Event.objects.matching(subscriber.followed()).filter(pk=event.pk).exists():
            return "No longer followed."
    if notification.kind == Kind.REMINDER:
        if not subscriber.gets_reminders:
            return "Reminders are off while on a digest."
        if not event.gets_reminders:
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
        if not schedule_changed(old, new):
            return "Changed back before the notice went out."
        if event.status == Event.Status.CANCELLED:
            return "Superseded by the cancellation."
    if notification.kind == Kind.DATE_ANNOUNCED and not event.is_calendar_dated:
        return "The date is no longer known."
    return ""


def send(connection: BaseEmailBackend, notification: Notification) -> None:
    """Send one row's email, raising TemporaryFailure or PermanentFailure."""
    # Building stores the mail's link token: like every write here, it outlasts a database restart.
    message = _persist(lambda: mail.build(notification))
    if getattr(connection, "connection", False) is None:
        try:
            connection.open()  # kept open across messages; send_messages would open and close one
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            connection.close()
            detail = f"Could not connect: {error.__class__.__name__}: {error}"
            raise TemporaryFailure(detail) from error
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
        raise TemporaryFailure(
            f"Connection lost while handing over the message ({error.__class__.__name__}: "
            f"{error}); it may have been delivered. The retry carries the same Message-ID.",
            uncertain=True,
        ) from error


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=settings.SEND_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def dispatch_due(
    batch_size: int | None = None, now: dt.datetime | None = None, max_batches: int = 1000
) -> Counter[str]:
    """Send every due row, batch by batch, over one reused connection; return counts by outcome."""
    batch_size = batch_size or settings.DISPATCH_BATCH_SIZE
    outcomes: Counter[str] = Counter()
    scheduling.sync_changed_events(now=now)
    outcomes["skipped"] += skip_stale(now or timezone.now())
    connection = get_connection(fail_silently=False)
    token = uuid.uuid4()
    relaxed = _relax_commits()
    try:
        for _ in range(max_batches):
            rows = claim(batch_size, now or timezone.now(), token)
            if not rows:
                break
            _send_batch(connection, rows, token, now, outcomes)
    finally:
        connection.close()
        if relaxed:
            _persist(_restore_commits)
    return outcomes


def _send_batch(
    connection: BaseEmailBackend,
    rows: list[Notification],
    token: uuid.UUID,
    now: dt.datetime | None,
    outcomes: Counter[str],
) -> None:
    renew_every = settings.DISPATCH_LEASE_SECONDS / 2
    renewed = time.monotonic()
    held = {row.pk for row in rows}
    _issue_link_tokens(rows)
    digests.prepare(rows, now or timezone.now())
    unsent: list[str] = []
    for row in rows:
        if time.monotonic() - renewed > renew_every:
            held = _persist(lambda: renew(rows, token, now or timezone.now()))
            renewed = time.monotonic()
        if row.pk not in held:
            outcome = "lost"  # our lease ran out and another dispatcher took the row
        else:
            outcome = _deliver(connection, row, now or timezone.now())
            outcomes[outcome] += 1
        if outcome in ("lost", "skipped") and getattr(row, "link_token", None):
            unsent.append(row.link_token)
    if unsent:
        _persist(lambda: links.forget(unsent))


def _issue_link_tokens(rows: list[Notification]) -> None:
    """Give each mail of the batch its link token, in one write (confirmations make their own)."""
    personal = [row for row in rows if row.kind != Kind.CONFIRMATION]
    tokens = _persist(lambda: links.issue_many([row.subscriber for row in personal]))
    for row, link_token in zip(personal, tokens, strict=True):
        row.link_token = link_token


_T = TypeVar("_T")


def _persist(operation: Callable[[], _T]) -> _T:
    """Run a database write, retrying while the database is unreachable (a restart)."""
    deadline = time.monotonic() + settings.DISPATCH_MARK_RETRY_SECONDS
    pause = 0.1
    while True:
        try:
            return operation()
        except LOST_DATABASE:
            if time.monotonic() > deadline:
                raise
            log.warning("Database unreachable; retrying in %.1f s", pause, exc_info=True)
            db_connection.close()  # the next query connects afresh
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


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


def _deliver(connection: BaseEmailBackend, row: Notification, now: dt.datetime) -> str:
    reason = reason_not_to_send(row, now)
    if reason:
        _persist(lambda: _finish(row, State.SKIPPED, error=reason))
        return "skipped"
    try:
        send(connection, row)
    except (PermanentFailure, TemplateDoesNotExist, TemplateSyntaxError, ValueError) as error:
        reason = str(error)
        _persist(lambda: _finish(row, State.FAILED, error=reason))
        return "failed"
    except TemporaryFailure as error:
        failure = error
        if row.attempts >= settings.SEND_MAX_ATTEMPTS:
            reason = f"Gave up after {row.attempts} attempts: {failure}"
            _persist(lambda: _finish(row, State.FAILED, reason, uncertain=failure.uncertain))
            return "failed"
        _persist(lambda: _retry_later(row, now, failure))
        return "retry"
    _persist(lambda: _finish(row, State.SENT))
    return "sent"


def _retry_later(row: Notification, now: dt.datetime, error: TemporaryFailure) -> None:
    Notification.objects.filter(pk=row.pk, state=State.SENDING).update(
        state=State.PENDING,
        due_at=now + retry_delay(row.attempts),
        claimed_until=None,
        claim_token=None,
        claimed_by=None,
        last_error=str(error)[:2000],
        uncertain_attempts=F("uncertain_attempts") + int(error.uncertain),
    )


def _finish(row: Notification, state: str, error: str = "", uncertain: bool = False) -> None:
    changes: dict[str, Any] = {
        "state": state,
        "claimed_until": None,
        "claim_token": None,
        "claimed_by": None,
    }
    if state == State.SENT:
        changes["sent_at"] = timezone.now()  # an earlier try's error stays on record
    else:
        changes["last_error"] = error[:2000]
    if uncertain:
        changes["uncertain_attempts"] = F("uncertain_attempts") + 1
    if row.kind == Kind.DIGEST:
        digests.mark(row, state, changes)
    else:
        Notification.objects.filter(pk=row.pk).update(**changes)
