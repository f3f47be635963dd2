"""The timeline's models: the record, and what is published from it."""

from .agreements import Agreement, AgreementStep
from .figures import Figure, FigureQuerySet, Metric
from .operations import Heartbeat
from .publishing import (
    EventFragment,
    Feed,
    FeedMembership,
    PrivateFeed,
    feed_key,
    split_feed_key,
)
from .record import (
    Actor,
    Event,
    EventQuerySet,
    Follows,
    Place,
    Precision,
    Source,
    SourceKind,
    Topic,
    Track,
    allowed_published,
    is_calendar_precision,
    may_publish,
    sources_official_first,
    unique_slug,
    validate_iana_zone,
)
from .subscribers import (
    LEAD_TIME_CHOICES,
    AnnouncedSchedule,
    Notification,
    Subscriber,
    SubscriberLink,
    Subscription,
)
from .tokens import hash_token

__all__ = [
    "LEAD_TIME_CHOICES",
    "Actor",
    "Agreement",
    "AgreementStep",
    "AnnouncedSchedule",
    "Event",
    "EventFragment",
    "EventQuerySet",
    "Feed",
    "FeedMembership",
    "Figure",
    "FigureQuerySet",
    "Follows",
    "Heartbeat",
    "Metric",
    "Notification",
    "Place",
    "Precision",
    "PrivateFeed",
    "Source",
    "SourceKind",
    "Subscriber",
    "SubscriberLink",
    "Subscription",
    "Topic",
    "Track",
    "allowed_published",
    "feed_key",
    "hash_token",
    "is_calendar_precision",
    "may_publish",
    "sources_official_first",
    "split_feed_key",
    "unique_slug",
    "validate_iana_zone",
]
