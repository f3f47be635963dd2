"""What followers were told of an event's time, place and status, kept as data, never as words.

A schedule (see `schedule_of`) holds the event's dates and times at their precision, its zone,
its UTC span, its place (id, country and name in every language) and its status code. A change
notice keeps the old and the new one and is put into words only when it is sent, in the
language its reader has then: "Перенесено: было 11 ноября 2025 г., теперь 12 ноября 2025 г.".
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django_countries import countries

from .. import languages, timing
from ..models import Event, Place, is_calendar_precision


def place_of(place: Place | None) -> dict[str, Any] | None:
    """Return a place as a schedule keeps it: its id, country and name in every language."""
    if place is None:
        return None
    return {
        "id": place.pk,
        "country": place.country.code,
        "name": {code: place.text_in("name", code) for code in languages.CODES},
    }


def schedule_of(event: Event) -> dict[str, Any]:
    """Return what followers are told about an event's time, place and status, as data."""
    return {
        "precision": event.precision,
        "start_date": event.start_date.isoformat(),
        "start_time": _iso(event.start_time),
        "end_date": _iso(event.end_date),
        "end_time": _iso(event.end_time),
        "zone": event.zone,
        "start_utc": event.start_utc.isoformat(),
        "end_utc": _iso(event.end_utc),
        "place": place_of(event.place) if event.place_id else None,
        "status": event.status,
    }


def _iso(value: dt.date | dt.time | None) -> str | None:
    return value.isoformat() if value is not None else None


