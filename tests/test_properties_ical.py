"""Property: any event the model accepts reads back the same through icalendar and ical.js.

Hypothesis builds events (text with every kind of Unicode, times at every precision, in zones
with odd offsets and clock changes), saves them through model validation, renders them as the
event's calendar file (the same VEVENT the feeds carry), and parses the bytes with the icalendar
library and with Mozilla's ical.js (one node process for the whole session). Both must read
exactly what the feed meant to say, and that must be the model's own text and times.

`make test PYTEST_ARGS='tests/test_properties_ical.py'`; more examples: HYPOTHESIS_PROFILE=explore.
"""

import datetime as dt
import functools
import itertools
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tests.parsers import IcalJsStream, assert_lines_well_formed
from timeline import timing
from timeline.feeds import ical
from timeline.feeds import publishing as feeds
from timeline.models import Event, Place, Precision, Source, Topic

UTC = dt.UTC
# Zones whose offsets or clock changes are unusual: Almaty moved from +06 to +05 in 2024,
# Chatham is +12:45/+13:45, St John's -03:30/-02:30, Lord Howe moves by 30 minutes, Dublin's
# "summer time" is its standard time, Casablanca leaves summer time for Ramadan, Apia skipped a
# whole day in 2011.
ZONES = (
    "Asia/Almaty",
    "Europe/Moscow",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "Africa/Casablanca",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "America/Santiago",
    "Asia/Tehran",
    "UTC",
)
FIRST_DAY, LAST_DAY = dt.date(1980, 1, 1), dt.date(2060, 12, 31)
# Characters that iCalendar escapes or folds around, and text that trips Unicode handling:
# right-to-left, combining marks, astral emoji and flag pairs, line and paragraph separators.
FRAGMENTS = (
    ",",
    ";",
    "\\",
    ":",
    '"',
    "\\n",
    "\\,",
    " ",
    "  ",
    "\t",
    "Қазақстан",
    "Россия",
    "سلام",
    "שלום",
    "\u200f",
    "e\u0301",
    "\u0301",
    "🇰🇿",
    "🇷🇺",
    "👩\u200d👩\u200d👧",
    "𝔘𝔫𝔦",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u00a0",
    "é" * 40,
    "ж" * 80,
    "😀" * 30,
)
COUNTRIES = ("KZ", "RU", "BQ", "CD", "US")
KINDS = [kind for kind in Event.Kind.values if kind != Event.Kind.MILESTONE]
_numbers = itertools.count()


def text(max_size: int, multi_line: bool, min_size: int = 0) -> st.SearchStrategy[str]:
    """Return text the model accepts: no control characters but tab (and newline if multi-line)."""
    allowed = "\t\n" if multi_line else "\t"
    characters = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")) | st.sampled_from(
        allowed
    )
    piece = st.text(characters, min_size=1, max_size=20) | st.sampled_from(FRAGMENTS)
    pieces = st.lists(piece, min_size=min_size, max_size=12)
    return pieces.map(lambda parts: "".join(parts)[:max_size])


non_blank_line = text(300, False, min_size=1)


@st.composite
def local_moment(draw, zone: str) -> tuple[dt.date, dt.time]:
    """Return a local date and time, often within hours of one of the zone's clock changes."""
    if zone != "UTC" and draw(st.booleans()):
        year = draw(st.integers(FIRST_DAY.year, LAST_DAY.year - 1))
        changes = clock_changes(zone, year)
        if changes:
            change = draw(st.sampled_from(changes))
            offset = draw(st.integers(-3 * 60, 3 * 60))
            moment = change + dt.timedelta(minutes=offset)
            return moment.date(), moment.time().replace(second=0, microsecond=0, fold=0)
    day = draw(st.dates(FIRST_DAY, LAST_DAY))
    at = draw(st.times().map(lambda t: t.replace(microsecond=0)))
    return day, at


