"""Render events as iCalendar (RFC 5545, RFC 7986): plain data in, bytes out, no queries.

Each event renders to a VEVENT fragment on its own, so a feed can be re-assembled from cached
fragments; `render_calendar` wraps fragments in a VCALENDAR with the time zones they use. Texts
carry the language they are written in as a LANGUAGE parameter (RFC 5545 3.2.10) when told it.
"""

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import icalendar

PRODID = "-//Kazakhstan-Russia timeline//Event feeds 1.0//EN"
END_CALENDAR = b"END:VCALENDAR\r\n"
END_EVENT = b"END:VEVENT\r\n"
# U+FEFF too: as a byte-order mark pasted into a field it means nothing, and at the start of a
# value the icalendar library drops it silently (it decodes each value as "utf-8-sig").
DROPPED_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufeff]")


# RFC 5545 3.3.11 TEXT escaping (line ends are LF after clean_text).
TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"})


class Text(icalendar.vText):
    """A TEXT value escaped as RFC 5545 says.

    The library's own escaping first turns every backslash-N of the text into "\\n", so a
    literal "C:\\Nur-Sultan" or "\\N" reached every calendar as a line break.
    """

    def to_ical(self) -> bytes:
        return self.translate(TEXT_ESCAPES).encode()


class Categories(icalendar.vCategory):
    """A CATEGORIES value whose categories are escaped as Text."""

    def to_ical(self) -> bytes:
        return b",".join(Text(category).to_ical() for category in self.cats)


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
    # The language each text is written in, by property ("SUMMARY", "DESCRIPTION", "LOCATION"),
    # and of each category in turn; a text whose language is not given has no LANGUAGE.
    languages: Mapping[str, str] = field(default_factory=dict)
    category_languages: tuple[str, ...] = ()
    # The UID of the event this one is part of (RELATED-TO;RELTYPE=PARENT), or "".
    parent_uid: str = ""

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)

    @property
    def zone_span(self) -> tuple[dt.date, dt.date]:
        """Return the first and last local dates the event touches."""
        first = self.start.date() if isinstance(self.start, dt.datetime) else self.start
        last = self.end or self.start
        return first, last.date() if isinstance(last, dt.datetime) else last


@dataclass(frozen=True)
class Alarm:
    """A display alarm some time before an event starts (RFC 5545 3.6.6)."""

    before: dt.timedelta
    description: str
    language: str = ""


