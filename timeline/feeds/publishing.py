"""Publish calendar feeds: select events, assemble cached VEVENT fragments, store bytes + ETag.

Every feed exists in each language, keyed "<language>/<subject>" ("ru/all", "kk/topic:energy"):
the same events, UIDs, sequences and times, each text in the feed's language or, where an event
lacks it, in its fallback (timeline.languages), marked with the language it is actually in.
"""

import datetime as dt
import functools
import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_countries import countries

from .. import languages, timing
from ..metrics import counters
from ..models import (
    Actor,
    Event,
    EventFragment,
    EventQuerySet,
    Feed,
    FeedMembership,
    Follows,
    PrivateFeed,
    Source,
    Subscriber,
    Topic,
    Track,
    feed_key,
    sources_official_first,
    split_feed_key,
)
from ..models.subscribers import lead_time_label
from ..models.translations import shown
from . import ical, stamp
from . import store as feed_store

# Bump when the rendering of a VEVENT changes, so every cached fragment is redrawn.
RENDER_VERSION = "5"
ICAL_STATUS: dict[str, str] = {
    Event.Status.TENTATIVE: "TENTATIVE",
    Event.Status.POSTPONED: "TENTATIVE",
    Event.Status.CONFIRMED: "CONFIRMED",
    Event.Status.COMPLETED: "CONFIRMED",
    Event.Status.CANCELLED: "CANCELLED",
}
# Up to this many changed events are drawn in every language at once (see cached_pieces).
DRAW_EVERY_LANGUAGE_UP_TO = 100
# VEVENTs are read, rendered, cached and deflated this many at a time (see cached_pieces).
PIECES_AT_ONCE = 500
# A feed's new memberships are written this many at a time (see _set_members).
MEMBERSHIPS_AT_ONCE = 5000
# The addresses from before feeds had languages (/feeds/all.ics, /events/<slug>.ics) serve the
# English feed: the language their subscribers have always read them in.
BARE_LANGUAGE = languages.ENGLISH


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
    language: str = BARE_LANGUAGE
    # The language of the title and the description ("NAME", "DESCRIPTION"), where known.
    languages: dict[str, str] = field(default_factory=dict)
    # Minutes before the start of each event getting reminders that an alarm goes off (a
    # subscriber's calendar with alarms), longest first.
    alarms: tuple[int, ...] = ()

    @property
    def subject(self) -> str:
        return split_feed_key(self.key)[1]


@dataclass(frozen=True)
class LabelFeed:
    """The public feeds of one kind of label: one per topic, track or actor in use."""

    model: type[Topic | Track | Actor]
    plural: str  # the feed's folder
    describe: Callable[[str], str]  # called in the feed's language
    follows: Callable[[int], Follows]  # what following one such label selects

    def find(self, slug: str) -> Topic | Track | Actor | None:
        return self.model.objects.filter(slug=slug).first()

    def in_use(self) -> QuerySet[Topic] | QuerySet[Track] | QuerySet[Actor]:
        return self.model.objects.in_use().order_by("slug")

    def slugs(self) -> list[str]:
        return list(self.in_use().values_list("slug", flat=True))


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
def feed_path(language: str, subject: str) -> str:
    """Return the address of a public feed: /feeds/ru/all.ics, /feeds/kk/topics/energy.ics."""
    kind, _colon, value = subject.partition(":")
    if subject == "all":
        return f"/feeds/{language}/all.ics"
    if kind == "country":
        return f"/feeds/{language}/countries/{value}.ics"
    if kind in LABEL_FEEDS:
        return f"/feeds/{language}/{LABEL_FEEDS[kind].plural}/{value}.ics"
    raise ValueError(f"{subject!r} has no public address")


def spec(key: str) -> FeedSpec:
    """Return the spec of a feed key, or raise FeedNotFound."""
    language, subject = split_feed_key(key)
    if not language:
        raise FeedNotFound(key)
    kind, _colon, value = subject.partition(":")
    with translation.override(language):
        if subject == "all":
            return _all_spec(language)
        if kind in LABEL_FEEDS and (label := LABEL_FEEDS[kind].find(value)):
            return _label_spec(language, kind, label)
        if kind == "country" and value in countries and value == value.upper():
            return _country_spec(language, value)
        if kind == "private" and value.isdigit():
            served = PrivateFeed.objects.serving().select_related("subscriber")
            private = served.filter(pk=int(value)).first()
            # A private feed is published in its own language only.
            if private and private.written_in == language:
                return _private_spec(private)
    raise FeedNotFound(key)