def schedule_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Tell whether two schedules differ in time, place or status (a new place name is not)."""
    before, after = read(old), read(new)
    return (before.start_utc, before.end_utc, before.place_key, before.status) != (
        after.start_utc,
        after.end_utc,
        after.place_key,
        after.status,
    )


# --- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """A stored schedule, read back."""

    precision: str
    start_date: dt.date
    start_time: dt.time | None
    end_date: dt.date | None
    end_time: dt.time | None
    zone: str
    start_utc: str
    end_utc: str | None
    place: dict[str, Any] | None
    status: str

    @property
    def moment(self) -> tuple[Any, ...]:
        """Return what says when: the local dates and times, the zone and the UTC span."""
        return (
            self.precision,
            self.start_date,
            self.start_time,
            self.end_date,
            self.end_time,
            self.zone,
            self.start_utc,
            self.end_utc,
        )

    @property
    def place_key(self) -> object:
        """Return what tells places apart: the id (a place kept as text before: its words)."""
        if not self.place:
            return None
        if self.place.get("id") is not None:
            return self.place["id"]
        return tuple(sorted(self.place.get("name", {}).items()))


def read(data: dict[str, Any]) -> Schedule:
    """Return a stored schedule; one stored as text before issue 13 is read from its UTC span."""
    if "start_date" not in data:
        data = upgrade(data)
    return Schedule(
        precision=data["precision"],
        start_date=dt.date.fromisoformat(data["start_date"]),
        start_time=_time(data.get("start_time")),
        end_date=_date(data.get("end_date")),
        end_time=_time(data.get("end_time")),
        zone=data["zone"],
        start_utc=data["start_utc"],
        end_utc=data.get("end_utc"),
        place=data.get("place"),
        status=data["status"],
    )


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _time(value: str | None) -> dt.time | None:
    return dt.time.fromisoformat(value) if value else None


PlaceLookup = Callable[[str], dict[str, Any] | None]


def upgrade(old: dict[str, Any], place_named: PlaceLookup = lambda label: None) -> dict[str, Any]:
    """Return a schedule stored as text (its date as English words, its place as "Astana,
    Kazakhstan") as data: the local dates and times come back from its UTC span and zone, the
    place from *place_named* (given the old label), else as the old label, in English."""
    if "start_date" in old:
        return old
    precision, zone_name = old["precision"], old["zone"]
    tz = timing.zone(zone_name)
    start = dt.datetime.fromisoformat(old["start_utc"]).astimezone(tz)
    end = dt.datetime.fromisoformat(old["end_utc"]).astimezone(tz) if old.get("end_utc") else None
    start_time = end_date = end_time = None
    if precision == timing.MINUTE:
        start_time = start.time().isoformat()
        if end is not None and end.time() == dt.time(0) and end.date() > start.date():
            end_date = end.date() - dt.timedelta(days=1)  # a last day given without a time
        elif end is not None:
            end_date, end_time = end.date(), end.time().isoformat()
    elif precision == timing.DAY and end is not None:
        last = end.date() - dt.timedelta(days=1)
        end_date = last if last > start.date() else None
    label = old.get("place") or ""
    place = None
    if label:
        place = place_named(label) or {"id": None, "country": "", "name": {"en": label}}
    return {
        "precision": precision,
        "start_date": start.date().isoformat(),
        "start_time": start_time,
        "end_date": _iso(end_date),
        "end_time": end_time,
        "zone": zone_name,
        "start_utc": old["start_utc"],
        "end_utc": old.get("end_utc"),
        "place": place,
        "status": old["status"],
    }


# --- telling ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Told:
    """Words for one reader, as plain text and as HTML (a text in another language marked)."""

    text: str
    html: SafeString


def _told(text: str, text_language: str, language: str) -> Told:
    if text_language != language and text:
        return Told(text, format_html('<span lang="{}">{}</span>', text_language, text))
    return Told(text, conditional_escape(text))


def when(schedule: Schedule, language: str, with_zone: bool = False) -> Told:
    """Return a schedule's date at its precision in *language* (and its zone, if asked)."""
    text = timing.describe(
        schedule.precision,
        schedule.start_date,
        schedule.start_time,
        schedule.end_date,
        schedule.end_time,
        still_to_come=schedule.status in Event.UPCOMING_STATUSES,
        language=language,
    )
    if with_zone and schedule.precision == timing.MINUTE:
        text = f"{text} ({schedule.zone})"
    return _told(text, language, language)


def where(schedule: Schedule, language: str) -> Told:
    """Return a schedule's place as "name, country" in *language*, the name falling back."""
    place = schedule.place
    with translation.override(language):
        # Translators: in a change notice, where an event no longer has (or had no) place.
        nowhere = gettext("no place given")
        country = str(countries.name(place["country"])) if place and place.get("country") else ""
    if not place:
        return _told(nowhere, language, language)
    names = {code: text for code, text in place.get("name", {}).items() if text}
    name_language = languages.choose(names, language) or language
    name = _told(names.get(name_language, ""), name_language, language)
    if not country:
        return name
    return Told(f"{name.text}, {country}", format_html("{}, {}", name.html, country))


def status(schedule: Schedule, language: str) -> Told:
    """Return a schedule's status in words, in *language*."""
    if schedule.status not in Event.Status.values:
        return _told(schedule.status, language, language)
    with translation.override(language):
        label = str(Event.Status(schedule.status).label)
    return _told(label, language, language)


def _line(message: str, old: Told, new: Told) -> Told:
    # The translated message becomes a format_html template: its own words are escaped there,
    # the values go in as Told.html.
    template = (
        str(conditional_escape(message))
        .replace("{", "{{")
        .replace("}", "}}")
        .replace("%(old)s", "{old}")
        .replace("%(new)s", "{new}")
    )
    return Told(
        text=message % {"old": old.text, "new": new.text},
        html=format_html(template, old=format_html("<del>{}</del>", old.html), new=new.html),
    )


def told(old: dict[str, Any], new: dict[str, Any], language: str) -> list[Told]:
    """Return what changed between two schedules, one line per part, in *language*."""
    before, after = read(old), read(new)
    lines = []
    with translation.override(language):
        if before.moment != after.moment:
            zones = before.zone != after.zone
            dated = is_calendar_precision(after.precision)
            lines.append(
                _line(
                    # Translators: a change notice; old is a year, quarter or month "date to be
                    # announced", new a day (and time).
                    gettext("Date announced: was %(old)s, now %(new)s")
                    if dated and not is_calendar_precision(before.precision)
                    # Translators: a change notice; old and new are dates (and times).
                    else gettext("Moved: was %(old)s, now %(new)s"),
                    when(before, language, with_zone=zones),
                    when(after, language, with_zone=zones),
                )
            )
        if before.place_key != after.place_key:
            lines.append(
                _line(
                    # Translators: a change notice; old and new are places ("Astana, Kazakhstan").
                    gettext("Place changed: was %(old)s, now %(new)s"),
                    where(before, language),
                    where(after, language),
                )
            )
        if before.status != after.status:
            lines.append(
                _line(
                    # Translators: a change notice; old and new are statuses ("Confirmed").
                    gettext("Status changed: was %(old)s, now %(new)s"),
                    status(before, language),
                    status(after, language),
                )
            )
    return lines
