"""What a calendar client should find in a feed, computed from the database independently."""

import datetime as dt
import random

from django.utils import translation
from django.utils.translation import gettext

from timeline import languages
from timeline.models import Event

from .factories import EventFactory, PlaceFactory

ZONES = ("Asia/Almaty", "Europe/Moscow", "Asia/Omsk", "Europe/Berlin", "UTC")
TITLES = (
    "Қазақстан мен Ресей келіссөздері; экономика, энергетика",
    "Переговоры президентов: торговля, энергетика; «союз»",
    "Заседание комиссии \\ межправкомиссия, этап 2",
    "Open-ended line\nwith a newline, a comma; a semicolon: and a colon",
    "Ядерная энергетика — строительство АЭС, Балхаш; Росатом",
)

RUSSIAN_TITLES = (
    "Переговоры президентов: торговля, энергетика; «союз»",
    "Заседание межправкомиссии \\ этап 2; съезд, объём",
)
KAZAKH_TITLES = (
    "Қазақстан мен Ресей келіссөздері; экономика, энергетика",
    "Үкіметаралық комиссия отырысы: ұйғарым, өңір, Ғылым",
)


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def written_in(record, field: str, language: str) -> str | None:
    """Return the language a reader of *language* is shown *field* of *record* in."""
    return next(
        (code for code in languages.reading_order(language) if getattr(record, f"{field}_{code}")),
        None,
    )


def expected(events, language: str = "en", with_languages: bool = False) -> list[dict]:
    """Return the events as every parser should report them in a feed in *language*, by uid.

    With *with_languages*, each also has the LANGUAGE of its SUMMARY, DESCRIPTION and LOCATION.
    """
    rows = []
    for event in events:
        title_language = written_in(event, "title", language)
        summary = getattr(event, f"title_{title_language}") if title_language else ""
        with translation.override(language):
            if event.status == Event.Status.CANCELLED:
                summary = gettext("Cancelled: %(title)s") % {"title": summary}
            elif event.status == Event.Status.POSTPONED:
                summary = gettext("Postponed: %(title)s") % {"title": summary}
        if event.precision == "day":
            start = event.start_date.isoformat()
            end = ((event.end_date or event.start_date) + dt.timedelta(days=1)).isoformat()
        else:
            start = utc_text(event.start_utc)
            end = utc_text(event.end_utc or event.start_utc)
        status = {"cancelled": "CANCELLED", "tentative": "TENTATIVE", "postponed": "TENTATIVE"}
        row = {
            "uid": str(event.uid),
            "summary": summary,
            "status": status.get(event.status, "CONFIRMED"),
            "sequence": event.sequence,
            "all_day": event.precision == "day",
            "start": start,
            "end": end,
        }
        if with_languages:
            described = written_in(event, "summary", language) or written_in(
                event, "description", language
            )
            row["languages"] = {
                "SUMMARY": title_language or language,
                "DESCRIPTION": described or language,
                "LOCATION": written_in(event.place, "name", language) if event.place else None,
            }
        rows.append(row)
    return sorted(rows, key=lambda row: row["uid"])


def generate_events(count: int, seed: int = 7) -> list[Event]:
    """Create *count* published events across zones, all-day and timed, some cancelled."""
    rng = random.Random(seed)
    places = {zone: PlaceFactory(timezone=zone, country="KZ") for zone in ZONES}
    events = []
    for number in range(count):
        zone = ZONES[number % len(ZONES)]
        day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 17))
        fields = {
            "title": f"{rng.choice(TITLES)} #{number}",
            # Every seventh has no Russian title, every fourth no Kazakh one: readers of those
            # are shown another language's (languages.FALLBACKS).
            "title_ru": "" if number % 7 == 0 else f"{RUSSIAN_TITLES[number % 2]} №{number}",
            "title_kk": "" if number % 4 == 0 else f"{KAZAKH_TITLES[number % 2]} №{number}",
            "place": places[zone],
            "start_date": day,
            "status": rng.choice(["confirmed", "tentative", "cancelled", "completed"]),
            "countries": ["KZ", "RU"],
        }
        if number % 3 == 0:
            fields.update(precision="day", end_date=day + dt.timedelta(days=rng.randrange(0, 3)))
        else:
            hour = rng.choice([0, 1, 2, 3, 9, 10, 12, 18, 23])
            fields.update(precision="minute", start_time=dt.time(hour, rng.choice([0, 30])))
            if number % 2:
                end_day = day + dt.timedelta(days=1)
                fields.update(end_date=end_day, end_time=dt.time(rng.randrange(0, 24), 15))
        try:
            events.append(EventFactory(**fields))
        except ValueError:
            continue  # a local time skipped by a clock change: not an event anyone could hold
    return events
