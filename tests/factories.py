"""Test data factories."""

import datetime as dt

import factory

from timeline.models import Actor, Event, Place, Source, Topic, Track


class PlaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Place

    name = factory.Sequence(lambda n: f"Place {n}")
    slug = factory.Sequence(lambda n: f"place-{n}")
    country = "KZ"
    timezone = "Asia/Almaty"


class ActorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Actor

    name = factory.Sequence(lambda n: f"Actor {n}")
    slug = factory.Sequence(lambda n: f"actor-{n}")
    role = "Minister"
    country = "KZ"


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.Sequence(lambda n: f"topic-{n}")

    @factory.post_generation
    def in_use(self, create: bool, extracted: bool, **kwargs) -> None:
        """With in_use=True, a published event carries the topic, so readers can follow it."""
        if create and extracted:
            EventFactory().topics.add(self)


class TrackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Track

    name = factory.Sequence(lambda n: f"Track {n}")
    slug = factory.Sequence(lambda n: f"track-{n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    title = factory.Sequence(lambda n: f"Event {n}")
    slug = factory.Sequence(lambda n: f"event-{n}")
    kind = Event.Kind.MEETING
    status = Event.Status.CONFIRMED
    published = True
    precision = "day"
    start_date = dt.date(2025, 11, 11)
    place = factory.SubFactory(PlaceFactory)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    event = factory.SubFactory(EventFactory)
    url = factory.Sequence(lambda n: f"https://astanatimes.com/2025/11/article-{n}/")
    publisher = "The Astana Times"
    published_on = dt.date(2025, 11, 12)
