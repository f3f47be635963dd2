"""Celery tasks: thin wrappers that call into the timeline's plain functions."""

from celery import shared_task

from . import heartbeat


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    """Record that a worker picked up and ran a task."""
    heartbeat.record(name)
