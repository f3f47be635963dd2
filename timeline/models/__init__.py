"""The timeline's models: the record, and what is published from it."""

from .publishing import EventFragment, Feed, FeedMembership, PrivateFeed
from .record import (
    Actor,
    Event,
    EventQuerySet,
    Heartbeat,
    Place,
    Precision,
    Source,
    Topic,
    Track,
    unique_slug,
    validate_iana_zone,
)

__all__ = [
    "Actor",
    "Event",
    "EventFragment",
    "EventQuerySet",
    "Feed",
    "FeedMembership",
    "Heartbeat",
    "Place",
    "Precision",
    "PrivateFeed",
    "Source",
    "Topic",
    "Track",
    "unique_slug",
    "validate_iana_zone",
]
