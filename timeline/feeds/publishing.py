"""Publish calendar feeds: select events, assemble cached VEVENT fragments, store bytes + ETag."""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_countries import countries

from .. import l10n, languages, timing
from ..models import (
    Actor,
    Event,
    EventFragment,
    EventQuerySet,
    Feed,
    FeedMembership,
    Follows,
    PrivateFeed,
    Topic,
    Track,
)
from . import ical
from . import store as feed_store

# Bump when the rendering of a VEVENT changes, so every cached fragment is redrawn.
RENDER_VERSION = "3"
ICAL_STATUS: dict[str, str] = {
    Event.Status.TENTATIVE: "TENTATIVE",
    Event.Status.POSTPONED: "TENTATIVE",
    Event.Status.CONFIRMED: "CONFIRMED",
    Event.Status.COMPLETED: "CONFIRMED",
    Event.Status.CANCELLED: "CANCELLED",
}


# Calendars are written in one language for now, whoever's request publishes them: the stored
# bytes and the cached VEVENTs are shared by every reader.
FEED_LANGUAGE = languages.DEFAULT


class FeedNotFound(LookupError):
    """No feed answers to this key (unknown topic, revoked private feed, …)."""


@dataclass(frozen=True)
class FeedSpec:
    """What a feed key stands for: its title, path and which events it selects."""

    key: str
    title: str
    description: str
    path: str
    selection: EventQuerySet


@dataclass(frozen=True)
class LabelFeed:
    """The public feeds of one kind of label: one per topic, track or actor in use."""

    model: type[Topic | Track | Actor]
    plural: str  # the feed's folder
    describe: Callable[[str], str]
    follows: Callable[[int], Follows]  # what following one such label selects

    def find(self, slug: str) -> Topic | Track | Actor | None:
        return self.model.objects.filter(slug=slug).first()

    def slugs(self) -> list[str]:
        return list(self.model.objects.in_use().values_list("slug", flat=True))


LABEL_FEEDS = {
    "topic": LabelFeed(
        Topic,
        "topics",
        lambda name: _("Events about %(topic)s.") % {"topic": name.lower()},
        lambda pk: Follows(topics=[pk]),
    ),
    "track": LabelFeed(
        Track,
        "tracks",
        lambda name: _("Milestones and events of %(track)s.") % {"track": name},
        lambda pk: Follows(tracks=[pk]),
    ),
    "actor": LabelFeed(
        Actor,
        "actors",
        lambda name: _("Events with %(actor)s.") % {"actor": name},
        lambda pk: Follows(actors=[pk]),
    ),
}


# --- which feeds exist -----------------------------------------------------------------------
def spec(key: str) -> FeedSpec:
    """Return the spec of a feed key, or raise FeedNotFound."""
    kind, _colon, value = key.partition(":")
    if key == "all":
        return FeedSpec(
            key,
            settings.SITE_NAME,
            _("Every dated event of the Kazakhstan–Russia relationship, with sources."),
            "/feeds/all.ics",
            Event.objects.all(),
        )
    if kind in LABEL_FEEDS and (label := LABEL_FEEDS[kind].find(value)):
        feed = LABEL_FEEDS[kind]
        return FeedSpec(
            key,
            f"{settings.SITE_NAME}: {label.name}",
            feed.describe(label.name),
            f"/feeds/{feed.plural}/{value}.ics",
            Event.objects.matching(feed.follows(label.pk)),
        )
    if kind == "country" and value in countries and value == value.upper():
        name = countries.name(value)
        return FeedSpec(
            key,
            f"{settings.SITE_NAME}: {name}",
            _("Events involving %(country)s.") % {"country": name},
            f"/feeds/countries/{value}.ics",
            Event.objects.matching(Follows(countries=[value])),
        )
    if kind == "private" and value.isdigit():
        private = PrivateFeed.objects.filter(pk=int(value), is_active=True).first()
        if private:
            return FeedSpec(
                key,
                f"{settings.SITE_NAME}: {private.name}",
                _("A personal selection of events."),
                "",  # the path holds the secret token, which is not stored
                Event.objects.matching(private.followed()),
            )
    raise FeedNotFound(key)


