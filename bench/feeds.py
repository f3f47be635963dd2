"""Benchmark feed rendering at 1,000 and 10,000 events, per language, against baselines measured
in the same run.

Prints, per size and per language (kk, ru, en): our full render (the pure renderer on the events,
like the baselines), our full publish (cold fragment cache, from the database to stored bytes),
our re-publish after one edit, and django-ical rendering the same feed in the same language; a
plain `icalendar` render of the English feed; our re-publish of all three languages after one
edit; then ratios. Run: `make bench` (needs PostgreSQL), which then runs bench/memory.py (peak
resident memory of a cold 50,000-event publish).
"""

import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/timeline")

import django  # noqa: E402

django.setup()

import icalendar  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.utils import translation  # noqa: E402
from django_ical.views import ICalFeed  # noqa: E402

from timeline import languages, timing  # noqa: E402
from timeline.feeds import ical  # noqa: E402
from timeline.feeds import publishing as feeds  # noqa: E402
from timeline.models import Event, EventFragment, Feed, Place, Source, Topic  # noqa: E402
from timeline.models.translations import shown  # noqa: E402

ZONES = ("Asia/Almaty", "Europe/Moscow", "Asia/Omsk", "Europe/Berlin", "UTC")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
LANGUAGES = languages.CODES
# Synthetic texts, one per language, numbered per event.
TITLES = {
    "kk": "Сауда және энергетика жөніндегі келіссөздер, {n}-раунд; Қазақстан",
    "ru": "Переговоры о торговле и энергетике, раунд {n}; Қазақстан",
    "en": "Trade and energy talks, round {n}; Kazakhstan",
}
SUMMARIES = {
    "kk": "Делегациялар сауда, энергетика және көлік жобаларын қарайды.",
    "ru": "Делегации обсуждают проекты в торговле, энергетике и на транспорте.",
    "en": "Delegations meet to review trade, energy and transport projects.",
}
DESCRIPTIONS = {
    "kk": "Кездесудің, оның күн тәртібі мен нәтижелерінің ұзағырақ сипаттамасы. " * 3,
    "ru": "Более подробное описание встречи, её повестки и итогов. " * 3,
    "en": "A longer description of the meeting, its agenda and its outcomes. " * 3,
}
PLACES = {"kk": "Қала {i}", "ru": "Город {i}", "en": "City {i}"}


def in_each(field: str, texts: dict[str, str], **values: object) -> dict[str, str]:
    """Return the model fields of *field* in every language (title_kk=…, title_ru=…, …)."""
    return {f"{field}_{code}": texts[code].format(**values) for code in LANGUAGES}


def populate(
    count: int,
    first_day: dt.date = dt.date(2026, 1, 1),
    *,
    now: dt.datetime = dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    topic_every: int = 1,
    cancelled_every: int | None = 17,
    with_sources: bool = True,
) -> None:
    """Replace the events with *count* generated ones (bulk, with UTC times computed), one a day
    from *first_day* over 900 days, then again: every *topic_every*-th under the topic "energy",
    every *cancelled_every*-th cancelled, each with a source if *with_sources*."""
    Event.objects.all().delete()
    places = [
        Place.objects.get_or_create(
            slug=f"bench-{i}",
            defaults={
                **in_each("name", PLACES, i=i),
                "country": "KZ",
                "timezone": zone,
                "latitude": 43.2 + i,
                "longitude": 76.9 + i,
            },
        )[0]
        for i, zone in enumerate(ZONES)
    ]
    topic, _ = Topic.objects.get_or_create(
        slug="energy",
        defaults={"name_kk": "Энергетика", "name_ru": "Энергетика", "name_en": "Energy"},
    )
    events = []
    for number in range(count):
        place = places[number % len(places)]
        day = first_day + dt.timedelta(days=number % 900)
        all_day = number % 3 == 0
        precision = timing.DAY if all_day else timing.MINUTE
        start_time = None if all_day else dt.time(9 + number % 8, 30)
        span = timing.utc_span(precision, place.timezone, day, start_time)
        events.append(
            Event(
                slug=f"bench-event-{number}",
                **in_each("title", TITLES, n=number),
                **in_each("summary", SUMMARIES),
                **in_each("description", DESCRIPTIONS),
                kind=Event.Kind.MEETING,
                status=(
                    Event.Status.CANCELLED
                    if cancelled_every and number % cancelled_every == 0
                    else Event.Status.CONFIRMED
                ),
                published=True,
                precision=precision,
                start_date=day,
                start_time=start_time,
                place=place,
                countries="KZ,RU",
                start_utc=span.start,
                end_utc=span.end,
                zone=place.timezone,
                created_at=now,
                updated_at=now,
            )
        )
    Event.objects.bulk_create(events, batch_size=2000)
    chosen = Event.objects.order_by("pk").values_list("pk", flat=True)[::topic_every]
    Topic.events.through.objects.bulk_create(
        [Topic.events.through(event_id=pk, topic_id=topic.pk) for pk in chosen],
        batch_size=5000,
    )
    if not with_sources:
        return
    Source.objects.bulk_create(
        [
            Source(
                event_id=pk,
                url=f"https://astanatimes.com/2026/01/article-{pk}/",
                publisher="The Astana Times",
                published_on=dt.date(2026, 1, 2),
            )
            for pk in Event.objects.values_list("pk", flat=True)
        ],
        batch_size=5000,
    )