def _all_spec(language: str) -> FeedSpec:
    return FeedSpec(
        feed_key(language, "all"),
        settings.SITE_NAME,
        _("Every dated event of the Kazakhstan–Russia relationship, with sources."),
        feed_path(language, "all"),
        Event.objects.all(),
        language,
        {"NAME": language, "DESCRIPTION": language},
    )


def _label_spec(language: str, kind: str, label: Topic | Track | Actor) -> FeedSpec:
    feed = LABEL_FEEDS[kind]
    name = shown(label, "name", language)
    subject = f"{kind}:{label.slug}"
    return FeedSpec(
        feed_key(language, subject),
        f"{settings.SITE_NAME}: {name}",
        feed.describe(name.text),
        feed_path(language, subject),
        Event.objects.matching(feed.follows(label.pk)),
        language,
        {"NAME": name.language, "DESCRIPTION": language},
    )


def _country_spec(language: str, code: str) -> FeedSpec:
    name = countries.name(code)
    subject = f"country:{code}"
    return FeedSpec(
        feed_key(language, subject),
        f"{settings.SITE_NAME}: {name}",
        _("Events involving %(country)s.") % {"country": name},
        feed_path(language, subject),
        Event.objects.matching(Follows(countries=[code])),
        language,
        {"NAME": language, "DESCRIPTION": language},
    )


def _private_spec(private: PrivateFeed) -> FeedSpec:
    if private.subscriber:
        return _subscriber_spec(private)
    return FeedSpec(
        private.key,
        f"{settings.SITE_NAME}: {private.name}",
        _("A personal selection of events."),
        "",  # the path holds the secret token, which is not stored
        Event.objects.matching(private.followed()),
        private.language,
        {"NAME": private.language, "DESCRIPTION": private.language},
    )


def _subscriber_spec(private: PrivateFeed) -> FeedSpec:
    """Return the spec of a subscriber's calendar: what they follow, in their language."""
    subscriber = cast(Subscriber, private.subscriber)
    language = subscriber.language
    leads = sorted({int(minutes) for minutes in subscriber.lead_times}, reverse=True)
    return FeedSpec(
        private.key,
        f"{settings.SITE_NAME}: {_('What you follow')}",
        _("The events you follow: their topics, countries, people, projects and single events."),
        "",  # the path holds the secret token, which is not stored
        Event.objects.matching(private.followed()),
        language,
        {"NAME": language, "DESCRIPTION": language},
        alarms=tuple(leads) if private.alarms else (),
    )


def public_subjects() -> list[str]:
    """Return what each public feed worth listing is of ('all', 'topic:energy', …)."""
    return [
        "all",
        *(f"topic:{slug}" for slug in LABEL_FEEDS["topic"].slugs()),
        *(f"country:{code}" for code in sorted(Event.objects.published().country_codes())),
        *(f"track:{slug}" for slug in LABEL_FEEDS["track"].slugs()),
        *(f"actor:{slug}" for slug in LABEL_FEEDS["actor"].slugs()),
    ]


def public_specs(language: str) -> list[FeedSpec]:
    """Return the spec of every public feed worth listing, in *language* (a query per kind)."""
    with translation.override(language):
        return [
            _all_spec(language),
            *(_label_spec(language, "topic", label) for label in LABEL_FEEDS["topic"].in_use()),
            *(
                _country_spec(language, code)
                for code in sorted(Event.objects.published().country_codes())
            ),
            *(_label_spec(language, "track", label) for label in LABEL_FEEDS["track"].in_use()),
            *(_label_spec(language, "actor", label) for label in LABEL_FEEDS["actor"].in_use()),
        ]


def in_every_language(subjects: Iterable[str]) -> list[str]:
    """Return the keys of the feeds of *subjects* in each language."""
    return [feed_key(language, subject) for language in languages.CODES for subject in subjects]


def public_keys() -> list[str]:
    """Return the key of every public feed worth listing, in every language."""
    return in_every_language(public_subjects())


def all_keys() -> list[str]:
    """Return every feed key, public and private."""
    return [*public_keys(), *PrivateFeed.objects.serving().keys()]


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
    subjects: set[str] = set()
    for event in events:
        subjects.add("all")
        subjects.update(f"topic:{topic.slug}" for topic in event.topics.all())
        subjects.update(f"country:{country.code}" for country in event.countries)
        subjects.update(f"actor:{actor.slug}" for actor in event.participants.all())
        if event.track:
            subjects.add(f"track:{event.track.slug}")
        keys.update(PrivateFeed.objects.including(event).keys())
    keys.update(in_every_language(subjects))
    return keys


