"""Celery tasks: thin wrappers that call into the timeline's plain functions."""

from celery import shared_task

from . import heartbeat
from .feeds import publishing as feeds
from .notifications import digests, dispatch, links, scheduling


@shared_task
def record_heartbeat(name: str = heartbeat.WORKER) -> None:
    """Record that a worker picked up and ran a task."""
    heartbeat.record(name)


# After an edit commits, timeline.signals queues both: each retries on its own, and each has its
# own catch-up if its message is lost (publish_owed_feeds; the dispatcher's sync_changed_events).
@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def publish_feeds(event_ids: list[int], keys: list[str]) -> None:
    """Re-publish the feeds these events and keys touch."""
    feeds.publish_changes(event_ids, keys)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def sync_outbox(event_ids: list[int]) -> None:
    """Bring these events' reminders and change notices in line with the events."""
    for event_id in event_ids:
        scheduling.sync_event(event_id)


@shared_task
def publish_all_feeds() -> None:
    """Re-publish every feed (moves the window on; catches up after a lost message)."""
    feeds.publish_everything()


@shared_task
def publish_owed_feeds() -> None:
    """Publish what a lost publish task left undone (beat runs this every few seconds)."""
    feeds.publish_owed()


@shared_task
def dispatch_notifications() -> None:
    """Send the due notifications (beat runs this every few seconds)."""
    heartbeat.record(heartbeat.DISPATCHER)
    dispatch.dispatch_due()


@shared_task
def create_due_digests() -> None:
    """Create the outbox rows of the digests now due (beat runs this every minute)."""
    digests.create_due()


@shared_task
def prune_links() -> None:
    """Delete subscriber links that can no longer open anything (beat runs this hourly)."""
    links.prune()