def events_for_baselines():
    return list(
        feeds.feed_events(Event.objects.all())
        .select_related("place")
        .prefetch_related("topics", "sources")
    )


def plain_icalendar() -> int:
    """Render the English feed the straightforward way: one icalendar Calendar, then to_ical."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//bench//EN")
    calendar.add("version", "2.0")
    for event in events_for_baselines():
        entry = feeds.calendar_event(event, languages.ENGLISH)
        vevent = icalendar.Event()
        vevent.add("uid", entry.uid)
        vevent.add("dtstamp", entry.last_modified)
        vevent.add("created", entry.created)
        vevent.add("last-modified", entry.last_modified)
        vevent.add("sequence", entry.sequence)
        vevent.add("summary", entry.summary)
        vevent.add("description", entry.description)
        vevent.add("dtstart", entry.start)
        if entry.end:
            vevent.add("dtend", entry.end)
        vevent.add("location", entry.location)
        if entry.geo:
            vevent.add("geo", entry.geo)
        vevent.add("url", entry.url)
        vevent.add("categories", list(entry.categories))
        vevent.add("status", entry.status)
        vevent.add("transp", "TRANSPARENT")
        calendar.add_component(vevent)
    calendar.add_missing_timezones()
    return len(calendar.to_ical())


class DjangoIcalFeed(ICalFeed):
    """The same events through django-ical in one language, as a project using it would write
    the feed (rendered with that language active)."""

    product_id = "-//bench//EN"
    title = "Bench"

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def items(self):
        return events_for_baselines()

    def item_guid(self, item):
        return str(item.uid)

    def item_title(self, item):
        return shown(item, "title", self.language).text

    def item_description(self, item):
        return feeds.describe_event(item, item.get_absolute_url(), self.language)

    def item_link(self, item):
        return item.get_absolute_url()

    def item_start_datetime(self, item):
        return feeds.calendar_event(item, self.language).start

    def item_end_datetime(self, item):
        return feeds.calendar_event(item, self.language).end

    def item_updateddate(self, item):
        return item.updated_at

    def item_created(self, item):
        return item.created_at

    def item_location(self, item):
        return str(item.place)

    def item_categories(self, item):
        return [topic.name for topic in item.topics.all()]

    def item_status(self, item):
        return feeds.ICAL_STATUS[item.status]

    def item_geolocation(self, item):
        place = item.place
        return (float(place.latitude), float(place.longitude)) if place.latitude else None

    def item_transparency(self, item):
        return "TRANSPARENT"


def django_ical(language: str) -> int:
    request = RequestFactory().get("/bench.ics", HTTP_HOST="localhost")
    with translation.override(language):
        return len(DjangoIcalFeed(language)(request).content)


def all_key(language: str) -> str:
    return feeds.feed_key(language, "all")


def clear_caches(language: str) -> None:
    """Forget the feed and the cached VEVENTs of one language (the others stay warm)."""
    EventFragment.objects.filter(language=language).delete()
    Feed.objects.filter(key=all_key(language)).delete()


def ours_full(language: str) -> int:
    return len(feeds.publish(all_key(language)).read())


def ours_render(language: str) -> int:
    """Render the same events with our renderer alone: no cache, no storage (like the baselines)."""
    entries = [feeds.calendar_event(event, language) for event in events_for_baselines()]
    meta = ical.CalendarMeta(
        name="Bench", description="Bench", url="https://x/", source="https://x/"
    )
    return len(ical.render(meta, entries))


def edit_one_event() -> None:
    """Bring every language's feed up to date (untimed), then edit one event."""
    ours_after_one_edit(LANGUAGES)
    event = Event.objects.order_by("?").first()
    event.start_date += dt.timedelta(days=1)
    event.save()


