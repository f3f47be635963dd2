"""Measure the peak resident memory of publishing a 50,000-event feed from a cold cache, against
plain `icalendar` building the same feed, each in a fresh process.

Seeds a scratch database with the synthetic events of bench/feeds.py (every text in kk, ru and
en, five real time zones, a topic and a source each), spread over 900 days around today so every
one is inside the feed window (FEED_WINDOW_DAYS). Then, each in a new Python process:

- **ours**: set up as a Celery worker's child is (the Celery app, Django, the tasks imported),
  then run the `publish_feeds` task in-process for /feeds/en/all.ics with no cached VEVENT and no
  Feed row: query, render, cache every VEVENT, assemble body and gzip, store, record membership;
- **ours, after one edit**: the same, next, after one event's title changed (its revision bumped):
  the previous feed's bytes read back, one VEVENT drawn, the rest spliced (for information; the
  goal is the cold publish);
- **plain icalendar**: the same English feed built as bench/feeds.py's `plain_icalendar` does (the
  events loaded, one `Calendar`, an `Event` component per event, `to_ical()`).

Prints each process's resident memory after setup and its peak (VmHWM), the ratio, and the goal
(ours under 300 MB). MB here is 10^6 bytes. Run: `make bench` (needs PostgreSQL), or
`python bench/memory.py` with the environment the Makefile sets; BENCH_MEMORY_EVENTS changes the
number of events.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
EVENTS = int(os.environ.get("BENCH_MEMORY_EVENTS", "50000"))
GOAL_MB = 300
KEY = "en/all"


def megabytes(kib: int) -> float:
    return kib * 1024 / 1e6


def status_kib(field: str) -> int:
    """Return a memory figure of this process from /proc/self/status, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def resident_kib() -> int:
    """Return this process's resident memory now, in KiB."""
    return status_kib("VmRSS")


def peak_kib() -> int:
    """Return this process's peak resident memory so far, in KiB.

    VmHWM, not getrusage's ru_maxrss: Linux carries the high-water mark of the process that
    started this one over into ru_maxrss (across fork and exec), so a child of the seeding
    process, itself some 600 MB, reported that figure whatever it used.
    """
    return status_kib("VmHWM")


# --- the measured processes ------------------------------------------------------------------
def child_ours() -> dict[str, object]:
    """Publish the feed as the worker's task does, in a process set up as a worker's child."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As `celery -A config worker` does before it forks its children: load the app, set up
    # Django, import the tasks (autodiscovery).
    import django

    from config.celery import app

    django.setup()
    app.loader.import_default_modules()
    from timeline import tasks
    from timeline.models import Feed

    baseline = resident_kib()
    started = time.perf_counter()
    tasks.publish_feeds.apply(args=([], [KEY]), throw=True)
    seconds = time.perf_counter() - started
    peak = peak_kib()
    feed = Feed.objects.get(key=KEY)
    return {"baseline": baseline, "peak": peak, "seconds": seconds, "bytes": feed.size}


def child_plain() -> dict[str, object]:
    """Build the same feed with plain icalendar, as bench/feeds.py's baseline does."""
    import feeds as feed_bench  # bench/feeds.py: sets Django up as it is imported

    baseline = resident_kib()
    started = time.perf_counter()
    size = feed_bench.plain_icalendar()
    seconds = time.perf_counter() - started
    return {"baseline": baseline, "peak": peak_kib(), "seconds": seconds, "bytes": size}


CHILDREN = {"ours": child_ours, "plain": child_plain}


def run_child(name: str, env: dict[str, str]) -> dict[str, float]:
    """Run one measurement in a new Python process; return what it reports."""
    done = subprocess.run(
        [sys.executable, __file__, name], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the bench -------------------------------------------------------------------------------
def seed(count: int) -> None:
    """Fill the scratch database with *count* events inside the feed window, nothing cached."""
    import feeds as feed_bench
    from django.conf import settings

    from timeline.feeds import publishing
    from timeline.models import Event, EventFragment, Feed

    back = min(settings.FEED_WINDOW_DAYS // 2, 450)
    feed_bench.populate(count, first_day=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=back))
    in_window = publishing.feed_events(Event.objects.all()).count()
    if in_window != count:
        raise SystemExit(f"{in_window:,} of {count:,} seeded events are in the feed window")
    EventFragment.objects.all().delete()
    Feed.objects.all().delete()


def edit_one_event() -> None:
    """Change one event's English title as an edit would (its revision bumped), queueing nothing."""
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from timeline.models import Event

    event = Event.objects.order_by("pk")[EVENTS // 2]
    Event.objects.filter(pk=event.pk).update(
        title_en=Concat(F("title_en"), Value(" (edited)")), revision=F("revision") + 1
    )


def main() -> None:
    import feeds as feed_bench  # noqa: F401  sets Django up
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    media = tempfile.mkdtemp(prefix="bench-memory-")
    try:
        seed(EVENTS)
        url = urlsplit(os.environ["DATABASE_URL"])
        env = {
            **os.environ,
            "DATABASE_URL": url._replace(path="/" + connection.settings_dict["NAME"]).geturl(),
            "MEDIA_ROOT": media,
            "DEBUG": "0",  # as in production: no query log kept
        }
        ours = run_child("ours", env)
        edit_one_event()
        edited = run_child("ours", env)
        plain = run_child("plain", env)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(media, ignore_errors=True)
    print(f"\nPeak resident memory, /feeds/{KEY}.ics of {EVENTS:,} events, each in a fresh process")
    print(f"{'contender':<48} {'after setup':>11} {'peak':>9} {'seconds':>8} {'bytes':>12}")
    for label, result in (
        ("ours: publish_feeds task, cold cache", ours),
        ("ours: the same task after one edit", edited),
        ("plain icalendar: Calendar + Event each, to_ical", plain),
    ):
        after_setup, peak = megabytes(result["baseline"]), megabytes(result["peak"])
        print(
            f"{label:<48} {after_setup:>8.0f} MB {peak:>6.0f} MB"
            f" {result['seconds']:>8.1f} {result['bytes']:>12,}"
        )
    peak = megabytes(ours["peak"])
    print(f"ratio plain icalendar / ours cold (peak): {plain['peak'] / ours['peak']:.2f}x")
    verdict = "PASS" if peak < GOAL_MB else "MISS"
    print(f"goal: ours, cold, under {GOAL_MB} MB peak: {verdict} ({peak:.0f} MB)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(CHILDREN[sys.argv[1]]()))
    else:
        main()