@functools.cache
def clock_changes(zone: str, year: int) -> list[dt.datetime]:
    """Return the local wall times, just after each change, at which the zone's offset changes."""
    tz = ZoneInfo(zone)
    step = dt.timedelta(hours=6)
    moment = dt.datetime(year, 1, 1, tzinfo=UTC)
    changes = []
    while moment.year == year:
        before, after = moment, moment + step
        if before.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            while after - before > dt.timedelta(minutes=1):  # the change is in (before, after]
                middle = before + (after - before) / 2
                if middle.astimezone(tz).utcoffset() == before.astimezone(tz).utcoffset():
                    before = middle
                else:
                    after = middle
            changes.append(after.astimezone(tz).replace(tzinfo=None))
        moment += step
    return changes


@st.composite
def event_specs(draw) -> dict:
    """Return the fields of an event, its place, topics and sources, as an editor might."""
    zone = draw(st.sampled_from(ZONES) | st.sampled_from(sorted(timing.available_zones())))
    precision = draw(st.sampled_from([c.value for c in Precision]))
    day, at = draw(local_moment(zone))
    fields = {"precision": precision, "start_date": day}
    if precision == timing.MINUTE:
        fields["start_time"] = at
        ending = draw(st.sampled_from(("none", "time", "date")))
        days = draw(st.integers(0, 3))
        if ending == "time":
            fields["end_date"] = day + dt.timedelta(days=days)
            fields["end_time"] = draw(local_moment(zone).map(lambda moment: moment[1]))
        elif ending == "date":
            fields["end_date"] = day + dt.timedelta(days=days)
    elif precision == timing.DAY and draw(st.booleans()):
        fields["end_date"] = day + dt.timedelta(days=draw(st.integers(0, 10)))
    with_place = draw(st.booleans())
    own_zone = not with_place or draw(st.booleans())
    return {
        "event": {
            **fields,
            "title": draw(non_blank_line),
            "summary": draw(text(600, True)),
            "description": draw(text(2000, True)),
            "kind": draw(st.sampled_from(KINDS)),
            "status": draw(st.sampled_from(Event.Status.values)),
            "sequence": draw(st.integers(0, 2**31 - 1)),
            "timezone": zone if own_zone else "",
        },
        "place": {
            "name": draw(text(200, False, min_size=1)),
            "country": draw(st.sampled_from(COUNTRIES)),
            "timezone": draw(st.sampled_from(ZONES)) if own_zone else zone,
        }
        if with_place
        else None,
        "topics": draw(st.lists(text(100, False, min_size=1), max_size=3, unique=True)),
        "publishers": draw(st.lists(text(200, False, min_size=1), max_size=2)),
    }


def save(instance):
    """Save *instance* if model validation accepts it; otherwise reject the example."""
    try:
        instance.full_clean()
    except ValidationError:
        reject()
    instance.save()
    return instance


def build(spec: dict) -> Event:
    """Save the event of *spec* with its links, and return it loaded as the feeds load it."""
    number = next(_numbers)
    place = None
    if spec["place"]:
        place = save(Place(slug=f"place-{number}", **spec["place"]))
    fields = dict(spec["event"])
    sequence = fields.pop("sequence")
    event = Event(place=place, published=True, slug=f"event-{number}", **fields)
    event.sequence = sequence
    save(event)
    for position, name in enumerate(spec["topics"]):
        event.topics.add(save(Topic(name=name, slug=f"topic-{number}-{position}")))
    for position, publisher in enumerate(spec["publishers"]):
        save(
            Source(
                event=event,
                url=f"https://example.kz/{number}/{position}",
                publisher=publisher,
                published_on=dt.date(2025, 11, 12),
            )
        )
    return (
        Event.objects.select_related("place").prefetch_related("topics", "sources").get(pk=event.pk)
    )


