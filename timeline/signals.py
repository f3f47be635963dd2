"""Glue: after a change to the record commits, queue the re-publishing of the feeds it touches
and the outbox sync of the events it touches.

The decisions (which feeds, what to render, which reminders) live in timeline.feeds and
timeline.notifications; this module only notices changes and queues one batch per transaction.
"""

import logging
import threading
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from .feeds import publishing as feeds
from .models import Actor, Event, Place, PrivateFeed, Source, Topic, Track

log = logging.getLogger(__name__)
_pending = threading.local()


def queue_publish(event_ids: Iterable[int] = (), keys: Iterable[str] = ()) -> None:
    """Collect what to publish; send one task when the outermost transaction commits."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _send({"events": set(event_ids), "keys": set(keys)})
        return
    outermost = connection.atomic_blocks[0]
    batch = getattr(_pending, "batch", None)
    if batch is None or batch["block"] is not outermost:
        # A new transaction (an old one may have rolled back, dropping its callback).
        batch = _pending.batch = {"block": outermost, "events": set(), "keys": set()}
        transaction.on_commit(partial(_send, batch))
    batch["events"].update(event_ids)
    batch["keys"].update(keys)


def _send(batch: dict[str, Any]) -> None:
    from .tasks import publish_feeds, sync_outbox

    if getattr(_pending, "batch", None) is batch:
        _pending.batch = None
    try:
        publish_feeds.delay(sorted(batch["events"]), sorted(batch["keys"]))
        if batch["events"]:
            sync_outbox.delay(sorted(batch["events"]))
    except Exception:
        # The broker is down: the record is saved; beat's publish_owed_feeds and the
        # dispatcher's sync of changed events catch up.
        log.exception("Could not queue feed publishing and outbox sync for %s", batch)


@receiver(post_save, sender=Event)
def _event_saved(
    sender: type[Event], instance: Event, raw: bool, created: bool, **kwargs: Any
) -> None:
    changed = [instance.pk]
    if not created and instance.publication_changed():
        # Its parts' calendar entries name it (RELATED-TO) only while it is published.
        changed += feeds.touch_events(instance.parts.all())
    queue_publish(event_ids=changed)


@receiver(m2m_changed, sender=Event.topics.through)
@receiver(m2m_changed, sender=Event.participants.through)
def _event_links_changed(
    sender: type, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    if reverse:
        queue_publish(event_ids=pk_set or ())
    else:
        queue_publish(event_ids=[instance.pk])


@receiver(pre_delete, sender=Event)
def _event_deleting(sender: type[Event], instance: Event, **kwargs: Any) -> None:
    # Its memberships vanish with it, so note its feeds now; its parts stop naming it.
    parts = feeds.touch_events(instance.parts.all())
    queue_publish(event_ids=parts, keys=feeds.keys_for_events([instance.pk]))


@receiver(post_save, sender=Source)
@receiver(post_delete, sender=Source)
def _source_changed(
    sender: type[Source], instance: Source, raw: bool = False, **kwargs: Any
) -> None:
    if instance.event_id is None:
        return  # a source of figures or agreements only: no calendar shows it
    if raw:
        # Fixture loads and reversion's reverts: the admin saves the event itself afterwards.
        queue_publish(event_ids=[instance.event_id])
    else:
        # Touching a deleted event (a cascade) updates nothing.
        queue_publish(event_ids=feeds.touch_events(Event.objects.filter(pk=instance.event_id)))


@receiver(post_save, sender=Place)
@receiver(post_save, sender=Actor)
@receiver(post_save, sender=Topic)
@receiver(post_save, sender=Track)
def _related_saved(sender: type, instance: Any, raw: bool, **kwargs: Any) -> None:
    if raw:
        return
    queue_publish(event_ids=feeds.touch_events(instance.events.all()), keys=_own_key(instance))


@receiver(pre_delete, sender=Actor)
@receiver(pre_delete, sender=Topic)
@receiver(pre_delete, sender=Track)
def _related_deleting(sender: type, instance: Any, **kwargs: Any) -> None:
    queue_publish(event_ids=feeds.touch_events(instance.events.all()), keys=_own_key(instance))


@receiver(post_save, sender=PrivateFeed)
@receiver(m2m_changed, sender=PrivateFeed.topics.through)
@receiver(m2m_changed, sender=PrivateFeed.tracks.through)
@receiver(m2m_changed, sender=PrivateFeed.actors.through)
def _private_feed_changed(sender: type, instance: object, **kwargs: Any) -> None:
    if isinstance(instance, PrivateFeed):
        # Every language's: one given another language leaves its old one, which then goes.
        queue_publish(keys=feeds.in_every_language([instance.subject]))


def _own_key(instance: Any) -> list[str]:
    prefix = {Topic: "topic", Track: "track", Actor: "actor"}.get(type(instance))
    return [f"{prefix}:{instance.slug}"] if prefix else []
