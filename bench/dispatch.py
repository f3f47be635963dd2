"""Benchmark the notification dispatcher against Django's own bulk send, measured in the same run.

Sets up 10,000 due reminders end to end (100 events x 100 subscribers) in a scratch database and
an in-process SMTP sink that only counts what it receives, then times:

- ours: `dispatch_due()` until every row is sent (claim, re-check, render, send, mark sent);
- baseline: `get_connection().send_messages(messages)` of the same 10,000 emails, built before
  timing, over one connection (MIME serialisation and SMTP only: no database, no rendering).

Prints medians, throughputs, the ratio ours/baseline and whether every row went out exactly once.
If the ratio is below the goal (or BENCH_PROFILE=1), profiles one dispatch run and prints where the
time goes. Run: `make bench-dispatch` (needs PostgreSQL).
"""

import cProfile
import datetime as dt
import io
import logging
import os
import pstats
import re
import secrets
import socket
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/timeline")

import django  # noqa: E402

django.setup()

from aiosmtpd.controller import Controller  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.mail import get_connection  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from timeline import timing  # noqa: E402
from timeline.models import (  # noqa: E402
    AnnouncedSchedule,
    Event,
    Notification,
    Place,
    Source,
    Subscriber,
    Topic,
)
from timeline.notifications import changes, dispatch, mail, scheduling  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "100"))
SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "100"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
WARM_UP = 200  # rows sent untimed by each contender before the timed rounds
GOAL = 0.5  # ours must reach at least this share of the baseline's throughput
LEAD = 60
State = Notification.State
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


