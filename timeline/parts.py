"""Events made of parts (a state visit and its talks, signing, meetings), as pages show them."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import QuerySet

from .models import Agreement, Event


@dataclass
class Card:
    """An event on the timeline, with the parts shown inside it (in time order)."""

    event: Event
    parts: list["Card"] = field(default_factory=list)


@dataclass(frozen=True)
class Folded:
    """A page of events, parts folded into the events they are part of (unless shown apart)."""

    cards: list[Card]
    # How many events on the page are parts of another one on it: whether folding means anything.
    foldable: int


def fold(events: Sequence[Event], *, separate: bool = False) -> Folded:
    """Return cards for *events* in their order, each part inside its whole when both are here.

    Only what is on the page is folded: a part whose whole is filtered out, on another page or
    a draft keeps its own card. With *separate*, every event keeps its own card.
    """
    on_page = {event.pk: event for event in events}
    cards = {event.pk: Card(event) for event in events}
    inside = [event for event in events if _whole_is_on_page(event, on_page)]
    if separate:
        return Folded([cards[event.pk] for event in events], len(inside))
    for part in sorted(inside, key=lambda event: (event.start_utc, event.title, event.pk)):
        cards[part.part_of_id].parts.append(cards[part.pk])  # type: ignore[index]
    folded = {event.pk for event in inside}
    return Folded([cards[event.pk] for event in events if event.pk not in folded], len(inside))


def _whole_is_on_page(event: Event, on_page: dict[int, Event]) -> bool:
    """Tell whether the event's whole is on the page (and its chain of wholes ends there)."""
    seen = {event.pk}
    whole_id = event.part_of_id
    if whole_id not in on_page:
        return False
    while whole_id in on_page:
        if whole_id in seen:
            return False  # a loop, which validation refuses: show each on its own
        seen.add(whole_id)
        whole_id = on_page[whole_id].part_of_id
    return True


def published_parts(event: Event) -> QuerySet[Event]:
    """Return the published parts of *event* in time order."""
    return event.parts.published().order_by("start_utc", "title", "pk")


def agreements_signed_at(event: Event) -> QuerySet[Agreement]:
    """Return the published agreements signed at *event*."""
    return event.agreements.published().order_by("title", "pk")
