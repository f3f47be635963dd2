"""Which published events a reader asked for: the filters shared by the timeline and the API."""

from collections.abc import Callable

from django.db.models import QuerySet
from django.http import QueryDict

from .models import (
    Actor,
    Event,
    EventQuerySet,
    Follows,
    Topic,
    Track,
    sources_official_first,
)

# Each filter value is a follow (what one selects is `EventQuerySet.matching`), except the kind.
FILTERS: dict[str, Callable[[str], EventQuerySet]] = {
    "topic": lambda value: Event.objects.matching(
        Follows(topics=Topic.objects.filter(slug=value).values("pk"))
    ),
    "country": lambda value: Event.objects.matching(Follows(countries=[value.upper()])),
    "actor": lambda value: Event.objects.matching(
        Follows(actors=Actor.objects.filter(slug=value).values("pk"))
    ),
    "track": lambda value: Event.objects.matching(
        Follows(tracks=Track.objects.filter(slug=value).values("pk"))
    ),
    "kind": lambda value: Event.objects.filter(kind=value),
}


def filtered_events(params: QueryDict) -> QuerySet[Event]:
    """Return published events matching every filter given (topic, country, actor, track, kind)."""
    events = Event.objects.published()
    for name, chosen in FILTERS.items():
        for value in params.getlist(name):
            if value:
                events = events.filter(pk__in=chosen(value).values("pk"))
    return (
        events.select_related("place", "track", "part_of")
        .prefetch_related(
            "participants",
            "topics",
            sources_official_first(),
        )
        .order_by("start_utc", "uid")
    )
