"""Render events as iCalendar (RFC 5545, RFC 7986): plain data in, bytes out, no queries.

Each event renders to a VEVENT fragment on its own, so a feed can be re-assembled from cached
fragments; `render_calendar` wraps fragments in a VCALENDAR with the time zones they use.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import icalendar

PRODID = "-//Kazakhstan-Russia timeline//Event feeds 1.0//EN"
END_CALENDAR = b"END:VCALENDAR\r\n"


@dataclass(frozen=True)
class CalendarEvent:
    """What a calendar needs to know of one event; times are local to `timezone`."""

    uid: str
    sequence: int
    summary: str
    status: str  # TENTATIVE, CONFIRMED or CANCELLED
    start: dt.date | dt.datetime  # a date for all-day events, else an aware local datetime
    end: dt.date | dt.datetime | None  # all-day: the day after the last day (exclusive)
    timezone: str
    created: dt.datetime
    last_modified: dt.datetime
    description: str = ""
    location: str = ""
    geo: tuple[float, float] | None = None
    url: str = ""
    categories: tuple[str, ...] = ()

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)

    @property
    def zone_span(self) -> tuple[dt.date, dt.date]:
        """Return the first and last local dates the event touches."""
        first = self.start if self.all_day else self.start.date()
        last = self.end or self.start
        return first, last.date() if isinstance(last, dt.datetime) else last


@dataclass(frozen=True)
class CalendarMeta:
    """The calendar-level properties of a feed."""

    name: str
    description: str
    url: str
    source: str
    refresh: dt.timedelta = dt.timedelta(hours=1)
    zones: Mapping[str, tuple[dt.date, dt.date]] = field(default_factory=dict)


def render_event(event: CalendarEvent) -> bytes:
    """Return one VEVENT, folded, with CRLF line ends."""
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    # DTSTAMP is the last change, not the time of the request, so output is byte-identical
    # between requests and ETags stay valid.
    vevent.add("dtstamp", _utc(event.last_modified))
    vevent.add("created", _utc(event.created))
    vevent.add("last-modified", _utc(event.last_modified))
    vevent.add("sequence", event.sequence)
    vevent.add("summary", event.summary)
    if event.description:
        vevent.add("description", event.description)
    if event.all_day:
        vevent.add("dtstart", event.start)
        # All-day DTEND is exclusive (RFC 5545 3.6.1): a visit on 11-12 Nov ends on 13 Nov.
        vevent.add("dtend", event.end or event.start + dt.timedelta(days=1))
    else:
        vevent.add("dtstart", event.start)
        if event.end is not None:
            vevent.add("dtend", event.end)
    if event.location:
        vevent.add("location", event.location)
    if event.geo:
        vevent.add("geo", event.geo)
    if event.url:
        vevent.add("url", event.url)
    if event.categories:
        vevent.add("categories", list(event.categories))
    vevent.add("status", event.status)
    vevent.add("transp", "TRANSPARENT")
    return vevent.to_ical()


def zones_of(events: Iterable[CalendarEvent]) -> dict[str, tuple[dt.date, dt.date]]:
    """Return, for each non-UTC zone used by timed events, the local dates it must cover."""
    spans: dict[str, tuple[dt.date, dt.date]] = {}
    for event in events:
        if event.all_day or event.timezone == "UTC":
            continue
        first, last = event.zone_span
        known = spans.get(event.timezone)
        if known:
            first, last = min(first, known[0]), max(last, known[1])
        spans[event.timezone] = (first, last)
    return spans


def render_calendar(meta: CalendarMeta, fragments: Iterable[bytes]) -> bytes:
    """Return a whole VCALENDAR around already rendered VEVENT fragments."""
    return b"".join((render_head(meta), *fragments, END_CALENDAR))


def render_head(meta: CalendarMeta) -> bytes:
    """Return a VCALENDAR's opening: its properties and time zones, up to the first VEVENT."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", meta.name)
    calendar.add("x-wr-calname", meta.name)
    calendar.add("description", meta.description)
    calendar.add("x-wr-caldesc", meta.description)
    calendar.add("refresh-interval", meta.refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(meta.refresh))
    calendar.add("url", meta.url)
    calendar.add("source", meta.source, parameters={"VALUE": "URI"})
    for name in sorted(meta.zones):
        calendar.add_component(vtimezone(name, *meta.zones[name]))
    return calendar.to_ical().removesuffix(END_CALENDAR)


def render(meta: CalendarMeta, events: Sequence[CalendarEvent]) -> bytes:
    """Return a whole VCALENDAR of *events*, rendered from scratch."""
    if not meta.zones:
        meta = CalendarMeta(**{**meta.__dict__, "zones": zones_of(events)})
    return render_calendar(meta, (render_event(event) for event in events))


def vtimezone(name: str, first: dt.date, last: dt.date) -> icalendar.Timezone:
    """Return a VTIMEZONE for *name* valid from before *first* to after *last*.

    The library writes all transition dates of an observance into one comma-separated RDATE;
    Thunderbird's parser (ical.js) reads only the first value, so each gets its own line.
    """
    timezone = icalendar.Timezone.from_tzid(
        name,
        first_date=dt.date(first.year - 1, 1, 1),
        last_date=dt.date(last.year + 2, 1, 1),
    )
    for observance in timezone.subcomponents:
        rdates = observance.pop("RDATE", None)
        if rdates is None:
            continue
        for value in rdates if isinstance(rdates, list) else [rdates]:
            for one in value.dts:
                observance.add("rdate", one.dt)
    return timezone


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)
