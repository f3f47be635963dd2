"""Benchmark the import's dry run and apply against the bare parse of the same file, in one run.

Makes a 5,000-event .ics file (Outlook's way: Windows zone names, VTIMEZONEs, folded lines) and
a 5,000-row CSV file (Russian Excel's way: Windows-1251, semicolons, dd.mm.yyyy) in a scratch
database, then times:

- baseline (.ics): `icalendar.Calendar.from_ical()` of the file and a walk over its VEVENTs'
  DTSTART, DTEND and SUMMARY: the parse any import has to do;
- baseline (CSV): Python's `csv.reader` over the decoded file (printed; the CSV file's times are
  given against the .ics file's bare icalendar parse, the same number of events);
- dry run: read the upload, match every row to the record, diff, validate (no writes);
- apply: the confirmed import, written in one transaction and one revision;
- dry run again: the same file a second time, which must change nothing.

Prints medians and the ratio dry run / bare parse (goal: at most 3x for the .ics file). Run:
`make bench-import` (needs PostgreSQL).
"""

import csv
import datetime as dt
import io
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
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402

from timeline.imports.apply import apply_import  # noqa: E402
from timeline.imports.plan import Change, dry_run  # noqa: E402
from timeline.models import Event, ImportBatch, Place  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "5000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
GOAL = 3.0  # the dry run may take at most this many times the bare parse
FIRST_DAY = dt.date(2027, 1, 4)

VTIMEZONES = """BEGIN:VTIMEZONE\r
TZID:Central Asia Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T000000\r
TZOFFSETFROM:+0500\r
TZOFFSETTO:+0500\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VTIMEZONE\r
TZID:Russian Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T000000\r
TZOFFSETFROM:+0300\r
TZOFFSETTO:+0300\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def ics_file(rows: int) -> bytes:
    """Return an Outlook-style calendar of *rows* timed events (synthetic bench data)."""
    events = []
    for number in range(rows):
        day = FIRST_DAY + dt.timedelta(days=number // 8)
        zone = "Central Asia Standard Time" if number % 2 else "Russian Standard Time"
        start = dt.datetime.combine(day, dt.time(9 + number % 8, 0))
        summary = f"Бенчмарк: заседание рабочей группы по сотрудничеству номер {number}"
        events.append(
            "BEGIN:VEVENT\r\n"
            f"UID:040000008200E00074C5B7101A82E0080000000{number:08d}@bench\r\n"
            f"SUMMARY;LANGUAGE=ru-RU:{summary}\r\n"
            f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}\r\n"
            f"DTEND;TZID={zone}:{start + dt.timedelta(hours=1):%Y%m%dT%H%M%S}\r\n"
            f"DTSTAMP:20261201T000000Z\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\n"
        )
    calendar = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n"
        "VERSION:2.0\r\n" + VTIMEZONES + "".join(events) + "END:VCALENDAR\r\n"
    )
    return bytes(calendar.to_ical())


def csv_file(rows: int) -> bytes:
    """Return a Russian-Excel-style CSV of *rows* day-precision events (synthetic bench data)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["slug", "title_ru", "kind", "status", "precision", "start_date", "place"])
    for number in range(rows):
        day = FIRST_DAY + dt.timedelta(days=number // 8)
        writer.writerow(
            [
                f"bench-{number}",
                f"Бенчмарк: встреча номер {number}",
                "meeting",
                "tentative",
                "day",
                f"{day:%d.%m.%Y}",
                "bench-astana",
            ]
        )
    return out.getvalue().encode("cp1251")


def bare_ics_parse(data: bytes) -> int:
    """Parse with icalendar alone and read each event's times and summary."""
    calendar = icalendar.Calendar.from_ical(data)
    count = 0
    for event in calendar.walk("VEVENT"):
        event.decoded("DTSTART"), event.decoded("DTEND"), str(event.get("SUMMARY"))
        count += 1
    return count


def bare_csv_parse(data: bytes) -> int:
    """Decode and split with Python's csv module alone."""
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("cp1251")), delimiter=";")) - 1


def median_time(function, *args, repeats: int = REPEATS) -> tuple[float, object]:
    """Return the median wall time of *repeats* calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run(
    name: str, data: bytes, baseline, user: User, ics_parse_s: float = 0.0
) -> tuple[float, float]:
    """Time one file's baseline, dry run, apply and second dry run; return parse time and ratio.

    *ics_parse_s*, for the CSV file, is the bare icalendar parse of the .ics file of as many
    events, measured before in the same run: each dry run is also given against it.
    """
    batch = ImportBatch.objects.create(
        user=user,
        filename=f"bench.{name}",
        format=name,
        content=data,
        language="ru",
        timezone="Asia/Almaty",
    )
    parse_s, parsed = median_time(baseline, data)
    dry_s, plan = median_time(dry_run, batch, user)
    counts = {change.value: plan.count(change) for change in Change}
    started = time.perf_counter()
    apply_import(batch, user, plan.digest)
    apply_s = time.perf_counter() - started
    again_s, again = median_time(dry_run, batch, user)
    ratio = dry_s / parse_s
    against = ics_parse_s or parse_s
    print(f"\n{name}: {len(data) / 2**20:.1f} MB, {parsed:,} events parsed by the baseline")
    print(f"  dry run plan: {counts}")
    print(f"  {'baseline parse':<22} {parse_s:>7.2f} s")
    if ics_parse_s:
        print(f"  {'(.ics bare parse)':<22} {ics_parse_s:>7.2f} s   the ratios below are to it")
    print(f"  {'dry run':<22} {dry_s:>7.2f} s   {dry_s / against:.2f}x")
    print(f"  {'apply (one revision)':<22} {apply_s:>7.2f} s   {apply_s / against:.2f}x")
    print(f"  {'dry run again':<22} {again_s:>7.2f} s   {again_s / against:.2f}x")
    unchanged = again.count(Change.UNCHANGED)
    nothing = "yes" if not again.writes else "NO"
    print(f"  second import changes nothing: {nothing} ({unchanged:,} unchanged)")
    return parse_s, ratio


def main() -> None:
    # A name of its own, so a test database of a concurrent `make test` is never clobbered.
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"test_{connection.settings_dict['NAME']}_bench_import"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-only")
        Place.objects.create(
            name_en="Bench Astana", slug="bench-astana", country="KZ", timezone="Asia/Almaty"
        )
        print(f"import bench: {ROWS:,} rows per file, median of {REPEATS} runs")
        ics_parse_s, ratio = run("ics", ics_file(ROWS), bare_ics_parse, user)
        run("csv", csv_file(ROWS), bare_csv_parse, user, ics_parse_s)
        verdict = "meets" if ratio <= GOAL else "ABOVE"
        print(f"\n.ics dry run / bare icalendar parse: {ratio:.2f}x ({verdict} the {GOAL:g}x goal)")
        print(f"events in the database: {Event.objects.count():,}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