def ours_after_one_edit(languages_: tuple[str, ...]) -> int:
    return sum(len(feeds.publish(all_key(language)).read()) for language in languages_)


THREE = "+".join(LANGUAGES)


def renderers() -> dict[str, tuple[Callable[[], int], Callable[[], None] | None, int]]:
    """Return name: (function, untimed preparation, timed runs per round)."""
    table: dict[str, tuple[Callable[[], int], Callable[[], None] | None, int]] = {}
    for language in LANGUAGES:
        table[f"{language} ours: full render"] = (partial(ours_render, language), None, 1)
        table[f"{language} ours: full publish (cold)"] = (
            partial(ours_full, language),
            partial(clear_caches, language),
            1,
        )
        # Short enough to sample more often: its median is steadier on a noisy machine.
        table[f"{language} ours: after one edit"] = (
            partial(ours_after_one_edit, (language,)),
            edit_one_event,
            5,
        )
        table[f"{language} django-ical"] = (partial(django_ical, language), None, 1)
    table["en plain icalendar"] = (plain_icalendar, None, 1)
    table[f"{THREE} ours: after one edit"] = (
        partial(ours_after_one_edit, LANGUAGES),
        edit_one_event,
        5,
    )
    return table


def measure_all(repeats: int) -> dict[str, tuple[float, int]]:
    """Time every renderer *repeats* times, interleaved so noise falls on all alike.

    Each round first runs every renderer once untimed (warm caches and code paths), then
    times them in a rotating order; return each renderer's median and output size.
    """
    table = renderers()
    timings: dict[str, list[float]] = {name: [] for name in table}
    sizes: dict[str, int] = {}
    names = list(table)
    for function, before, _runs in table.values():
        if before:
            before()
        function()
    for round_number in range(repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            function, before, runs = table[name]
            for _ in range(runs):
                if before:
                    before()
                started = time.perf_counter()
                sizes[name] = function()
                timings[name].append(time.perf_counter() - started)
    return {name: (statistics.median(timings[name]), sizes[name]) for name in names}


def main() -> None:
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"{'events':>7} {'renderer':<34} {'median s':>9} {'bytes':>11}")
        for count, repeats in ((1_000, REPEATS + 4), (10_000, REPEATS)):
            populate(count)
            results = measure_all(repeats)
            for name, (seconds, size) in results.items():
                print(f"{count:>7} {name:<34} {seconds:>9.4f} {size:>11,}")
            edits = []
            for language in LANGUAGES:
                baseline = results[f"{language} django-ical"][0]
                edit = results[f"{language} ours: after one edit"][0]
                edits.append(edit)
                for label, ours in (
                    ("ours full render", results[f"{language} ours: full render"][0]),
                    ("ours full publish", results[f"{language} ours: full publish (cold)"][0]),
                    ("ours after one edit", edit),
                ):
                    ratio = f"{language} ratio django-ical / {label}"
                    print(f"{count:>7} {ratio:<46} {baseline / ours:8.2f}x")
            plain = results["en plain icalendar"][0]
            render = results["en ours: full render"][0]
            print(f"{count:>7} en ratio plain icalendar / ours full render {plain / render:8.2f}x")
            three = results[f"{THREE} ours: after one edit"][0]
            one = statistics.mean(edits)
            print(
                f"{count:>7} ratio all three languages / one language, after one edit "
                f"{three / one:6.2f}x (one: mean of {', '.join(LANGUAGES)})"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
