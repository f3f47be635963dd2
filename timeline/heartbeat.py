"""Liveness records of background processes."""

from django.utils import timezone

from .models import Heartbeat


def record(name: str) -> Heartbeat:
    """Store that the process *name* is alive now."""
    beat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})
    return beat


def last(name: str) -> Heartbeat | None:
    """Return the last heartbeat of *name*, if any."""
    return Heartbeat.objects.filter(name=name).first()
