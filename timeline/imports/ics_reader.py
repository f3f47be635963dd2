"""Read an iCalendar file (.ics) into incoming events and refused rows, one per VEVENT.

Times are kept as the file's wall-clock times in the file's zone when that zone has an IANA
name (given as such, as a Windows name or as a vendor-prefixed one); otherwise the true
instant is expressed in the zone the editor chose, and a note says so.
"""

import datetime as dt
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import icalendar
from django.utils.translation import gettext as _
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.prop import vBroken
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .. import languages, timing
from .rows import FileRefused, Incoming, Reading, ReadOptions, Refused, Row, max_bytes, max_rows

FORMAT = "ics"
BEGIN_EVENT = re.compile(r"BEGIN:VEVENT[ \t]*\r?$", re.IGNORECASE)
STATUSES = {"TENTATIVE": "tentative", "CONFIRMED": "confirmed", "CANCELLED": "cancelled"}
RECURRING = ("RRULE", "RDATE", "EXRULE")


class Refusal(Exception):
    """One VEVENT cannot be taken: the reason and the offending value."""

    def __init__(self, reason: str, value: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value


@dataclass
class Moment:
    """A DTSTART or DTEND read: a date (all-day) or an aware datetime, with what to tell."""

    when: dt.date | dt.datetime
    zone: str = ""  # the IANA zone the wall time is kept in (timed only)
    notes: list[str] = field(default_factory=list)


def read_ics(data: bytes, options: ReadOptions) -> Reading:
    """Return the events of an iCalendar file, or raise FileRefused for a file not one."""
    if len(data) > max_bytes():
        raise FileRefused(_("The file is larger than %(limit)s bytes.") % {"limit": max_bytes()})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused(_("The file is not UTF-8 text, as iCalendar files are.")) from error
    lines = [number for number, line in enumerate(text.split("\n"), 1) if BEGIN_EVENT.match(line)]
    _check_count(len(lines))
    calendars = _parse(text)
    events = [event for calendar in calendars for event in calendar.walk("VEVENT")]
    _check_count(len(events))
    cancelled = any(str(calendar.get("METHOD", "")).upper() == "CANCEL" for calendar in calendars)
    definitions = Definitions(calendars)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, event in enumerate(events):
        # The n-th BEGIN:VEVENT line opens the n-th event: the parser keeps document order.
        line = lines[number] if number < len(lines) else 0
        rows.append(_row(event, line, options, seen, definitions, cancelled))
    return Reading(FORMAT, rows)


def _check_count(count: int) -> None:
    if count > max_rows():
        raise FileRefused(
            _("The file holds %(count)s events; one import takes at most %(limit)s.")
            % {"count": count, "limit": max_rows()}
        )


def _parse(text: str) -> list[icalendar.Component]:
    """Return the file's VCALENDARs, or raise FileRefused."""
    try:
        with warnings.catch_warnings():
            # Vendor-prefixed TZIDs are resolved here, with a note, not warned about.
            warnings.simplefilter("ignore", GloballyUniqueTZIDGuessed)
            components = icalendar.Calendar.from_ical(text, multiple=True)
    except (ValueError, IndexError, KeyError, TypeError) as error:
        raise FileRefused(
            _("The file is not an iCalendar file that can be read: %(error)s") % {"error": error}
        ) from error
    if not components or any(component.name != "VCALENDAR" for component in components):
        raise FileRefused(_("The file holds no calendar (BEGIN:VCALENDAR … END:VCALENDAR)."))
    return list(components)


def _row(
    event: icalendar.Component,
    line: int,
    options: ReadOptions,
    seen: dict[str, int],
    definitions: "Definitions",
    cancelled: bool,
) -> Row:
    uid = str(event.get("UID", ""))
    try:
        if "RECURRENCE-ID" in event:
            raise Refusal(
                _(
                    "A changed occurrence of a recurring event (RECURRENCE-ID): the timeline "
                    "records single dated events; add its occurrences one by one."
                ),
                _raw(event["RECURRENCE-ID"]),
            )
        for name in RECURRING:
            if name in event:
                raise Refusal(
                    _(
                        "A recurring event (%(property)s): the timeline records single dated "
                        "events; add its occurrences one by one."
                    )
                    % {"property": name},
                    _raw(event[name]),
                )
        if not uid:
            raise Refusal(_("The event has no UID, so a later import could not find it again."))
        if uid in seen:
            raise Refusal(_("UID already given on line %(line)s.") % {"line": seen[uid]}, uid)
        seen[uid] = line
        try:
            values, notes = _values(event, options, definitions, cancelled)
        except (ValueError, TypeError, OverflowError) as error:
            # A property the library kept as broken, or a value out of any calendar's range.
            raise Refusal(_("The event cannot be read: %(error)s") % {"error": error}) from error
    except Refusal as refusal:
        if uid:
            seen.setdefault(uid, line)
        return Refused(line, refusal.reason, refusal.value)
    return Incoming(line, uid, values, tuple(notes))


def _values(
    event: icalendar.Component,
    options: ReadOptions,
    definitions: "Definitions",
    cancelled: bool,
) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name, key in (("SUMMARY", "title"), ("DESCRIPTION", "description")):
        for text in _all(event.get(name)):
            if not str(text).strip():
                continue  # as Google and Outlook write a text they have none of
            language = _language(text, name, options, notes)
            values.setdefault(f"{key}_{language}", str(text))
    status = str(event.get("STATUS", "")).upper()
    if cancelled:
        values["status"] = "cancelled"
        notes.append(_("The calendar cancels its events (METHOD:CANCEL)."))
    elif status in STATUSES:
        values["status"] = STATUSES[status]
    elif status:
        notes.append(_("Status “%(status)s” not understood; left as it is.") % {"status": status})
    values.update(_dates(event, options, definitions, notes))
    for location in _all(event.get("LOCATION")):
        if str(location).strip():
            notes.append(_("Location not imported: %(location)s") % {"location": location})
    return values, notes


def _all(value: Any) -> list[Any]:
    """Return a property's values: the library gives a list for a repeated property."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _language(text: Any, name: str, options: ReadOptions, notes: list[str]) -> str:
    said = str(getattr(text, "params", {}).get("LANGUAGE", ""))
    language = languages.supported(said)
    if language:
        return language
    if said:
        notes.append(
            _(
                "%(property)s is in “%(given)s”, which the timeline is not written in; "
                "read as %(used)s."
            )
            % {"property": name, "given": said, "used": options.language}
        )
    return options.language


# --- dates and times ---------------------------------------------------------------------
def _dates(
    event: icalendar.Component,
    options: ReadOptions,
    definitions: "Definitions",
    notes: list[str],
) -> dict[str, Any]:
    if "DTSTART" not in event:
        raise Refusal(_("The event has no start (DTSTART)."))
    start = _moment(event["DTSTART"], options, definitions)
    end: Moment | None = None
    if "DTEND" in event:
        end = _moment(event["DTEND"], options, definitions)
    elif "DURATION" in event:
        end = _after(start, event["DURATION"])
    notes.extend(start.notes)
    if end is not None:
        notes.extend(note for note in end.notes if note not in notes)
    if isinstance(start.when, dt.datetime):
        return _timed(start, end)
    return _all_day(start.when, end)


def _all_day(start: dt.date, end: Moment | None) -> dict[str, Any]:
    _check_range(start)
    last = start
    if end is not None:
        if isinstance(end.when, dt.datetime):
            raise Refusal(_("The event starts on a date but ends at a time."), end.when.isoformat())
        # DTEND of an all-day event is exclusive (RFC 5545 3.6.1).
        last = max(end.when - dt.timedelta(days=1), start)
        if end.when < start:
            raise Refusal(_("The event ends before it starts."), end.when.isoformat())
    _check_range(last)
    return {
        "precision": timing.DAY,
        "start_date": start,
        "start_time": None,
        "end_date": last if last != start else None,
        "end_time": None,
    }


def _timed(start: Moment, end: Moment | None) -> dict[str, Any]:
    local_start = cast(dt.datetime, start.when)
    _check_range(local_start.date())
    values: dict[str, Any] = {
        "precision": timing.MINUTE,
        "start_date": local_start.date(),
        "start_time": local_start.time(),
        "end_date": None,
        "end_time": None,
        "timezone": start.zone,
    }
    if end is not None:
        if not isinstance(end.when, dt.datetime):
            raise Refusal(_("The event starts at a time but ends on a date."), end.when.isoformat())
        if end.when < local_start:
            raise Refusal(_("The event ends before it starts."), end.when.isoformat())
        if end.when > local_start:
            local_end = end.when.astimezone(timing.zone(start.zone))
            _check_range(local_end.date())
            values["end_date"], values["end_time"] = local_end.date(), local_end.time()
    return values


def _check_range(day: dt.date) -> None:
    if not timing.in_range(day):
        raise Refusal(
            _("The date is outside what the timeline holds (%(first)s to %(last)s).")
            % {"first": timing.EARLIEST_DATE, "last": timing.LATEST_DATE},
            day.isoformat(),
        )


def _moment(prop: Any, options: ReadOptions, definitions: "Definitions") -> Moment:
    """Return a DTSTART or DTEND as a date, or as an aware time in the zone it is kept in."""
    if isinstance(prop, list):
        raise Refusal(_("The event gives more than one start or end."), _raw(prop))
    if isinstance(prop, vBroken):
        raise Refusal(_("The date or time cannot be read."), str(prop))
    value = prop.dt
    if str(prop.params.get("VALUE", "")).upper() == "DATE" and isinstance(value, dt.datetime):
        value = value.date()  # the library makes a date with a TZID a datetime
    if not isinstance(value, dt.datetime):
        if not isinstance(value, dt.date):
            raise Refusal(_("The date or time cannot be read."), _raw(prop))
        return Moment(value)
    wall = value.replace(tzinfo=None)
    tzid = str(prop.params.get("TZID", ""))
    if tzid:
        return _zoned(wall, tzid, options, definitions, _raw(prop))
    if value.tzinfo is not None:
        # Only UTC ("Z") times are aware without a TZID.
        moment = value.astimezone(timing.zone(options.timezone))
        note = _("A UTC time, shown in %(zone)s.") % {"zone": options.timezone}
        return Moment(moment, options.timezone, [note])
    note = _("A time with no time zone (floating), read as %(zone)s.") % {"zone": options.timezone}
    return Moment(_local(wall, options.timezone, _raw(prop)), options.timezone, [note])


def _zoned(
    wall: dt.datetime,
    tzid: str,
    options: ReadOptions,
    definitions: "Definitions",
    raw: str,
) -> Moment:
    name, note = iana_name(tzid)
    if name and not (note and definitions.defines(tzid)):
        return Moment(_local(wall, name, raw), name, [note] if note else [])
    if name:
        # A Windows or vendor name stands for an IANA zone by CLDR's mapping; the file's own
        # definition says what the sender's calendar meant, and wins where the two disagree
        # (Windows moved Astana from "Central Asia Standard Time" when Kazakhstan went to +05).
        local = _local(wall, name, raw)
        try:
            defined = wall.replace(tzinfo=definitions.zone(tzid, raw)).utcoffset()
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            defined = local.utcoffset()
        if defined == local.utcoffset():
            return Moment(local, name, [note])
    try:
        instant = wall.replace(tzinfo=definitions.zone(tzid, raw)).astimezone(dt.UTC)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise Refusal(
            _("The file's definition of the time zone “%(zone)s” cannot be read.") % {"zone": tzid},
            raw,
        ) from error
    moment = instant.astimezone(timing.zone(options.timezone))
    told = _(
        "The time zone “%(zone)s” is defined only in the file: the time is read by that "
        "definition and shown in %(shown)s."
    ) % {"zone": tzid, "shown": options.timezone}
    return Moment(moment, options.timezone, [told])


def iana_name(tzid: str) -> tuple[str, str]:
    """Return the IANA name a TZID stands for (or "") and a note if it was not one as given."""
    cleaned = tzid.strip().strip('"').strip("/")
    if timing.is_iana_zone(cleaned):
        return cleaned, ""
    if cleaned in WINDOWS_TO_OLSON:
        name = WINDOWS_TO_OLSON[cleaned]
        return name, _("Windows zone “%(given)s” read as %(name)s.") % {
            "given": cleaned,
            "name": name,
        }
    if tzid.strip().startswith("/"):
        # A globally unique TZID (RFC 5545 3.2.19) such as /mozilla.org/20050126_1/Europe/Berlin.
        for candidate in _suffixes(cleaned):
            if timing.is_iana_zone(candidate):
                return candidate, _("Zone “%(given)s” read as %(name)s.") % {
                    "given": tzid,
                    "name": candidate,
                }
    return "", ""


def _suffixes(path: str) -> Iterator[str]:
    parts = path.split("/")
    for start in range(1, len(parts)):
        yield "/".join(parts[start:])


class Definitions:
    """The time zones a file defines (VTIMEZONE), each turned into a tzinfo once per file."""

    def __init__(self, calendars: list[icalendar.Component]) -> None:
        self._components: dict[str, icalendar.Component] = {}
        for calendar in calendars:
            for timezone in calendar.walk("VTIMEZONE"):
                self._components.setdefault(str(timezone.get("TZID", "")), timezone)
        self._zones: dict[str, dt.tzinfo] = {}

    def defines(self, tzid: str) -> bool:
        """Tell whether the file has a VTIMEZONE for *tzid*."""
        return tzid in self._components

    def zone(self, tzid: str, raw: str) -> dt.tzinfo:
        """Return the zone the file defines as *tzid*, or raise Refusal if it defines none."""
        if tzid not in self._zones:
            component = self._components.get(tzid)
            if component is None:
                raise Refusal(
                    _("The time zone “%(zone)s” is not known and the file does not define it.")
                    % {"zone": tzid},
                    raw,
                )
            # Made from this file's definition, not looked up: the library caches custom
            # zones by TZID for the whole process, so another file's could be found instead.
            self._zones[tzid] = tzp.create_timezone(component)
        return self._zones[tzid]


def _local(wall: dt.datetime, zone_name: str, raw: str) -> dt.datetime:
    try:
        return timing.local_datetime(wall.date(), wall.time(), zone_name)
    except timing.LocalTimeError as error:
        raise Refusal(str(error), raw) from error


def _after(start: Moment, prop: Any) -> Moment:
    """Return the end of an event given by DURATION: days are calendar days, the rest exact."""
    duration = None if isinstance(prop, vBroken) else getattr(prop, "dt", None)
    if not isinstance(duration, dt.timedelta):
        raise Refusal(_("The duration cannot be read."), _raw(prop))
    if not isinstance(start.when, dt.datetime):
        return Moment(start.when + dt.timedelta(days=duration.days))
    days = dt.timedelta(days=duration.days)
    try:
        stepped = timing.local_datetime(start.when.date() + days, start.when.time(), start.zone)
    except (timing.LocalTimeError, OverflowError):
        stepped = start.when + days
    end = (stepped.astimezone(dt.UTC) + (duration - days)).astimezone(start.when.tzinfo)
    return Moment(end, start.zone)


def _raw(prop: Any) -> str:
    """Return a property's value as the file writes it, for showing beside a refusal."""
    if isinstance(prop, list):
        return ", ".join(_raw(item) for item in prop)
    try:
        return bytes(prop.to_ical()).decode("utf-8", "replace")
    except (AttributeError, ValueError, TypeError):
        return str(prop)