# --- SMTP sink -------------------------------------------------------------------------------
class CountingSink:
    """An aiosmtpd handler that accepts everything and only counts Message-IDs."""

    def __init__(self) -> None:
        self.ids: Counter = Counter()
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        headers = content[: content.find(b"\r\n\r\n")] if b"\r\n\r\n" in content else content
        found = MESSAGE_ID.search(headers)
        self.ids[found.group(1).decode() if found else None] += 1
        self.messages += 1
        return "250 Message accepted"

    def clear(self) -> None:
        self.ids = Counter()
        self.messages = 0

    def exactly_once(self, expected: set[str]) -> bool:
        return set(self.ids) == expected and all(count == 1 for count in self.ids.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink() -> tuple[CountingSink, Controller]:
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd logs every session
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 30
    return sink, controller


# --- data ------------------------------------------------------------------------------------
def populate(now: dt.datetime) -> None:
    """Create the events, subscribers and due reminders in bulk (no signals, no tasks)."""
    # Everything through bulk_create: save() signals would queue feed-publishing tasks on the
    # broker of a local `make run`.
    [place] = Place.objects.bulk_create(
        [
            Place(
                slug="bench-almaty",
                name="Almaty",
                country="KZ",
                timezone="Asia/Almaty",
                latitude=43.24,
                longitude=76.89,
            )
        ]
    )
    [topic] = Topic.objects.bulk_create([Topic(slug="energy", name="Energy")])
    events = []
    for number in range(EVENTS):
        local = (now + dt.timedelta(hours=3, minutes=number)).astimezone(
            timing.zone(place.timezone)
        )
        start_time = local.time().replace(second=0, microsecond=0)
        span = timing.utc_span(timing.MINUTE, place.timezone, local.date(), start_time)
        events.append(
            Event(
                slug=f"bench-event-{number}",
                title=f"Переговоры о торговле и энергетике, раунд {number}; Қазақстан",
                summary="Delegations meet to review trade, energy and transport projects.",
                description="A longer description of the meeting, its agenda and its outcomes. "
                * 3,
                kind=Event.Kind.MEETING,
                status=Event.Status.CONFIRMED,
                published=True,
                precision=timing.MINUTE,
                start_date=local.date(),
                start_time=start_time,
                place=place,
                countries="KZ,RU",
                start_utc=span.start,
                end_utc=span.end,
                zone=place.timezone,
            )
        )
    Event.objects.bulk_create(events)
    events = list(Event.objects.select_related("place").order_by("pk"))  # as the DB returns them
    Topic.events.through.objects.bulk_create(
        [Topic.events.through(event_id=e.pk, topic_id=topic.pk) for e in events]
    )
    Source.objects.bulk_create(
        [
            Source(
                event=e,
                url=f"https://astanatimes.com/2026/01/article-{e.pk}/",
                publisher="The Astana Times",
                published_on=dt.date(2026, 1, 2),
            )
            for e in events
        ]
    )
    # Announced as they are: the dispatcher's sync_changed_events finds nothing to do.
    AnnouncedSchedule.objects.bulk_create(
        [
            AnnouncedSchedule(event=e, data=changes.schedule_of(e), revision=e.revision)
            for e in events
        ]
    )
    Subscriber.objects.bulk_create(
        [
            Subscriber(
                email=f"reader{number}@example.com",
                timezone=("Asia/Almaty", "Europe/Moscow", "UTC")[number % 3],
                lead_times=[LEAD],
                confirmed_at=now - dt.timedelta(days=1),
                link_nonce=secrets.token_hex(16),
            )
            for number in range(SUBSCRIBERS)
        ]
    )
    subscribers = list(Subscriber.objects.order_by("pk"))
    Notification.objects.bulk_create(
        [
            Notification(
                subscriber=s,
                event=e,
                kind=Notification.Kind.REMINDER,
                key=scheduling.reminder_key(LEAD, e.start_utc),
                lead_minutes=LEAD,
                due_at=now - dt.timedelta(minutes=1),
                payload={"start_utc": e.start_utc.isoformat()},
            )
            for e in events
            for s in subscribers
        ],
        batch_size=2000,
    )


def reset(rows=None) -> None:
    """Put rows (all by default) back to due and pending, as if never sent."""
    queryset = Notification.objects.all()
    if rows is not None:
        queryset = queryset.filter(pk__in=rows)
    queryset.update(
        state=State.PENDING,
        due_at=timezone.now() - dt.timedelta(minutes=1),
        attempts=0,
        claimed_until=None,
        claim_token=None,
        claimed_by=None,
        claimed_at=None,
        uncertain_attempts=0,
        sent_at=None,
        last_error="",
    )


def build_messages() -> list:
    """Build the baseline's emails from the same rows, loaded the way the dispatcher loads them."""
    rows = (
        Notification.objects.select_related("subscriber", "event", "event__place")
        .prefetch_related("event__topics", "event__sources")
        .order_by("due_at", "pk")
    )
    return [mail.build(row) for row in rows]


# --- contenders ------------------------------------------------------------------------------
def run_ours() -> tuple[float, Counter]:
    started = time.perf_counter()
    outcomes = dispatch.dispatch_due()
    return time.perf_counter() - started, outcomes


def run_baseline(messages: list) -> tuple[float, int]:
    started = time.perf_counter()
    sent = get_connection(fail_silently=False).send_messages(messages)
    return time.perf_counter() - started, sent


def check_ours(sink: CountingSink, outcomes: Counter, expected: set[str]) -> bool:
    total = len(expected)
    in_db = Notification.objects.filter(state=State.SENT).count()
    ok = outcomes["sent"] == total == sum(outcomes.values()) and in_db == total
    ok = ok and sink.messages == total and sink.exactly_once(expected)
    if not ok:
        print(
            f"  ! ours: outcomes {dict(outcomes)}, {in_db} rows sent, sink got {sink.messages} "
            f"messages with {len(sink.ids)} distinct Message-IDs",
            file=sys.stderr,
        )
    return ok


def check_baseline(sink: CountingSink, sent: int, expected: set[str]) -> bool:
    total = len(expected)
    ok = sent == total and sink.messages == total and sink.exactly_once(expected)
    if not ok:
        print(f"  ! baseline: sent {sent}, sink got {sink.messages}", file=sys.stderr)
    return ok


def profile_ours(sink: CountingSink) -> None:
    reset()
    sink.clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    dispatch.dispatch_due()
    profiler.disable()
    seconds = time.perf_counter() - started
    for order, count in (("tottime", 25), ("cumulative", 40)):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(count)
        print(f"\n--- profile of one dispatch_due() run ({seconds:.2f} s profiled), by {order} ---")
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        print("\n".join(lines[start - 2 :]).rstrip())


def report(
    total: int, timings: dict[str, list[float]], exactly_once: dict[str, bool], ours: str
) -> float:
    """Print each contender's median and throughput, and the ratio; return the ratio."""
    labels = {"ours": ours, "baseline": "baseline: send_messages() of pre-built messages"}
    width = max(map(len, labels.values()))
    print(f"{'contender':<{width}} {'messages':>9} {'median s':>9} {'msg/s':>9}  runs (s)")
    rates = {}
    for name, label in labels.items():
        median = statistics.median(timings[name])
        rates[name] = total / median
        runs = " ".join(f"{s:.2f}" for s in timings[name])
        print(f"{label:<{width}} {total:>9,} {median:>9.2f} {rates[name]:>9.0f}  {runs}")
    ratio = rates["ours"] / rates["baseline"]
    verdict = "meets" if ratio >= GOAL else "BELOW"
    print(f"ratio ours/baseline throughput: {ratio:.2f}x ({verdict} the {GOAL}x goal)")
    print(f"delivered exactly once: {'yes' if exactly_once['ours'] else 'no'}")
    print(f"baseline delivered exactly once: {'yes' if exactly_once['baseline'] else 'no'}")
    return ratio


def main() -> None:
    sink, controller = start_sink()
    # A name of its own, so a test database of a concurrent `make test` is never clobbered.
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"test_{connection.settings_dict['NAME']}_bench_dispatch"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        populate(timezone.now())
        ids = list(Notification.objects.order_by("due_at", "pk").values_list("pk", flat=True))
        expected = {mail.message_id(row) for row in Notification.objects.filter(pk__in=ids)}
        total = len(ids)
        messages = build_messages()
        size = statistics.mean(len(m.message().as_bytes()) for m in messages[:200])

        # Warm up both paths (connections, templates, imports) on a few rows, untimed.
        Notification.objects.exclude(pk__in=ids[:WARM_UP]).update(state=State.SENT)
        reset(ids[:WARM_UP])
        dispatch.dispatch_due()
        run_baseline(messages[:WARM_UP])

        timings: dict[str, list[float]] = {"ours": [], "baseline": []}
        exactly_once = {"ours": True, "baseline": True}
        order = ["ours", "baseline"]
        for round_number in range(REPEATS):
            for name in order if round_number % 2 == 0 else order[::-1]:
                reset()
                sink.clear()
                if name == "ours":
                    seconds, outcomes = run_ours()
                    exactly_once[name] &= check_ours(sink, outcomes, expected)
                else:
                    seconds, sent = run_baseline(messages)
                    exactly_once[name] &= check_baseline(sink, sent, expected)
                timings[name].append(seconds)

        print(
            f"{total:,} due reminders ({EVENTS} events x {SUBSCRIBERS} subscribers), "
            f"~{size / 1024:.1f} KiB per message, median of {REPEATS} interleaved runs"
        )
        ratio = report(
            total,
            timings,
            exactly_once,
            ours="ours: dispatch_due() (claim, render, send, mark)",
        )
        if ratio < GOAL or os.environ.get("BENCH_PROFILE") == "1":
            profile_ours(sink)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        controller.stop()


if __name__ == "__main__":
    main()
