"""News of new events: whom a change to an event makes it new to, and how each is told.

An event is news to a subscriber when a change to the event makes one of their follows select
it: it is published, or gains a topic, actor, country or track they follow. Someone who starts
following something is not told of what it selects already, nor is anyone told of an event
they follow by name. Each subscriber is told of an event once, as they chose (`Subscriber.news`):
in an outbox row of its own, due after the change-notice delay (so an event published and then
edited within it makes one mail, showing it as it is then); in their next digest; or not at all.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ..models import (
    DIGESTS,
    AnnouncedSchedule,
    DigestItem,
    Event,
    Follows,
    News,
    Notification,
    Subscriber,
)
from .changes import schedule_of

Kind, State = Notification.Kind, Notification.State
NEWS_KEY = "news"
# The kinds of notice that tell a change to an event already known (held for a digest instead).
CHANGE_NOTICES = (Kind.RESCHEDULED, Kind.CANCELLED, Kind.DATE_ANNOUNCED)


def selection(event: Event) -> dict[str, list[Any]]:
    """Return what a follow must name to select the event as news: nothing while unpublished."""
    if not event.published:
        return {}
    target = event.followed_through()
    return {
        "topics": sorted(target.topics),
        "countries": sorted(target.countries),
        "actors": sorted(target.actors),
        "tracks": sorted(target.tracks),
    }


def _follows(data: dict[str, list[Any]], event: Event | None = None) -> Follows:
    return Follows(
        topics=data.get("topics", ()),
        countries=data.get("countries", ()),
        actors=data.get("actors", ()),
        tracks=data.get("tracks", ()),
        events=[event.pk] if event is not None else (),
    )


def told(event: Event) -> Q:
    """Match the subscribers told of *event* as news already, at once or in a digest."""
    return Q(
        Exists(
            Notification.objects.filter(
                subscriber=OuterRef("pk"), event=event, kind=Kind.NEWS, state=State.SENT
            )
        )
    ) | Q(
        Exists(
            DigestItem.objects.filter(
                subscriber=OuterRef("pk"),
                event=event,
                kind=DigestItem.Kind.NEWS,
                digest__isnull=False,
            )
        )
    )


def awaiting(event: Event) -> QuerySet[Subscriber]:
    """Return the subscribers whose news of *event* is still to go (it will show it as it is)."""
    pending = Notification.objects.filter(
        subscriber=OuterRef("pk"), event=event, kind=Kind.NEWS, state=State.PENDING
    )
    held = DigestItem.objects.filter(
        subscriber=OuterRef("pk"), event=event, kind=DigestItem.Kind.NEWS, digest__isnull=True
    )
    return Subscriber.objects.filter(Q(Exists(pending)) | Q(Exists(held)))


def notice(
    event: Event,
    current: dict[str, list[Any]],
    announced: AnnouncedSchedule | None,
    due: dt.datetime,
    now: dt.datetime,
) -> None:
    """Tell the subscribers the event's *current* selection selects and the one *announced*
    did not, each as they chose: a news mail due at *due*, or an item of their next digest.

    The caller then records *current* (`selection(event)`) on the announced schedule.
    """
    if not current:
        return  # unpublished: it is news to no one
    before: dict[str, list[Any]] = {}
    if announced is not None:
        if announced.followed is None:
            return  # first seen since news began: what it matches is not new
        before = announced.followed
    newly = (
        Subscriber.objects.active()
        .following_any(_follows(current))
        .exclude(pk__in=Subscriber.objects.following_any(_follows(before, event)).values("pk"))
        .exclude(told(event))
    )
    at_once = list(newly.filter(news=News.AT_ONCE).values_list("pk", flat=True))
    tell_at_once(event, at_once, due)
    hold(event, newly.filter(news__in=DIGESTS).values_list("pk", flat=True), now)


def tell_at_once(event: Event, subscriber_ids: list[int], due: dt.datetime) -> None:
    """Queue one news mail of *event* to each subscriber (one skipped before comes back)."""
    Notification.objects.bulk_create(
        [
            Notification(subscriber_id=pk, event=event, kind=Kind.NEWS, key=NEWS_KEY, due_at=due)
            for pk in subscriber_ids
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    # Skipped (unpublished, unfollowed) before it went: they were never told, so it may go now.
    Notification.objects.filter(
        subscriber_id__in=subscriber_ids, event=event, kind=Kind.NEWS, state=State.SKIPPED
    ).update(state=State.PENDING, due_at=due, last_error="", claimed_until=None)


def hold(event: Event, subscriber_ids: Iterable[int], now: dt.datetime) -> None:
    """Keep *event* as news for these subscribers' next digests."""
    DigestItem.objects.bulk_create(
        [
            DigestItem(subscriber_id=pk, event=event, kind=DigestItem.Kind.NEWS, held_at=now)
            for pk in subscriber_ids
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )


def hold_change(
    event: Event, subscriber_ids: Iterable[int], old: dict[str, Any], now: dt.datetime
) -> None:
    """Keep a change to *event* for these subscribers' next digests (a pending one stays first)."""
    DigestItem.objects.bulk_create(
        [
            DigestItem(
                subscriber_id=pk, event=event, kind=DigestItem.Kind.CHANGE, old=old, held_at=now
            )
            for pk in subscriber_ids
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )


def rehome(subscriber: Subscriber, now: dt.datetime | None = None) -> None:
    """Move what the subscriber is owed but not yet sent to where their choice now sends it.

    Onto a digest: news mails and change notices still pending become digest items. Off one:
    held news becomes news mails (at once) or is dropped (never); held changes become change
    notices, which every follower who is not on a digest gets.
    """
    now = now or timezone.now()
    if subscriber.on_digest:
        _hold_pending_mail(subscriber, now)
    else:
        _send_held_items(subscriber, now)


def _hold_pending_mail(subscriber: Subscriber, now: dt.datetime) -> None:
    pending = Notification.objects.filter(subscriber=subscriber, state=State.PENDING)
    for row in pending.filter(kind__in=(Kind.NEWS, *CHANGE_NOTICES)).select_related("event"):
        event = row.event
        if event is None:
            continue
        if row.kind == Kind.NEWS:
            hold(event, [subscriber.pk], row.created_at)
        else:
            hold_change(event, [subscriber.pk], row.payload.get("old", {}), row.created_at)
    pending.filter(kind=Kind.NEWS).update(
        state=State.SKIPPED, last_error="News now comes in a digest."
    )
    pending.filter(kind__in=CHANGE_NOTICES).update(
        state=State.SKIPPED, last_error="Changes now come in a digest."
    )


def _send_held_items(subscriber: Subscriber, now: dt.datetime) -> None:
    held = DigestItem.objects.filter(subscriber=subscriber, digest__isnull=True)
    if subscriber.news == News.AT_ONCE:
        for item in held.filter(kind=DigestItem.Kind.NEWS).select_related("event"):
            tell_at_once(item.event, [subscriber.pk], now)
    changes = held.filter(kind=DigestItem.Kind.CHANGE).select_related("event__place")
    Notification.objects.bulk_create(
        [
            Notification(
                subscriber=subscriber,
                event=item.event,
                kind=Kind.RESCHEDULED,
                key=f"changed@{item.event.sequence}",
                due_at=now,
                payload={"old": item.old, "new": schedule_of(item.event)},
            )
            for item in changes
        ],
        ignore_conflicts=True,
    )
    held.delete()
