"""Benchmark feed rendering at 1,000 and 10,000 events against baselines measured in the same run.

Prints, per size: our full render (the pure renderer on the events, like the baselines), our full
publish (cold fragment cache, from the database to stored bytes), our re-publish after one edit,
django-ical rendering the same events, and a plain `icalendar` render of the same events; then
ratios. Run: `make bench` (needs PostgreSQL).
"""

import datetime as dt
import os
import statistics
import sys
import time
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
from django_ical.views import ICalFeed  # noqa: E402

from timeline import timing  # noqa: E402
from timeline.feeds import ical  # noqa: E402
from timeline.feeds import publishing as feeds  # noqa: E402
from timeline.models import Event, EventFragment, Feed, Place, Source, Topic  # noqa: E402

ZONES = ("Asia/Almaty", "Europe/Moscow", "Asia/Omsk", "Europe/Berlin", "UTC")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def populate(count: int) -> None:
    """Replace the events with *count* generated ones (bulk, with UTC times computed)."""
    Event.objects.all().delete()
    places = [
        Place.objects.get_or_create(
            slug=f"bench-{i}",
            defaults={
                "name": f"City {i}",
                "country": "KZ",
                "timezone": zone,
                "latitude": 43.2 + i,
                "longitude": 76.9 + i,
            },
        )[0]
        for i, zone in enumerate(ZONES)
    ]
    topic, _ = Topic.objects.get_or_create(slug="energy", defaults={"name": "Energy"})
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    events = []
    for number in range(count):
        place = places[number % len(places)]
        day = dt.date(2026, 1, 1) + dt.timedelta(days=number % 900)
        all_day = number % 3 == 0
        precision = timing.DAY if all_day else timing.MINUTE
        start_time = None if all_day else dt.time(9 + number % 8, 30)
        span = timing.utc_span(precision, place.timezone, day, start_time)
        events.append(
            Event(
                slug=f"bench-event-{number}",
                title=f"Переговоры о торговле и энергетике, раунд {number}; Қазақстан",
                summary="Delegations meet to review trade, energy and transport projects.",
                description="A longer description of the meeting, its agenda and its outcomes. "
                * 3,
                kind=Event.Kind.MEETING,
                status=Event.Status.CANCELLED if number % 17 == 0 else Event.Status.CONFIRMED,
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
    Topic.events.through.objects.bulk_create(
        [Topic.events.through(event_id=e.pk, topic_id=topic.pk) for e in Event.objects.all()],
        batch_size=5000,
    )
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
        feeds.feed_events(feeds.spec("all").selection)
        .select_related("place")
        .prefetch_related("topics", "sources")
    )


def plain_icalendar() -> bytes:
    """Render the same events the straightforward way: one icalendar Calendar, then to_ical."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//bench//EN")
    calendar.add("version", "2.0")
    for event in events_for_baselines():
        entry = feeds.calendar_event(event)
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
    return calendar.to_ical()


class DjangoIcalFeed(ICalFeed):
    """The same events through django-ical, as a project using it would write the feed."""

    product_id = "-//bench//EN"
    title = "Bench"

    def items(self):
        return events_for_baselines()

    def item_guid(self, item):
        return str(item.uid)

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        return feeds.describe_event(item, item.get_absolute_url())

    def item_link(self, item):
        return item.get_absolute_url()

    def item_start_datetime(self, item):
        return feeds.calendar_event(item).start

    def item_end_datetime(self, item):
        return feeds.calendar_event(item).end

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


def django_ical() -> bytes:
    request = RequestFactory().get("/bench.ics", HTTP_HOST="localhost")
    return DjangoIcalFeed()(request).content


def clear_caches() -> None:
    EventFragment.objects.all().delete()
    Feed.objects.all().delete()


def ours_full() -> bytes:
    return feeds.publish("all").read()


def ours_render() -> bytes:
    """Render the same events with our renderer alone: no cache, no storage (like the baselines)."""
    entries = [feeds.calendar_event(event) for event in events_for_baselines()]
    meta = ical.CalendarMeta(
        name="Bench", description="Bench", url="https://x/", source="https://x/"
    )
    return ical.render(meta, entries)


def edit_one_event() -> None:
    event = Event.objects.order_by("?").first()
    event.start_date += dt.timedelta(days=1)
    event.save()


def ours_after_one_edit() -> bytes:
    return feeds.publish("all").read()


RENDERERS = {
    # name: (function, untimed preparation, timed runs per round)
    "ours: full render (ical.render)": (ours_render, None, 1),
    "ours: full publish (cold cache)": (ours_full, clear_caches, 1),
    # Short enough to sample more often: its median is steadier on a noisy machine.
    "ours: re-publish after one edit": (ours_after_one_edit, edit_one_event, 5),
    "plain icalendar": (plain_icalendar, None, 1),
    "django-ical": (django_ical, None, 1),
}


def measure_all(repeats: int) -> dict[str, tuple[float, int]]:
    """Time every renderer *repeats* times, interleaved so noise falls on all alike.

    Each round first runs every renderer once untimed (warm caches and code paths), then
    times them in a rotating order; return each renderer's median and output size.
    """
    timings: dict[str, list[float]] = {name: [] for name in RENDERERS}
    sizes: dict[str, int] = {}
    names = list(RENDERERS)
    for function, before, _runs in RENDERERS.values():
        if before:
            before()
        function()
    for round_number in range(repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            function, before, runs = RENDERERS[name]
            for _ in range(runs):
                if before:
                    before()
                started = time.perf_counter()
                sizes[name] = len(function())
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
            render = results["ours: full render (ical.render)"][0]
            full = results["ours: full publish (cold cache)"][0]
            edit = results["ours: re-publish after one edit"][0]
            plain = results["plain icalendar"][0]
            baseline = results["django-ical"][0]
            print(f"{count:>7} ratio plain icalendar / ours full render   {plain / render:8.2f}x")
            print(f"{count:>7} ratio plain icalendar / ours full publish  {plain / full:8.2f}x")
            print(f"{count:>7} ratio django-ical / ours full publish      {baseline / full:8.2f}x")
            print(f"{count:>7} ratio django-ical / ours after one edit    {baseline / edit:8.1f}x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