# --- which events go in ----------------------------------------------------------------------
def window_start(now: dt.datetime | None = None) -> dt.datetime:
    """Return the earliest end an event may have to stay in feeds."""
    return (now or timezone.now()) - dt.timedelta(days=settings.FEED_WINDOW_DAYS)


def feed_events(selection: EventQuerySet, now: dt.datetime | None = None) -> QuerySet[Event]:
    """Return the events of a feed (those of *selection* that calendars hold), in a stable order."""
    cutoff = window_start(now)
    events = (
        selection.in_calendars()
        .filter(Q(end_utc__gte=cutoff) | Q(end_utc__isnull=True, start_utc__gte=cutoff))
        .order_by("start_utc", "uid")
    )
    # Without modeltranslation's rewriting, which reads every row of values_list() back through
    # its fallback descriptors, untranslated columns too: a third of a re-publish at 10,000
    # events. Texts are read by language explicitly (models.translations.shown).
    return cast(QuerySet[Event], cast(Any, events).rewrite(False))


# --- rendering -------------------------------------------------------------------------------
def refresh_interval() -> dt.timedelta:
    return dt.timedelta(minutes=settings.FEED_REFRESH_MINUTES)


def render_key(language: str) -> str:
    """Return what, besides an event, a cached VEVENT in *language* depends on."""
    return f"{RENDER_VERSION}|{settings.SITE_URL}|{language}|{_catalogues(language)}"


def pieces_key(feed_spec: FeedSpec) -> str:
    """Return what, besides an event, each VEVENT of this feed depends on: its language's
    render key and, in a calendar with alarms, their lead times."""
    key = render_key(feed_spec.language)
    if feed_spec.alarms:
        key += "|alarms:" + ",".join(str(minutes) for minutes in feed_spec.alarms)
    return key


@dataclass(frozen=True)
class Alarms:
    """The VALARMs of a calendar with alarms, and which of its events ring them."""

    block: bytes
    events: set[int]


def alarms_for(
    feed_spec: FeedSpec, event_ids: Collection[int], events: QuerySet[Event]
) -> Alarms | None:
    """Return the alarms of a feed (of *events*) for these of its events, its language active.

    Those getting reminders ring one at each lead time; a cancelled one, for instance, none.
    """
    if not feed_spec.alarms or not event_ids:
        return None
    block = ical.render_alarms(
        ical.Alarm(dt.timedelta(minutes=minutes), lead_time_label(minutes), feed_spec.language)
        for minutes in feed_spec.alarms
    )
    # As in cached_pieces: a long list of ids costs more than the feed's own query.
    chosen = list(event_ids) if len(event_ids) < 5000 else events.values("pk")
    reminded = Event.objects.getting_reminders().filter(pk__in=chosen)
    return Alarms(block, set(reminded.values_list("pk", flat=True)) & set(event_ids))


@functools.cache
def _catalogues(language: str) -> str:
    """Return a digest of our translation catalogues for *language* (statuses, kinds, labels).

    A corrected translation then redraws the VEVENTs that show it, as a new render version would.
    """
    digest = hashlib.sha256()
    for folder in settings.LOCALE_PATHS:
        for catalogue in sorted(Path(folder, language, "LC_MESSAGES").glob("*.mo")):
            digest.update(catalogue.read_bytes())
    return digest.hexdigest()[:12]


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
    revisions: dict[int, int],
    events: QuerySet[Event],
    language: str,
    alarms: Alarms | None = None,
) -> Iterator[tuple[int, feed_store.Piece]]:
    """Yield the VEVENT in *language* of each of these events (a subset of *events*), in the
    order of *revisions*, cached or rendered now, with *alarms* in those that ring them.

    A chunk of events at a time, so a feed's VEVENTs are never all in memory at once (at 50,000
    events they are about 50 MB, and as many again deflated): the feed is assembled from them as
    they come.
    """
    key = render_key(language)
    cached = EventFragment.objects.filter(event__in=events.values("pk"), language=language)
    if len(revisions) < 5000:
        cached = cached.filter(event_id__in=list(revisions))
    # Only which are current here; their bodies are read a chunk at a time below.
    current = {
        event_id
        for event_id, version in cached.values_list("event_id", "version").iterator()
        if event_id in revisions and version == f"{key}|{revisions[event_id]}"
    }
    # A few changed events (an edit) are drawn in every language while they are loaded: the
    # same change publishes their feeds in the other languages next, which find them cached. A
    # whole feed drawn afresh (nothing cached, nothing reused) is drawn in its language only.
    also: tuple[str, ...] = ()
    changed = len(revisions) - len(current)
    if 0 < changed <= DRAW_EVERY_LANGUAGE_UP_TO and (current or changed != events.count()):
        also = tuple(code for code in languages.CODES if code != language)
    ids = list(revisions)
    for start in range(0, len(ids), PIECES_AT_ONCE):
        chunk = ids[start : start + PIECES_AT_ONCE]
        bodies = _cached_bodies([pk for pk in chunk if pk in current], revisions, language, key)
        if stale := [pk for pk in chunk if pk not in bodies]:
            bodies.update(_render(Event.objects.filter(pk__in=stale), language, also))
        if alarms:
            for event_id in alarms.events.intersection(chunk):
                bodies[event_id] = ical.with_alarms(bodies[event_id], alarms.block)
        ordered = [bodies[pk] for pk in chunk]
        packed = feed_store.deflate_blocks(ordered)
        for event_id, body, deflated in zip(chunk, ordered, packed, strict=True):
            yield event_id, (revisions[event_id], body, deflated)


