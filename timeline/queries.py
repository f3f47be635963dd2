"""Which published events a reader asked for: the filters shared by the timeline and the API."""

from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.http import QueryDict

from .models import Event

FILTERS: dict[str, Callable[[str], Q]] = {
    "topic": lambda value: Q(topics__slug=value),
    "country": lambda value: Q(countries__contains=value.upper()),
    "actor": lambda value: Q(participants__slug=value),
    "track": lambda value: Q(track__slug=value),
    "kind": lambda value: Q(kind=value),
}


def filtered_events(params: QueryDict) -> QuerySet[Event]:
    """Return published events matching every filter given (topic, country, actor, track, kind)."""
    selection = Q()
    for name, condition in FILTERS.items():
        for value in params.getlist(name):
            if value:
                selection &= Q(pk__in=Event.objects.filter(condition(value)).values("pk"))
    return (
        Event.objects.published()
        .filter(selection)
        .select_related("place", "track")
        .prefetch_related("participants", "topics", "sources")
        .order_by("start_utc", "uid")
    )