def public_keys() -> list[str]:
    """Return the key of every public feed worth listing."""
    return [
        "all",
        *(f"topic:{slug}" for slug in LABEL_FEEDS["topic"].slugs()),
        *(f"country:{code}" for code in sorted(Event.objects.published().country_codes())),
        *(f"track:{slug}" for slug in LABEL_FEEDS["track"].slugs()),
        *(f"actor:{slug}" for slug in LABEL_FEEDS["actor"].slugs()),
    ]


def all_keys() -> list[str]:
    """Return every feed key, public and private."""
    private = PrivateFeed.objects.filter(is_active=True).values_list("pk", flat=True)
    return [*public_keys(), *(f"private:{pk}" for pk in private)]


def keys_for_events(event_ids: Iterable[int]) -> set[str]:
    """Return the feeds these events are in now, or belong in after a change."""
    event_ids = list(event_ids)
    keys = set(Feed.objects.filter(events__in=event_ids).values_list("key", flat=True))
    events = (
        Event.objects.in_calendars()
        .filter(pk__in=event_ids)
        .select_related("track")
        .prefetch_related("topics", "participants")
    )
    for event in events:
        keys.add("all")
        keys.update(f"topic:{topic.slug}" for topic in event.topics.all())
        keys.update(f"country:{country.code}" for country in event.countries)
        keys.update(f"actor:{actor.slug}" for actor in event.participants.all())
        if event.track:
            keys.add(f"track:{event.track.slug}")
        private = PrivateFeed.objects.including(event).values_list("pk", flat=True)
        keys.update(f"private:{pk}" for pk in private)
    return keys


# --- which events go in ----------------------------------------------------------------------
def window_start(now: dt.datetime | None = None) -> dt.datetime:
    """Return the earliest end an event may have to stay in feeds."""
    return (now or timezone.now()) - dt.timedelta(days=settings.FEED_WINDOW_DAYS)


def feed_events(selection: EventQuerySet, now: dt.datetime | None = None) -> QuerySet[Event]:
    """Return the events of a feed (those of *selection* that calendars hold), in a stable order."""
    cutoff = window_start(now)
    return (
        selection.in_calendars()
        .filter(Q(end_utc__gte=cutoff) | Q(end_utc__isnull=True, start_utc__gte=cutoff))
        .order_by("start_utc", "uid")
    )


# --- rendering -------------------------------------------------------------------------------
def refresh_interval() -> dt.timedelta:
    return dt.timedelta(minutes=settings.FEED_REFRESH_MINUTES)


def render_key() -> str:
    """Return what, besides an event, a cached VEVENT depends on."""
    return f"{RENDER_VERSION}|{settings.SITE_URL}"


def zone_spans(events: QuerySet[Event]) -> dict[str, tuple[dt.date, dt.date]]:
    """Return, per time zone of the timed events, the local dates its VTIMEZONE must cover."""
    rows = (
        events.filter(precision=timing.MINUTE)
        .order_by()
        .values("zone")
        .annotate(first=Min("start_date"), last=Max(Coalesce("end_date", "start_date")))
        .values_list("zone", "first", "last")
    )
    return {name: (first, last) for name, first, last in rows if name != "UTC"}


def cached_pieces(
    revisions: dict[int, int], events: QuerySet[Event]
) -> dict[int, feed_store.Piece]:
    """Return the VEVENT of each of these events (a subset of *events*), cached or rendered now."""
    key = render_key()
    pieces: dict[int, tuple[int, bytes]] = {}
    cached = EventFragment.objects.filter(event__in=events.values("pk"))
    if len(revisions) < 5000:
        cached = cached.filter(event_id__in=list(revisions))
    for event_id, version, body in cached.values_list("event_id", "version", "body"):
        if event_id in revisions and version == f"{key}|{revisions[event_id]}":
            pieces[event_id] = (revisions[event_id], bytes(body))
    stale = [event_id for event_id in revisions if event_id not in pieces]
    if stale and not pieces and len(stale) == events.count():
        # Cold: render straight from the feed's own query rather than a long list of ids.
        _render_into(pieces, events, key)
    elif stale:
        _render_into(pieces, Event.objects.filter(pk__in=stale), key)
    packed = feed_store.deflate_blocks([body for _revision, body in pieces.values()])
    return {
        event_id: (revision, body, deflated)
        for (event_id, (revision, body)), deflated in zip(pieces.items(), packed, strict=True)
        if event_id in revisions
    }


