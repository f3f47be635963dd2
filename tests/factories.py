"""Test data factories."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone, translation

from timeline.models import (
    Actor,
    Agreement,
    AgreementStep,
    Event,
    Figure,
    Metric,
    Notification,
    Place,
    PrivateFeed,
    Source,
    Subscriber,
    Subscription,
    Topic,
    Track,
)


class EnglishFactory(factory.django.DjangoModelFactory):
    """Write `title=`, `name=`… in English, whatever language the last request left active."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with translation.override("en"):
            return super()._create(model_class, *args, **kwargs)


class PlaceFactory(EnglishFactory):
    class Meta:
        model = Place

    name = factory.Sequence(lambda n: f"Place {n}")
    slug = factory.Sequence(lambda n: f"place-{n}")
    country = "KZ"
    timezone = "Asia/Almaty"


class ActorFactory(EnglishFactory):
    class Meta:
        model = Actor

    name = factory.Sequence(lambda n: f"Actor {n}")
    slug = factory.Sequence(lambda n: f"actor-{n}")
    role = "Minister"
    country = "KZ"


class TopicFactory(EnglishFactory):
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


class TrackFactory(EnglishFactory):
    class Meta:
        model = Track

    name = factory.Sequence(lambda n: f"Track {n}")
    slug = factory.Sequence(lambda n: f"track-{n}")


class EventFactory(EnglishFactory):
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
    language = "en"


class SubscriberFactory(factory.django.DjangoModelFactory):
    """A reader who confirmed their address; `unconfirmed=True` for one who has not yet."""

    class Meta:
        model = Subscriber
        skip_postgeneration_save = True

    class Params:
        unconfirmed = factory.Trait(confirmed_at=None)

    email = factory.Sequence(lambda n: f"reader{n}@example.com")
    confirmed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def follows(self, create: bool, extracted, **kwargs) -> None:
        """Follow each of `follows=[topic, actor, track, event, "KZ"]` (a string is a country)."""
        if create and extracted:
            for followed in extracted:
                SubscriptionFactory(subscriber=self, **follow_fields(followed))


def follow_fields(followed) -> dict:
    """Return the Subscription fields that follow *followed*: a model instance or a country."""
    if isinstance(followed, str):
        return {"topic": None, "country": followed}
    name = {Topic: "topic", Actor: "actor", Track: "track", Event: "event"}[type(followed)]
    return {"topic": None, name: followed}


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """One follow; a topic unless another thing is given (see follow_fields)."""

    class Meta:
        model = Subscription

    subscriber = factory.SubFactory(SubscriberFactory)
    topic = factory.SubFactory(TopicFactory)


class NotificationFactory(factory.django.DjangoModelFactory):
    """An outbox row: by default a 60-minute reminder of an event, due now."""

    class Meta:
        model = Notification

    subscriber = factory.SubFactory(SubscriberFactory)
    event = factory.SubFactory(EventFactory)
    kind = Notification.Kind.REMINDER
    key = factory.Sequence(lambda n: f"row-{n}")
    lead_minutes = 60
    due_at = factory.LazyFunction(timezone.now)
    payload = factory.LazyAttribute(
        lambda row: {"start_utc": row.event.start_utc.isoformat()} if row.event else {}
    )


class PrivateFeedFactory(factory.django.DjangoModelFactory):
    """A private feed with a live token: the token itself is left on the instance as `.token`."""

    class Meta:
        model = PrivateFeed
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Desk {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> PrivateFeed:
        feed = model_class(*args, **kwargs)
        # Only the hash is stored; tests need the token to open the feed.
        feed.token = feed.issue_token()
        feed.save()
        return feed

    @factory.post_generation
    def topics(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.topics.add(*extracted)

    @factory.post_generation
    def tracks(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.tracks.add(*extracted)

    @factory.post_generation
    def actors(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.actors.add(*extracted)


class AgreementFactory(EnglishFactory):
    """A published agreement between Kazakhstan and Russia; `steps=` is its history's length."""

    class Meta:
        model = Agreement
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Agreement {n}")
    slug = factory.Sequence(lambda n: f"agreement-{n}")
    kind = Agreement.Kind.AGREEMENT
    countries = ["KZ", "RU"]
    published = True

    @factory.post_generation
    def organisations(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.organisations.add(*extracted)

    @factory.post_generation
    def signers(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.signers.add(*extracted)


class AgreementStepFactory(factory.django.DjangoModelFactory):
    """One step of an agreement's history: signed, by default, with a source of its own."""

    class Meta:
        model = AgreementStep

    agreement = factory.SubFactory(AgreementFactory)
    status = AgreementStep.Status.SIGNED
    date = dt.date(2025, 11, 12)
    precision = "day"
    source = factory.SubFactory(SourceFactory, event=None)


class MetricFactory(EnglishFactory):
    """A flow of money, such as trade turnover in a year."""

    class Meta:
        model = Metric

    name = factory.Sequence(lambda n: f"Metric {n}")
    slug = factory.Sequence(lambda n: f"metric-{n}")
    nature = Metric.Nature.FLOW
    unit = Metric.Unit.MONEY


class FigureFactory(factory.django.DjangoModelFactory):
    """A published actual figure for the year 2024, in US dollars, from its own source."""

    class Meta:
        model = Figure

    metric = factory.SubFactory(MetricFactory)
    kind = Figure.Kind.ACTUAL
    value = Decimal("27000000000")
    currency = "USD"
    period_start = dt.date(2024, 1, 1)
    period_end = dt.date(2024, 12, 31)
    period_precision = "year"
    source = factory.SubFactory(SourceFactory, event=None)
    published = True
