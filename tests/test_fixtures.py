"""The seed data: every dated fact of the founding article, with its source, loaded idempotently."""

import datetime as dt

import pytest
from django.core.management import call_command

from timeline import timing
from timeline.models import Actor, Event, Place, Source, Topic, Track

pytestmark = pytest.mark.django_db

MODELS = (Place, Actor, Topic, Track, Event, Source)


def load_seed() -> None:
    call_command("loaddata", "fixtures/seed.json", verbosity=0)


def snapshot() -> dict:
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in MODELS}


def test_loading_twice_leaves_the_same_data():
    load_seed()
    first = snapshot()
    load_seed()
    assert snapshot() == first
    assert Event.objects.count() >= 7


def test_every_event_is_valid_sourced_and_stored_in_utc_as_computed():
    load_seed()
    for event in Event.objects.all():
        event.full_clean()
        assert event.sources.exists(), f"{event} has no source"
        span = timing.utc_span(
            event.precision,
            event.effective_timezone,
            event.start_date,
            event.start_time,
            event.end_date,
            event.end_time,
        )
        assert (event.start_utc, event.end_utc) == (span.start, span.end), event.title
        assert event.zone == event.effective_timezone
    publishers = set(Source.objects.values_list("publisher", flat=True))
    assert {"The Astana Times", "Akorda press service"} <= publishers
    for source in Source.objects.all():
        source.full_clean()


def test_the_facts_are_recorded_at_the_precision_the_sources_support():
    load_seed()
    places = {p.name: p.timezone for p in Place.objects.all()}
    assert places["Moscow"] == "Europe/Moscow"
    assert places["Almaty"] == "Asia/Almaty" and places["Astana"] == "Asia/Almaty"
    assert places["Omsk"] == "Asia/Omsk"
    assert {"diplomacy", "trade", "energy", "nuclear", "education"} <= set(
        Topic.objects.values_list("slug", flat=True)
    )

    visit = Event.objects.get(kind="visit", place__name="Moscow")
    assert (visit.precision, visit.start_date, visit.end_date) == (
        "day",
        dt.date(2025, 11, 11),
        dt.date(2025, 11, 12),
    )
    assert visit.when == "11–12 Nov 2025"
    assert {"Kassym-Jomart Tokayev", "Vladimir Putin"} <= {a.name for a in visit.participants.all()}
    for figure in ("$27 billion", "$30 billion", "$4 billion"):
        assert figure in visit.description

    declaration = Event.objects.get(kind="signing")
    assert "alliance" in declaration.title.lower()
    assert visit.start_date <= declaration.start_date <= visit.end_date

    matviyenko = Event.objects.get(participants__name="Valentina Matviyenko")
    assert visit.start_date <= matviyenko.start_date <= visit.end_date

    return_visit = Event.objects.get(kind="visit", start_date__year=2026)
    assert return_visit.precision == "year"
    assert return_visit.when == "2026, date to be announced"
    assert not return_visit.is_calendar_dated

    construction = Event.objects.get(kind="milestone")
    assert construction.track.slug == "kazakhstan-first-nuclear-power-plant"
    assert "6,000" in construction.description and "3,000" in construction.description

    openings = Event.objects.filter(kind="opening")
    assert {e.place.name for e in openings} >= {"Almaty", "Omsk"}