def _cached_bodies(
    event_ids: list[int], revisions: dict[int, int], language: str, key: str
) -> dict[int, bytes]:
    """Return the cached VEVENTs in *language* of these events that are still current."""
    if not event_ids:
        return {}
    rows = EventFragment.objects.filter(event_id__in=event_ids, language=language)
    return {
        event_id: bytes(body)
        for event_id, version, body in rows.values_list("event_id", "version", "body")
        # Checked again: another publish may have redrawn it since.
        if version == f"{key}|{revisions[event_id]}"
    }


def _render(events: QuerySet[Event], language: str, also: tuple[str, ...] = ()) -> dict[int, bytes]:
    """Render *events* (a chunk) in *language*, cache them, drawn in the languages *also* too,
    and return their VEVENTs in *language* by event id."""
    keys = {code: render_key(code) for code in (language, *also)}
    bodies: dict[int, bytes] = {}
    rendered = []
    chosen = events.select_related("place", "part_of").prefetch_related(
        "topics", sources_official_first()
    )
    for event in chosen:
        for code, key in keys.items():
            with translation.override(code):
                body = ical.render_event(_calendar_event(event, code))
            if code == language:
                bodies[event.pk] = body
            rendered.append(
                EventFragment(
                    event_id=event.pk, language=code, version=f"{key}|{event.revision}", body=body
                )
            )
    EventFragment.objects.bulk_create(
        rendered,
        batch_size=PIECES_AT_ONCE,
        update_conflicts=True,
        unique_fields=["event", "language"],
        update_fields=["version", "body"],
    )
    return bodies


def feed_meta(feed_spec: FeedSpec, zones: dict[str, tuple[dt.date, dt.date]]) -> ical.CalendarMeta:
    """Return the calendar properties of a feed (its language active)."""
    # A private feed's address holds its secret: the calendar points to the directory instead.
    url = settings.SITE_URL + (feed_spec.path or reverse("timeline:feeds"))
    return ical.CalendarMeta(
        name=feed_spec.title,
        description=feed_spec.description,
        url=url,
        source=url,
        refresh=refresh_interval(),
        zones=zones,
        languages=feed_spec.languages,
    )


def calendar_event(event: Event, language: str = BARE_LANGUAGE) -> ical.CalendarEvent:
    """Return the calendar view of an event in *language* (place, topics, sources prefetched)."""
    with translation.override(language):
        return _calendar_event(event, language)


def calendar_times(event: Event) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime | None]:
    """Return an event's start and end as a calendar gives them (see ical.CalendarEvent)."""
    if event.precision == timing.DAY:
        return event.start_date, (event.end_date or event.start_date) + dt.timedelta(days=1)
    tz = timing.zone(event.effective_timezone)
    return (
        event.start_utc.astimezone(tz),
        event.end_utc.astimezone(tz) if event.end_utc else None,
    )


