"""Liveness records of background processes."""

import datetime as dt

from django.utils import timezone

from .models import Heartbeat

# Recorded by the worker's record_heartbeat task (beat sends it every 30 s), and by each
# dispatcher run (every DISPATCH_INTERVAL_SECONDS).
WORKER = "worker"
DISPATCHER = "dispatcher"


def record(name: str) -> Heartbeat:
    """Store that the process *name* is alive now."""
    beat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})
    return beat


def last(name: str) -> Heartbeat | None:
    """Return the last heartbeat of *name*, if any."""
    return Heartbeat.objects.filter(name=name).first()


def age(beat: Heartbeat | None, now: dt.datetime | None = None) -> float | None:
    """Return how many seconds ago *beat* was recorded (never negative), or None if never."""
    if beat is None:
        return None
    return max(((now or timezone.now()) - beat.beat_at).total_seconds(), 0.0)