@dataclass(frozen=True)
class CalendarMeta:
    """The calendar-level properties of a feed."""

    name: str
    description: str
    url: str
    source: str
    refresh: dt.timedelta = dt.timedelta(hours=1)
    zones: Mapping[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    # The language of the name and of the description ("NAME", "DESCRIPTION"), where known.
    languages: Mapping[str, str] = field(default_factory=dict)


def render_event(event: CalendarEvent) -> bytes:
    """Return one VEVENT, folded, with CRLF line ends."""
    # Properties are set with their value types directly rather than through Component.add,
    # whose type inference is most of the cost of rendering a large feed.
    text, when = Text, icalendar.vDDDTypes
    vevent = icalendar.Event()
    vevent["UID"] = text(event.uid)
    # DTSTAMP is the last change, not the time of the request, so output is byte-identical
    # between requests and ETags stay valid.
    vevent["DTSTAMP"] = when(_utc(event.last_modified))
    vevent["CREATED"] = when(_utc(event.created))
    vevent["LAST-MODIFIED"] = when(_utc(event.last_modified))
    vevent["SEQUENCE"] = icalendar.vInt(event.sequence)
    said = event.languages
    vevent["SUMMARY"] = _text(event.summary, said.get("SUMMARY"))
    if event.description:
        vevent["DESCRIPTION"] = _text(event.description, said.get("DESCRIPTION"))
    if event.all_day:
        vevent["DTSTART"] = when(event.start)
        # All-day DTEND is exclusive (RFC 5545 3.6.1): a visit on 11-12 Nov ends on 13 Nov.
        vevent["DTEND"] = when(event.end or event.start + dt.timedelta(days=1))
    else:
        # Not all-day: both ends are datetimes.
        vevent["DTSTART"] = when(_unambiguous(cast(dt.datetime, event.start)))
        if event.end is not None:
            vevent["DTEND"] = when(_unambiguous(cast(dt.datetime, event.end)))
    if event.location:
        vevent["LOCATION"] = _text(event.location, said.get("LOCATION"))
    if event.geo:
        vevent["GEO"] = icalendar.vGeo(event.geo)
    if event.url:
        vevent["URL"] = icalendar.vUri(event.url)
    if event.categories:
        lines = []
        for language, run in _category_lines(event.categories, event.category_languages):
            line = Categories(run)
            if language:
                line.params["LANGUAGE"] = language
            lines.append(line)
        vevent["CATEGORIES"] = lines[0] if len(lines) == 1 else lines
    if event.parent_uid:
        # RFC 5545 3.8.4.5: PARENT is the default RELTYPE, written out for readers that assume
        # otherwise.
        parent = text(event.parent_uid)
        parent.params["RELTYPE"] = "PARENT"
        vevent["RELATED-TO"] = parent
    vevent["STATUS"] = text(event.status)
    vevent["TRANSP"] = text("TRANSPARENT")
    return cast(bytes, vevent.to_ical())


def render_alarms(alarms: Iterable[Alarm]) -> bytes:
    """Return VALARM components, folded, with CRLF line ends, to go in a VEVENT (with_alarms)."""
    rendered = []
    for alarm in alarms:
        valarm = icalendar.Alarm()
        valarm["ACTION"] = Text("DISPLAY")
        valarm["DESCRIPTION"] = _text(alarm.description, alarm.language or None)
        # Relative to the start (RELATED=START, the default): of the day for an all-day event.
        valarm["TRIGGER"] = icalendar.vDuration(-alarm.before)
        rendered.append(cast(bytes, valarm.to_ical()))
    return b"".join(rendered)


def with_alarms(vevent: bytes, alarms: bytes) -> bytes:
    """Return a rendered VEVENT with rendered VALARMs (render_alarms) put in before its end.

    Alarms are one reader's choice, so they are added to the VEVENT cached for every feed
    rather than cached with it.
    """
    if not vevent.endswith(END_EVENT):
        raise ValueError("not a rendered VEVENT")
    return vevent[: -len(END_EVENT)] + alarms + END_EVENT if alarms else vevent


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
    # NAME and the X-WR- properties are typed explicitly: the library would write them as
    # unknown values, unescaped, so a comma, semicolon or line break would break the file.
    # RFC 7986 allows LANGUAGE on NAME and DESCRIPTION; the X-WR- twins, read by clients that
    # predate it, are left as those clients have always seen them.
    calendar["NAME"] = _text(meta.name, meta.languages.get("NAME"))
    calendar["X-WR-CALNAME"] = Text(clean_text(meta.name))
    calendar["DESCRIPTION"] = _text(meta.description, meta.languages.get("DESCRIPTION"))
    calendar["X-WR-CALDESC"] = Text(clean_text(meta.description))
    calendar.add("refresh-interval", meta.refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(meta.refresh))
    calendar.add("url", meta.url)
    calendar.add("source", meta.source, parameters={"VALUE": "URI"})
    for zone in sorted(meta.zones):
        calendar.add_component(vtimezone(zone, *meta.zones[zone]))
    return cast(bytes, calendar.to_ical()).removesuffix(END_CALENDAR)


def render(meta: CalendarMeta, events: Sequence[CalendarEvent]) -> bytes:
    """Return a whole VCALENDAR of *events*, rendered from scratch."""
    if not meta.zones:
        meta = CalendarMeta(**{**meta.__dict__, "zones": zones_of(events)})
    return render_calendar(meta, (render_event(event) for event in events))


def vtimezone(name: str, first: dt.date, last: dt.date) -> icalendar.Timezone:
    """Return a VTIMEZONE for *name* valid from the year before *first* to the year after *last*.

    Built from the tzdata transitions rather than the library's generator, which writes all
    onsets into one comma-separated RDATE (Thunderbird's parser, ical.js, reads only the first)
    and puts a spring-forward onset an hour late. Each onset is the local time just before the
    change (RFC 5545 3.6.5), one RDATE per line, the first one also as DTSTART.
    """
    timezone = icalendar.Timezone()
    timezone.add("tzid", name)
    for kind, offset_from, offset_to, abbreviation, onsets in _observances(
        name, first.year - 1, last.year + 1
    ):
        observance = icalendar.TimezoneDaylight() if kind else icalendar.TimezoneStandard()
        observance.add("dtstart", onsets[0])
        # With any RDATE, ical.js takes the onsets from the RDATEs alone and skips DTSTART's
        # (RFC 5545 counts both), so the first onset is repeated as an RDATE.
        for onset in onsets if len(onsets) > 1 else ():
            observance.add("rdate", onset)
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        observance.add("tzname", abbreviation)
        timezone.add_component(observance)
    return timezone


# (is_dst, offset_from, offset_to, abbreviation, onsets)
_Observance = tuple[bool, dt.timedelta, dt.timedelta, str, list[dt.datetime]]


@functools.lru_cache(maxsize=512)
def _observances(name: str, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    """Return (is_dst, offset_from, offset_to, abbreviation, onsets) groups for a span of years."""
    tz = zoneinfo.ZoneInfo(name)
    second = int(dt.datetime(first_year, 1, 1, tzinfo=dt.UTC).timestamp())
    end = int(dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC).timestamp())
    state = _state(second, tz)
    # The span opens with the rules in force at its start.
    changes = [(_local(second, state[1]), state[1], state)]
    day = 86_400
    while second < end:
        after = _state(second + day, tz)
        if after != state:
            low, high = second, second + day  # the change happens in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                if _state(middle, tz) == state:
                    low = middle
                else:
                    high = middle
            changes.append((_local(high, state[1]), state[1], after))
            state = after
        second += day
    groups: dict[tuple[bool, dt.timedelta, dt.timedelta, str], list[dt.datetime]] = {}
    for onset, offset_from, (is_dst, offset_to, abbreviation) in changes:
        groups.setdefault((is_dst, offset_from, offset_to, abbreviation), []).append(onset)
    return tuple(
        (*key, onsets) for key, onsets in sorted(groups.items(), key=lambda item: item[1][0])
    )


def _state(second: int, tz: zoneinfo.ZoneInfo) -> tuple[bool, dt.timedelta, str]:
    local = dt.datetime.fromtimestamp(second, tz)
    # A ZoneInfo always knows the offset and the abbreviation.
    return bool(local.dst()), cast(dt.timedelta, local.utcoffset()), cast(str, local.tzname())


def _local(second: int, offset: dt.timedelta) -> dt.datetime:
    return dt.datetime.fromtimestamp(second, dt.UTC).replace(tzinfo=None) + offset


def clean_text(text: str) -> str:
    """Return text with line ends as LF, without control characters RFC 5545 forbids or U+FEFF."""
    return DROPPED_CHARACTERS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _text(value: str, language: str | None) -> Text:
    """Return a TEXT value, with the LANGUAGE parameter if its language is known."""
    text = Text(clean_text(value))
    if language:
        text.params["LANGUAGE"] = language
    return text


def _category_lines(
    categories: Sequence[str], category_languages: Sequence[str] = ()
) -> list[tuple[str, list[str]]]:
    """Return the categories in runs for one CATEGORIES line each, with the runs' language.

    One line holds one language (its LANGUAGE parameter covers the whole line), so usually there
    is one run, or one per language. ical.js (Thunderbird) reads the comma after an escaped
    backslash as an escaped comma, so "a\\\\,b" comes out as the one category "a\\,b": a category
    ending in a backslash ends its line.
    """
    lines: list[tuple[str, list[str]]] = []
    closed = True
    for number, category in enumerate(map(clean_text, categories)):
        language = category_languages[number] if number < len(category_languages) else ""
        if closed or lines[-1][0] != language:
            lines.append((language, []))
        lines[-1][1].append(category)
        closed = category.endswith("\\")
    return lines


def _unambiguous(moment: dt.datetime) -> dt.datetime:
    # A wall time that happens twice (clocks going back) is read differently by parsers
    # (RFC 5545 says the first; ical.js takes the second): write such a time in UTC.
    if moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset():
        return moment.astimezone(dt.UTC)
    return moment


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)
