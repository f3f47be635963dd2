"""Benchmark weekly digests end to end against Django's own bulk send, measured in the same run.

10,000 subscribers on a weekly digest due now, each following a topic with 20 events coming up in
the week, in three time zones and three languages. Times:

- ours: `digests.create_due()` (the beat's work: which digests are due, one outbox row each), then
  `dispatch_due()` until every row is sent (claim, re-check, work out each digest, render,
  send, mark);
- baseline: `get_connection().send_messages(messages)` of the same 10,000 digests, built before
  timing, over one connection (MIME serialisation and SMTP only).

Prints medians, throughputs, the ratio ours/baseline and whether every digest went out exactly
once. Run: `make bench-dispatch` (after the reminders' benchmark; needs PostgreSQL).
"""

import datetime as dt
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from dispatch import (  # noqa: E402  (sets Django up)
    CountingSink,
    report,
    start_sink,
)
from django.core.mail import get_connection  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from timeline import timing  # noqa: E402
from timeline.models import (  # noqa: E402
    AnnouncedSchedule,
    Event,
    News,
    Notification,
    Place,
    Subscriber,
    Subscription,
    Topic,
)
from timeline.notifications import changes, digests, dispatch, mail  # noqa: E402

SUBSCRIBERS = int(os.environ.get("BENCH_DIGEST_SUBSCRIBERS", "10000"))
EVENTS = int(os.environ.get("BENCH_DIGEST_EVENTS", "20"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
WARM_UP = 200
ZONES = ("Asia/Almaty", "Europe/Moscow", "UTC")
LANGUAGES = ("ru", "kk", "en")
Kind, State = Notification.Kind, Notification.State


def populate(now: dt.datetime) -> None:
    """Create events and subscribers in bulk (no signals, no tasks), every weekly digest due now."""
    [place] = Place.objects.bulk_create(
        [Place(slug="bench-astana", name="Astana", country="KZ", timezone="Asia/Almaty")]
    )
    [topic] = Topic.objects.bulk_create([Topic(slug="energy", name="Energy")])
    events = []
    for number in range(EVENTS):
        local = (now + dt.timedelta(hours=6 + 7 * number)).astimezone(timing.zone(place.timezone))
        start_time = local.time().replace(second=0, microsecond=0)
        span = timing.utc_span(timing.MINUTE, place.timezone, local.date(), start_time)
        events.append(
            Event(
                slug=f"bench-digest-event-{number}",
                title=f"Переговоры о торговле и энергетике, раунд {number}; Қазақстан",
                summary="Delegations meet to review trade, energy and transport projects.",
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
    events = list(Event.objects.order_by("pk"))
    Topic.events.through.objects.bulk_create(
        [Topic.events.through(event_id=e.pk, topic_id=topic.pk) for e in events]
    )
    AnnouncedSchedule.objects.bulk_create(
        [
            AnnouncedSchedule(event=e, data=changes.schedule_of(e), revision=e.revision)
            for e in events
        ]
    )
    due_at = now - dt.timedelta(minutes=1)
    subscribers = []
    for number in range(SUBSCRIBERS):
        zone = ZONES[number % len(ZONES)]
        local = due_at.astimezone(timing.zone(zone))
        subscribers.append(
            Subscriber(
                email=f"reader{number}@example.com",
                timezone=zone,
                language=LANGUAGES[number % len(LANGUAGES)],
                lead_times=[60],
                confirmed_at=now - dt.timedelta(days=10),
                link_nonce=secrets.token_hex(16),
                news=News.WEEKLY,
                digest_time=local.time().replace(second=0, microsecond=0),
                digest_weekday=local.weekday(),
                digest_since=now - dt.timedelta(days=10),
            )
        )
    Subscriber.objects.bulk_create(subscribers, batch_size=2000)
    Subscription.objects.bulk_create(
        [Subscription(subscriber=s, topic=topic) for s in Subscriber.objects.all()],
        batch_size=2000,
    )


def build_messages(now: dt.datetime) -> list:
    """Build the baseline's digests from rows made and loaded as the dispatcher does."""
    digests.create_due(now)
    rows = list(
        Notification.objects.filter(kind=Kind.DIGEST)
        .select_related("subscriber")
        .order_by("due_at", "pk")
    )
    digests.prepare(rows, now)
    return [mail.build(row) for row in rows]


def run_ours() -> float:
    started = time.perf_counter()
    digests.create_due()
    while dispatch.dispatch_due()["sent"]:
        pass
    return time.perf_counter() - started


def run_baseline(messages: list) -> float:
    started = time.perf_counter()
    get_connection(fail_silently=False).send_messages(messages)
    return time.perf_counter() - started


def forget_digests() -> None:
    """Take every digest row away, as if none had fallen due yet."""
    Notification.objects.filter(kind=Kind.DIGEST).delete()


def exactly_once(sink: CountingSink, total: int) -> bool:
    return sink.messages == total == len(sink.ids) and all(n == 1 for n in sink.ids.values())


def main() -> None:
    sink, controller = start_sink()
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"test_{connection.settings_dict['NAME']}_bench_digests"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        now = timezone.now()
        populate(now)
        messages = build_messages(now)
        total = len(messages)
        assert total == SUBSCRIBERS, f"{total} digests due of {SUBSCRIBERS}"
        size = statistics.mean(len(m.message().as_bytes()) for m in messages[:200])
        forget_digests()

        # Warm up both paths on a few digests, untimed.
        run_baseline(messages[:WARM_UP])
        sink.clear()

        timings: dict[str, list[float]] = {"ours": [], "baseline": []}
        once = {"ours": True, "baseline": True}
        order = ["ours", "baseline"]
        for round_number in range(REPEATS):
            for name in order if round_number % 2 == 0 else order[::-1]:
                forget_digests()
                sink.clear()
                if name == "ours":
                    timings[name].append(run_ours())
                    sent = Notification.objects.filter(kind=Kind.DIGEST, state=State.SENT)
                    once[name] &= exactly_once(sink, total) and sent.count() == total
                else:
                    timings[name].append(run_baseline(messages))
                    once[name] &= exactly_once(sink, total)

        print(
            f"{total:,} weekly digests ({EVENTS} upcoming events each, 3 zones, kk/ru/en), "
            f"~{size / 1024:.1f} KiB per message, median of {REPEATS} interleaved runs"
        )
        report(
            total,
            timings,
            once,
            ours="ours: create_due() + dispatch_due() (due, render, send, mark)",
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        controller.stop()


if __name__ == "__main__":
    main()