@contextmanager
def rolled_back():
    """Run one example in a savepoint that is rolled back, so examples never see each other."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="session")
def icaljs():
    stream = IcalJsStream()
    yield stream
    stream.close()


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_clock_start(event: Event) -> dt.datetime:
    """Return the UTC start from the local fields alone (a repeated wall time: its first)."""
    local = dt.datetime.combine(event.start_date, event.start_time, ZoneInfo(event.zone))
    return local.astimezone(UTC)


def read_with_icalendar(data: bytes) -> dict:
    calendar = icalendar.Calendar.from_ical(data)
    problems = [(c.name, error) for c in calendar.walk() for error in c.errors]
    assert problems == []
    (vevent,) = calendar.walk("VEVENT")
    start = vevent.decoded("DTSTART")
    end = vevent.decoded("DTEND") if "DTEND" in vevent else None
    all_day = not isinstance(start, dt.datetime)
    lines = vevent.get("CATEGORIES", [])
    lines = lines if isinstance(lines, list) else [lines]
    categories = [str(category) for line in lines for category in line.cats]

    def value(name: str):
        return str(vevent[name]) if name in vevent else None

    return {
        "uid": value("UID"),
        "summary": value("SUMMARY"),
        "description": value("DESCRIPTION"),
        "location": value("LOCATION"),
        "categories": categories,
        "url": value("URL"),
        "status": value("STATUS"),
        "sequence": int(vevent.decoded("SEQUENCE")),
        "all_day": all_day,
        "start": start.isoformat() if all_day else utc_text(start),
        "end": (end.isoformat() if all_day else utc_text(end)) if end else None,
    }


def what_the_feed_says(entry) -> dict:
    """Return what the calendar view of the event means, in the parsers' shape.

    Its text as `ical.clean_text` leaves it: line ends as LF, no control characters (none that
    the model accepts), no U+FEFF.
    """
    clean = ical.clean_text
    if entry.all_day:
        start, end = entry.start.isoformat(), entry.end.isoformat()
    else:
        start, end = utc_text(entry.start), utc_text(entry.end) if entry.end else None
    return {
        "uid": entry.uid,
        "summary": clean(entry.summary),
        "description": clean(entry.description) or None,
        "location": clean(entry.location) or None,
        "categories": [clean(category) for category in entry.categories],
        "url": entry.url or None,
        "status": entry.status,
        "sequence": entry.sequence,
        "all_day": entry.all_day,
        "start": start,
        "end": end,
    }


def assert_carries_the_model(event: Event, said: dict) -> None:
    """The calendar view keeps the model's text (as clean_text leaves it) and times."""
    clean = ical.clean_text
    prefix = {Event.Status.CANCELLED: "Cancelled: ", Event.Status.POSTPONED: "Postponed: "}
    assert said["summary"] == clean(prefix.get(event.status, "") + event.title)
    assert said["status"] == feeds.ICAL_STATUS[event.status]
    assert said["sequence"] == event.sequence
    description = said["description"]
    assert description.startswith(clean(event.summary or event.description))
    assert clean(event.description) in description
    for source in event.sources.all():
        assert f"- {clean(source.publisher)}, " in description
    assert said["url"].endswith(f"/events/{event.slug}/")
    place = event.place
    assert said["location"] == (clean(f"{place.name}, {place.country.name}") if place else None)
    topics = [clean(topic.name) for topic in event.topics.all()]
    assert said["categories"] == [event.get_kind_display(), *topics]
    if event.precision == timing.DAY:
        assert said["all_day"]
        assert said["start"] == event.start_date.isoformat()
        last = event.end_date or event.start_date
        assert said["end"] == (last + dt.timedelta(days=1)).isoformat()
    else:
        assert not said["all_day"]
        assert said["start"] == utc_text(wall_clock_start(event))
        assert said["end"] == (utc_text(event.end_utc) if event.end_utc else None)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=event_specs())
def test_any_accepted_event_reads_back_the_same_in_icalendar_and_icaljs(db, icaljs, spec):
    with rolled_back():
        event = build(spec)
        if not event.is_calendar_dated:
            # "2026, date to be announced" stays out of calendars altogether.
            assert not Event.objects.in_calendars().filter(pk=event.pk).exists()
            return
        assert Event.objects.in_calendars().filter(pk=event.pk).exists()
        data = feeds.render_single(event)
        said = what_the_feed_says(feeds.calendar_event(event))
        assert_carries_the_model(event, said)

    assert_lines_well_formed(data)
    assert read_with_icalendar(data) == said

    answer = icaljs.parse(data)
    assert "error" not in answer, answer.get("error")
    (read,) = answer["events"]
    tzid = read.pop("tzid")
    if said["end"] is None:
        read["end"] = None if read["end"] == read["start"] else read["end"]
    assert read == said
    assert tzid in (None, event.zone)