def _render_into(pieces: dict[int, tuple[int, bytes]], events: QuerySet[Event], key: str) -> None:
    """Render *events* into *pieces* (id -> (revision, body)) and cache what was rendered."""
    rendered = []
    chosen = events.select_related("place").prefetch_related("topics", "sources")
    for event in chosen.iterator(chunk_size=2000):
        body = ical.render_event(calendar_event(event))
        pieces[event.pk] = (event.revision, body)
        rendered.append(
            EventFragment(event_id=event.pk, version=f"{key}|{event.revision}", body=body)
        )
    EventFragment.objects.bulk_create(
        rendered,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["event"],
        update_fields=["version", "body"],
    )


def feed_meta(feed_spec: FeedSpec, zones: dict[str, tuple[dt.date, dt.date]]) -> ical.CalendarMeta:
    url = settings.SITE_URL + (feed_spec.path or "/feeds/")
    return ical.CalendarMeta(
        name=feed_spec.title,
        description=feed_spec.description,
        url=url,
        source=url,
        refresh=refresh_interval(),
        zones=zones,
    )


def calendar_event(event: Event) -> ical.CalendarEvent:
    """Return the calendar view of an event (place, topics and sources prefetched)."""
    zone_name = event.effective_timezone
    if event.precision == timing.DAY:
        start: dt.date | dt.datetime = event.start_date
        end: dt.date | dt.datetime | None = (event.end_date or event.start_date) + dt.timedelta(
            days=1
        )
    else:
        tz = timing.zone(zone_name)
        start = event.start_utc.astimezone(tz)
        end = event.end_utc.astimezone(tz) if event.end_utc else None
    title = event.title
    if event.status == Event.Status.CANCELLED:
        title = _("Cancelled: %(title)s") % {"title": title}
    elif event.status == Event.Status.POSTPONED:
        title = _("Postponed: %(title)s") % {"title": title}
    place = event.place
    page = settings.SITE_URL + event.get_absolute_url()
    return ical.CalendarEvent(
        uid=str(event.uid),
        sequence=event.sequence,
        summary=title,
        status=ICAL_STATUS[event.status],
        start=start,
        end=end,
        timezone=zone_name,
        created=event.created_at,
        last_modified=event.updated_at,
        description=describe_event(event, page),
        location=f"{place.name}, {place.country.name}" if place else "",
        # Place.clean requires both coordinates or neither.
        geo=(float(place.latitude), float(cast(Decimal, place.longitude)))
        if place and place.latitude is not None
        else None,
        url=page,
        categories=(event.get_kind_display(), *(topic.name for topic in event.topics.all())),
    )


def describe_event(event: Event, page: str, language: str = languages.ENGLISH) -> str:
    """Return the DESCRIPTION text: summary, description, and every source with its URL."""
    parts = [text for text in (event.summary, event.description) if text]
    sources = list(event.sources.all())
    if sources:
        lines = [
            f"- {s.publisher}, {l10n.date(s.published_on, language)}: {s.url}" for s in sources
        ]
        parts.append(_("Sources:") + "\n" + "\n".join(lines))
    parts.append(page)
    return "\n\n".join(parts)


def render_single(event: Event, language: str = FEED_LANGUAGE) -> bytes:
    """Return a calendar holding one event in *language* (place, topics and sources prefetched)."""
    with translation.override(language):
        entry = calendar_event(event)
        url = settings.SITE_URL + event.get_absolute_url()
        meta = ical.CalendarMeta(
            name=event.title,
            description=event.summary or event.title,
            url=url,
            source=url.rstrip("/") + ".ics",
            refresh=refresh_interval(),
            zones=ical.zones_of([entry]),
        )
        return ical.render_calendar(meta, [ical.render_event(entry)])


# --- publishing ------------------------------------------------------------------------------
def publish(key: str, now: dt.datetime | None = None) -> Feed | None:
    """Publish a feed: reuse unchanged VEVENTs, store new bytes only if they changed.

    Return None (and forget the feed) if its key no longer stands for anything.
    """
    with translation.override(FEED_LANGUAGE):
        return _publish(key, now)


