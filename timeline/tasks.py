"""Celery tasks: thin wrappers that call into the timeline's plain functions."""

from celery import shared_task

from . import feeds, heartbeat


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    """Record that a worker picked up and ran a task."""
    heartbeat.record(name)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def publish_changes(event_ids: list[int], keys: list[str]) -> None:
    """Re-publish the feeds that these events and feed keys touch."""
    feeds.publish_changes(event_ids, keys)


@shared_task
def publish_all_feeds() -> None:
    """Re-publish every feed (moves the window on; catches up after a lost message)."""
    feeds.publish_everything()