def _calendar_event(event: Event, language: str) -> ical.CalendarEvent:
    # With *language* active: the page address, the status and kind words, country names.
    zone_name = event.effective_timezone
    start, end = calendar_times(event)
    title = shown(event, "title", language)
    summary = title.text
    if event.status == Event.Status.CANCELLED:
        summary = _("Cancelled: %(title)s") % {"title": summary}
    elif event.status == Event.Status.POSTPONED:
        summary = _("Postponed: %(title)s") % {"title": summary}
    page = settings.SITE_URL + event.get_absolute_url()
    description, description_language = _description(event, page, language)
    said = {"SUMMARY": title.language, "DESCRIPTION": description_language}
    place = event.place
    location = ""
    if place:
        place_name = shown(place, "name", language)
        location = f"{place_name}, {place.country.name}"
        said["LOCATION"] = place_name.language
    topics = [shown(topic, "name", language) for topic in event.topics.all()]
    # A part names the event it is part of only while that is published (a draft's UID would
    # leak it); timeline.signals bumps the part's revision when that changes, so no cached
    # VEVENT keeps a stale RELATED-TO.
    whole = event.published_whole
    return ical.CalendarEvent(
        uid=event.calendar_uid,
        sequence=event.sequence,
        summary=summary,
        status=ICAL_STATUS[event.status],
        start=start,
        end=end,
        timezone=zone_name,
        created=event.created_at,
        last_modified=event.updated_at,
        description=description,
        location=location,
        # Place.clean requires both coordinates or neither.
        geo=(float(place.latitude), float(cast(Decimal, place.longitude)))
        if place and place.latitude is not None
        else None,
        url=page,
        categories=(event.get_kind_display(), *(topic.text for topic in topics)),
        languages=said,
        category_languages=(language, *(topic.language for topic in topics)),
        parent_uid=whole.calendar_uid if whole else "",
    )


def describe_event(event: Event, page: str, language: str = BARE_LANGUAGE) -> str:
    """Return the DESCRIPTION text: summary, description, and every source with its URL."""
    with translation.override(language):
        return _description(event, page, language)[0]


def _description(event: Event, page: str, language: str) -> tuple[str, str]:
    """Return the DESCRIPTION text and the language of its first part (*language* active)."""
    texts = [shown(event, name, language) for name in ("summary", "description")]
    written = [text for text in texts if text.text]
    parts = [text.text for text in written]
    sources = list(event.sources.all())
    if sources:
        lines = [f"- {_source_line(source, language)}" for source in sources]
        parts.append(_("Sources:") + "\n" + "\n".join(lines))
    parts.append(page)
    return "\n\n".join(parts), written[0].language if written else language


def _source_line(source: Source, language: str) -> str:
    """Return a source as a line of plain text: publisher, date at its precision, address."""
    said = f"{source.publisher}, {source.published_label_in(language)}"
    if not source.url_is_item:
        # Translators: the source's own address is not known; the link is the publisher's site.
        return _("%(source)s (exact address not known): %(url)s") % {
            "source": said,
            "url": source.url,
        }
    return f"{said}: {source.url}"


def render_single(event: Event, language: str = BARE_LANGUAGE) -> bytes:
    """Return a calendar holding one event in *language* (place, topics, sources prefetched)."""
    with translation.override(language):
        entry = _calendar_event(event, language)
        title = shown(event, "title", language)
        summary = shown(event, "summary", language)
        described = summary if summary.text else title
        url = settings.SITE_URL + event.get_absolute_url()
        meta = ical.CalendarMeta(
            name=title.text,
            description=described.text,
            url=url,
            source=url.rstrip("/") + ".ics",
            refresh=refresh_interval(),
            zones=ical.zones_of([entry]),
            languages={"NAME": title.language, "DESCRIPTION": described.language},
        )
    return ical.render_calendar(meta, [ical.render_event(entry)])


