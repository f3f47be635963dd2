"""Subscribers and events for the notification tests, in the words those tests use."""

import datetime as dt

from django.utils import timezone

from .factories import EventFactory, PlaceFactory, SubscriberFactory, TopicFactory


def follower(email: str, topic=None, lead_times=(1440, 60), zone="Europe/Berlin", **follows):
    """Return a confirmed subscriber following *topic* (or the given follows)."""
    followed = [topic] if topic is not None else []
    return SubscriberFactory(
        email=email,
        timezone=zone,
        lead_times=list(lead_times),
        follows=[*followed, *follows.values()],
    )


def upcoming_event(topic=None, starts_in=dt.timedelta(days=2), **fields):
    """Return a published, exact-time event in Almaty starting *starts_in* from now."""
    place = fields.pop("place", None) or PlaceFactory(name="Astana", timezone="Asia/Almaty")
    start = (timezone.now() + starts_in).astimezone(dt.timezone(dt.timedelta(hours=5)))
    event = EventFactory(
        place=place,
        precision="minute",
        start_date=start.date(),
        start_time=start.time().replace(microsecond=0),
        **fields,
    )
    if topic is not None:
        event.topics.add(topic)
    return event


def topic(name: str = "Energy"):
    return TopicFactory(name=name, slug=name.lower())
