"""Digests: one mail a day or a week, for those who chose one, of what is new, what changed and
what is coming up among what they follow.

When. A daily digest is due every day at the subscriber's `digest_time` on their own clock
(`Subscriber.timezone`); a weekly one on their `digest_weekday` only. On a day whose clocks skip
that time (spring forward) it comes as far past the skip as the time was into it (02:30 is then
03:30); on a day whose clocks pass it twice (fall back), at the first pass: zoneinfo's `fold=0`
either way. So every local day (ISO week) has exactly one digest moment, and its outbox row's
key names that day or week ("daily:2026-03-29", "weekly:2026-W13"): the unique constraint on
eventless rows keeps it to one row, hence one digest, per subscriber and period. `create_due`
makes the rows of the digests due, in a few set-based queries, as often as beat runs it; the
dispatcher sends them like every other row. A digest still unsent when the next one falls due
is skipped: what it held goes in the next.

What. Worked out when the row is sent (so a row taken up again after a crash sends the same
digest): the news and changes held for the subscriber (notifications.news) at least the
change-notice delay ago, of events still published and followed; and the followed events going
ahead that start between this digest's moment and the next one's. A change is told from what
the subscriber was last told to what the event is then, as change notices are; one that came
back to where it was is dropped. Nothing to tell: no mail (the row is skipped). The items a
digest tells are marked told by it in the transaction that marks it sent, so each item is in
exactly one digest.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    Value,
    When,
    prefetch_related_objects,
)
from django.utils import timezone

from .. import timing
from ..models import DIGESTS, DigestItem, Event, News, Notification, Subscriber
from .changes import schedule_changed, schedule_of
from .scheduling import debounce

Kind, State = Notification.Kind, Notification.State


# --- when ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """One digest's period: its key, its moment (UTC) and the next digest's moment."""

    key: str
    start: dt.datetime
    end: dt.datetime


def moment(day: dt.date, at: dt.time, zone_name: str) -> dt.datetime:
    """Return the UTC instant of a digest on local *day* at *at* (see the module's DST rule)."""
    return dt.datetime.combine(day, at, tzinfo=timing.zone(zone_name)).astimezone(dt.UTC)


def latest(frequency: str, at: dt.time, weekday: int, zone_name: str, now: dt.datetime) -> Period:
    """Return the latest period of this digest schedule to have begun by *now*."""
    today = now.astimezone(timing.zone(zone_name)).date()
    if frequency == News.DAILY:
        day = today if moment(today, at, zone_name) <= now else today - dt.timedelta(days=1)
        key, step = f"daily:{day.isoformat()}", dt.timedelta(days=1)
    else:
        day = today - dt.timedelta(days=(today.weekday() - weekday) % 7)
        if moment(day, at, zone_name) > now:
            day -= dt.timedelta(days=7)
        year, week, _ = day.isocalendar()
        key, step = f"weekly:{year}-W{week:02d}", dt.timedelta(days=7)
    return Period(key, moment(day, at, zone_name), moment(day + step, at, zone_name))


def period_of(row: Notification) -> Period:
    """Return the period a digest row was made for."""
    return Period(
        row.key,
        dt.datetime.fromisoformat(row.payload["start"]),
        dt.datetime.fromisoformat(row.payload["end"]),
    )


def frequency_of(row: Notification) -> str:
    return row.key.partition(":")[0]


def create_due(now: dt.datetime | None = None) -> int:
    """Create the outbox row of every digest due by *now* that has none yet; return how many.

    Set-based and idempotent: one query for the schedules in use, one for the subscribers whose
    latest period has no row, one bulk insert that ignores conflicts (two beats at once, a run
    repeated after a lost message: the unique constraint keeps one row per period).
    """
    now = now or timezone.now()
    subscribers = Subscriber.objects.active().filter(news__in=DIGESTS).order_by()
    periods: dict[tuple[str, dt.time, int, str], Period] = {}
    for frequency, at, weekday, zone_name in subscribers.values_list(
        "news", "digest_time", "digest_weekday", "timezone"
    ).distinct():
        weekday = weekday if frequency == News.WEEKLY else 0
        periods[(frequency, at, weekday, zone_name)] = latest(
            frequency, at, weekday, zone_name, now
        )
    if not periods:
        return 0
    whens = [
        (
            Q(news=frequency, digest_time=at, timezone=zone_name)
            & (Q(digest_weekday=weekday) if frequency == News.WEEKLY else Q()),
            period,
        )
        for (frequency, at, weekday, zone_name), period in periods.items()
    ]
    due = (
        subscribers.annotate(
            digest_key=SqlCase(
                *[When(condition, then=Value(p.key)) for condition, p in whens],
                output_field=CharField(),
            ),
            digest_at=SqlCase(
                *[When(condition, then=Value(p.start)) for condition, p in whens],
                output_field=DateTimeField(),
            ),
        )
        # A choice made after the moment (a new subscriber, a new time) waits for the next.
        .filter(digest_since__lte=F("digest_at"))
        .exclude(
            Exists(
                Notification.objects.filter(
                    subscriber=OuterRef("pk"),
                    event__isnull=True,
                    kind=Kind.DIGEST,
                    key=OuterRef("digest_key"),
                )
            )
        )
        .values_list("pk", "news", "digest_time", "digest_weekday", "timezone")
    )
    rows = []
    for pk, frequency, at, weekday, zone_name in due:
        weekday = weekday if frequency == News.WEEKLY else 0
        period = periods[(frequency, at, weekday, zone_name)]
        rows.append(
            Notification(
                subscriber_id=pk,
                kind=Kind.DIGEST,
                key=period.key,
                due_at=period.start,
                payload={"start": period.start.isoformat(), "end": period.end.isoformat()},
            )
        )
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(created)


# --- what ------------------------------------------------------------------------------------
@dataclass
class Digest:
    """What one digest tells, and what sending it settles."""

    period: Period
    added: list[Event] = field(default_factory=list)
    changed: list[tuple[Event, dict[str, object]]] = field(default_factory=list)
    upcoming: list[Event] = field(default_factory=list)
    told: list[int] = field(default_factory=list)  # items it tells: marked told by it once sent
    dropped: list[int] = field(default_factory=list)  # items no longer worth telling

    @property
    def empty(self) -> bool:
        """Tell whether there is nothing to say (then no mail goes)."""
        return not (self.added or self.changed or self.upcoming)


def prepare(rows: Iterable[Notification], now: dt.datetime) -> None:
    """Work out the digests among a batch of rows (each row's `digest`), in a few queries.

    Subscribers who follow the same things share one query for their events.
    """
    rows = [row for row in rows if row.kind == Kind.DIGEST]
    if not rows:
        return
    subscribers = [row.subscriber for row in rows]
    prefetch_related_objects(subscribers, "follows")
    held: dict[int, list[DigestItem]] = defaultdict(list)
    for item in DigestItem.objects.filter(
        subscriber__in=subscribers, digest__isnull=True, held_at__lte=now - debounce()
    ).order_by("held_at", "pk"):
        held[item.subscriber_id].append(item)
    groups: dict[tuple[object, ...], list[Notification]] = defaultdict(list)
    for row in rows:
        key = tuple(tuple(sorted(part)) for part in astuple(row.subscriber.followed()))
        groups[key].append(row)
    for group in groups.values():
        follows = group[0].subscriber.followed()
        named = {item.event_id for row in group for item in held[row.subscriber_id]}
        windows = Q(pk__in=[])
        for start, end in {(period.start, period.end) for period in map(period_of, group)}:
            windows |= Q(start_utc__gte=start, start_utc__lt=end)
        going_ahead = Event.objects.getting_reminders().filter(windows).values("pk")
        events = {
            event.pk: event
            for event in Event.objects.published()
            .matching(follows)
            .filter(Q(pk__in=named) | Q(pk__in=going_ahead))
            .select_related("place")
            .order_by("start_utc", "pk")
        }
        for row in group:
            row.digest = _assemble(period_of(row), held[row.subscriber_id], events)


def _assemble(period: Period, items: list[DigestItem], events: dict[int, Event]) -> Digest:
    digest = Digest(period)
    news = [item for item in items if item.kind == DigestItem.Kind.NEWS]
    for item in news:
        event = events.get(item.event_id)
        if event is None:  # unpublished or no longer followed since
            digest.dropped.append(item.pk)
        else:
            digest.added.append(event)
            digest.told.append(item.pk)
    new = {event.pk for event in digest.added}
    for item in items:
        if item.kind != DigestItem.Kind.CHANGE:
            continue
        event = events.get(item.event_id)
        if event is None or (item.old and not schedule_changed(item.old, schedule_of(event))):
            digest.dropped.append(item.pk)  # gone, or back as it was
        elif event.pk in new:
            digest.told.append(item.pk)  # told as it is now, among the new
        else:
            digest.changed.append((event, item.old or {}))
            digest.told.append(item.pk)
    digest.added.sort(key=lambda event: (event.start_utc, event.pk))
    digest.changed.sort(key=lambda change: (change[0].start_utc, change[0].pk))
    digest.upcoming = [
        event
        for event in events.values()
        if event.gets_reminders and period.start <= event.start_utc < period.end
    ]
    return digest


def content_of(row: Notification, now: dt.datetime | None = None) -> Digest:
    """Return what a digest row tells, working it out if the dispatcher has not."""
    if getattr(row, "digest", None) is None:
        prepare([row], now or timezone.now())
    digest: Digest = row.digest
    return digest


def reason_not_to_send(row: Notification, now: dt.datetime) -> str:
    """Return why a digest must not go out now (checked when it is sent), or ''."""
    if row.subscriber.news != frequency_of(row):
        reason = "The subscriber no longer takes this digest."
    elif now >= period_of(row).end:
        reason = "Too late: the next digest is due."
    else:
        reason = ""
    if reason:
        row.digest = None  # not made: what it would have told or dropped waits for the next
        return reason
    if content_of(row, now).empty:
        return "Nothing to tell."
    return ""


def mark(row: Notification, state: str, changes: dict[str, Any]) -> None:
    """Mark a digest row with *changes* and, if it was sent, what it told as told by it, in one
    transaction; forget what it found no longer worth telling."""
    digest: Digest | None = getattr(row, "digest", None)
    told = digest.told if digest is not None and state == State.SENT else []
    if not told:
        # One statement is its own transaction: no BEGIN and COMMIT round trips around it.
        Notification.objects.filter(pk=row.pk).update(**changes)
    elif connection.vendor == "postgresql":
        _mark_sent(row, told, changes["sent_at"])
    else:
        with transaction.atomic():
            Notification.objects.filter(pk=row.pk).update(**changes)
            DigestItem.objects.filter(pk__in=told, digest__isnull=True).update(digest=row)
    if digest is not None and digest.dropped and state in (State.SENT, State.SKIPPED):
        DigestItem.objects.filter(pk__in=digest.dropped, digest__isnull=True).delete()


def _mark_sent(row: Notification, told: list[int], sent_at: dt.datetime) -> None:
    # One statement, so one round trip as for every other row: a transaction of two updates
    # and a commit made sending digests half again as slow (see `make bench-dispatch`).
    items, rows = DigestItem._meta.db_table, Notification._meta.db_table
    # The table names come from the models, never from input.
    sql = (
        f"WITH told AS (UPDATE {items} SET digest_id = %s "  # noqa: S608  # nosec B608
        "WHERE id = ANY(%s) AND digest_id IS NULL) "
        f"UPDATE {rows} SET state = %s, sent_at = %s, claimed_until = NULL, "
        "claim_token = NULL, claimed_by = NULL WHERE id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [row.pk, told, State.SENT, sent_at, row.pk])