def _publish(key: str, now: dt.datetime | None) -> Feed | None:
    try:
        feed_spec = spec(key)
    except FeedNotFound:
        gone = list(Feed.objects.filter(key=key))
        Feed.objects.filter(key=key).delete()
        for old in gone:
            feed_store.delete(list(old.stored_names))
        return None
    with transaction.atomic():
        # One publisher per feed at a time; the others wait and then find nothing to do.
        feed = Feed.objects.select_for_update().filter(key=key).first()
        events = feed_events(feed_spec.selection, now)
        revisions = dict(events.values_list("pk", "revision"))
        previous = feed_store.load_previous(feed.stored_names) if feed else None
        if previous and previous.render_key != render_key():
            previous = None
        pieces = previous.current_pieces(revisions) if previous else {}
        missing = {pk: revision for pk, revision in revisions.items() if pk not in pieces}
        pieces.update(cached_pieces(missing, events))
        head = ical.render_head(feed_meta(feed_spec, zone_spans(events)))
        assembled = feed_store.assemble(render_key(), head, revisions, pieces)
        moment = timezone.now().replace(microsecond=0)
        old_ids = previous.event_ids if previous else None
        if feed is None:
            feed = Feed(key=key, etag="")
        if feed.etag != assembled.etag or not previous:
            obsolete = [name for name in feed.stored_names if name]
            feed.body_name, feed.gzip_name, feed.manifest_name = feed_store.save(key, assembled)
            obsolete = [name for name in obsolete if name not in feed.stored_names]
            transaction.on_commit(lambda: feed_store.delete(obsolete))
            if feed.etag != assembled.etag:
                feed.etag = assembled.etag
                feed.last_modified = moment
            feed.size = len(assembled.body)
        feed.event_count = len(revisions)
        feed.published_at = moment
        feed.save()
        _set_members(feed, set(revisions), old_ids)
    return feed


def _set_members(feed: Feed, wanted: set[int], current: set[int] | None) -> None:
    if current is None:
        current = set(FeedMembership.objects.filter(feed=feed).values_list("event_id", flat=True))
    if gone := current - wanted:
        FeedMembership.objects.filter(feed=feed, event_id__in=gone).delete()
    if new := wanted - current:
        FeedMembership.objects.bulk_create(
            [FeedMembership(feed=feed, event_id=pk) for pk in new], ignore_conflicts=True
        )


def published(key: str) -> Feed:
    """Return the stored feed, publishing it now if no worker has yet; raise FeedNotFound."""
    feed = Feed.objects.filter(key=key).first()
    if feed is not None:
        return feed
    feed = publish(key)
    if feed is None:
        raise FeedNotFound(key)
    return feed


def publish_changes(event_ids: Iterable[int] = (), keys: Iterable[str] = ()) -> list[str]:
    """Re-publish every feed these events or keys touch; return the keys published."""
    event_ids = set(event_ids)
    # Read before publishing: what gets published is at least this new.
    revisions = dict(Event.objects.filter(pk__in=event_ids).values_list("pk", "revision"))
    todo = sorted(set(keys) | keys_for_events(event_ids))
    for key in todo:
        publish(key)
    _mark_published(revisions)
    return todo


def publish_owed(limit: int = 500) -> list[str]:
    """Publish the feeds of events changed since the feeds last showed them; return the keys.

    The task queued after each save is only the fast path: a message lost with the broker
    leaves the event's `feeds_revision` behind, and this catches up.
    """
    owed = list(
        Event.objects.exclude(feeds_revision=F("revision"))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return publish_changes(owed) if owed else []


def _mark_published(revisions: dict[int, int]) -> None:
    by_revision: dict[int, list[int]] = {}
    for pk, revision in revisions.items():
        by_revision.setdefault(revision, []).append(pk)
    for revision, pks in by_revision.items():
        # Not if the event changed again meanwhile: that change still needs publishing.
        Event.objects.filter(pk__in=pks, revision=revision).update(feeds_revision=revision)


def publish_everything() -> list[str]:
    """Recompute every event's UTC times (after a tzdata update) and re-publish all feeds."""
    for event in Event.objects.select_related("place").iterator():
        span = event.utc_span()
        if (span.start, span.end) != (event.start_utc, event.end_utc):
            event.save()
    keys = sorted(set(all_keys()) | set(Feed.objects.values_list("key", flat=True)))
    for key in keys:
        publish(key)
    return keys


def touch_events(events: QuerySet[Event]) -> list[int]:
    """Mark events changed (a place, topic or source of theirs changed); return their ids."""
    ids = list(events.values_list("pk", flat=True))
    Event.objects.filter(pk__in=ids).update(updated_at=timezone.now(), revision=F("revision") + 1)
    return ids