# --- publishing ------------------------------------------------------------------------------
def publish(key: str, now: dt.datetime | None = None) -> Feed | None:
    """Publish a feed: reuse unchanged VEVENTs, store new bytes only if they changed.

    Return None (and forget the feed) if its key no longer stands for anything.
    """
    try:
        feed_spec = spec(key)
    except FeedNotFound:
        gone = list(Feed.objects.filter(key=key))
        Feed.objects.filter(key=key).delete()
        for old in gone:
            feed_store.delete(list(old.stored_names))
        if gone:
            transaction.on_commit(stamp.renew)
        return None
    language = feed_spec.language
    # Explicitly: the request or task publishing it may have any language active.
    with translation.override(language), transaction.atomic():
        # One publisher per feed at a time; the others wait and then find nothing to do.
        feed = Feed.objects.select_for_update().filter(key=key).first()
        events = feed_events(feed_spec.selection, now)
        revisions = dict(events.values_list("pk", "revision"))
        previous = feed_store.load_previous(feed.stored_names) if feed else None
        # Stored VEVENTs are reused only as they were rendered: same language, same alarms.
        key_of_pieces = pieces_key(feed_spec)
        if previous and previous.render_key != key_of_pieces:
            previous = None
        reused = previous.current_pieces(revisions) if previous else {}
        missing = (
            {pk: revision for pk, revision in revisions.items() if pk not in reused}
            if reused
            else revisions
        )
        alarms = alarms_for(feed_spec, missing, events)
        fresh = cached_pieces(missing, events, language, alarms)
        head = ical.render_head(feed_meta(feed_spec, zone_spans(events)))
        # Assembled as the new pieces are drawn, chunk by chunk (see cached_pieces).
        pieces = _in_order(revisions, reused, fresh)
        assembled = feed_store.assemble(key_of_pieces, head, revisions, pieces)
        moment = timezone.now().replace(microsecond=0)
        old_ids = previous.event_ids if previous else None
        if previous:
            # Not to hold the old feed's bytes as well as the new ones while these are stored.
            previous.close()
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
            # Web processes drop the validators they hold once these are in (feeds.served).
            transaction.on_commit(stamp.renew)
            feed.size = len(assembled.body)
        feed.event_count = len(revisions)
        feed.published_at = moment
        feed.save()
        _set_members(feed, set(revisions), old_ids)
    return feed


def _in_order(
    revisions: dict[int, int],
    reused: Mapping[int, feed_store.Piece],
    fresh: Iterator[tuple[int, feed_store.Piece]],
) -> Iterator[feed_store.Piece]:
    """Yield the piece of each event of *revisions* in order: reused, or the next fresh one."""
    for event_id in revisions:
        if event_id in reused:
            yield reused[event_id]
            continue
        drawn, piece = next(fresh)
        if drawn != event_id:
            raise RuntimeError(f"event {drawn} came where {event_id} belongs")
        yield piece


def _set_members(feed: Feed, wanted: set[int], current: set[int] | None) -> None:
    if current is None:
        current = set(FeedMembership.objects.filter(feed=feed).values_list("event_id", flat=True))
    if gone := current - wanted:
        FeedMembership.objects.filter(feed=feed, event_id__in=gone).delete()
    new = sorted(wanted - current)
    # A slice at a time: a model instance each for a 50,000-event feed would be ~20 MB at once.
    for start in range(0, len(new), MEMBERSHIPS_AT_ONCE):
        FeedMembership.objects.bulk_create(
            [
                FeedMembership(feed=feed, event_id=pk)
                for pk in new[start : start + MEMBERSHIPS_AT_ONCE]
            ],
            ignore_conflicts=True,
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
    edited = _unpublished_edits(event_ids)
    todo = sorted(set(keys) | keys_for_events(event_ids))
    for key in todo:
        _publish_timed(key)
    _mark_published(revisions)
    _observe_lag(edited)
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


# --- metrics (timeline.metrics) ----------------------------------------------------------------
def _publish_timed(key: str) -> Feed | None:
    """Publish *key*, and record how long it took (finished or failed)."""
    started = time.monotonic()
    try:
        return publish(key)
    finally:
        counters.observe(counters.PUBLISH_DURATION, [time.monotonic() - started])


def _unpublished_edits(event_ids: Collection[int]) -> list[dt.datetime]:
    """Return when each of these events was last edited, of those the feeds don't show yet."""
    if not event_ids:
        return []
    owed = Event.objects.filter(pk__in=event_ids).exclude(feeds_revision=F("revision"))
    return list(owed.values_list("updated_at", flat=True))


def _observe_lag(edited: list[dt.datetime]) -> None:
    """Record, for each edit now published, how long it waited for its feeds."""
    now = timezone.now()
    counters.observe(counters.PUBLISH_LAG, [(now - moment).total_seconds() for moment in edited])


def publish_everything() -> list[str]:
    """Recompute every event's UTC times (after a tzdata update) and re-publish all feeds."""
    for event in Event.objects.select_related("place").iterator():
        span = event.utc_span()
        if (span.start, span.end) != (event.start_utc, event.end_utc):
            event.save()
    keys = sorted(set(all_keys()) | set(Feed.objects.values_list("key", flat=True)))
    for key in keys:
        _publish_timed(key)
    return keys


def touch_events(events: QuerySet[Event]) -> list[int]:
    """Mark events changed (a place, topic or source of theirs changed); return their ids."""
    ids = list(events.values_list("pk", flat=True))
    Event.objects.filter(pk__in=ids).update(updated_at=timezone.now(), revision=F("revision") + 1)
    return ids
