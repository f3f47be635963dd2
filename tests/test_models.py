"""Validation and bookkeeping of the record."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from timeline.models import Event, Place

from .factories import EventFactory, PlaceFactory, SourceFactory, TrackFactory

pytestmark = pytest.mark.django_db


def errors_of(event: Event) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        event.full_clean()
    return caught.value.message_dict


def test_timed_event_in_almaty_is_stored_at_0500_utc():
    event = EventFactory(
        precision="minute", start_date=dt.date(2025, 11, 12), start_time=dt.time(10)
    )
    event.refresh_from_db()
    assert event.start_utc == dt.datetime(2025, 11, 12, 5, 0, tzinfo=dt.UTC)
    assert event.local_start.utcoffset() == dt.timedelta(hours=5)


def test_own_time_zone_overrides_the_place():
    event = EventFactory(
        precision="minute",
        start_date=dt.date(2025, 11, 12),
        start_time=dt.time(10),
        timezone="Europe/Moscow",
    )
    assert event.start_utc == dt.datetime(2025, 11, 12, 7, 0, tzinfo=dt.UTC)


def test_end_before_start_is_refused():
    event = EventFactory.build(
        place=PlaceFactory(), start_date=dt.date(2025, 11, 12), end_date=dt.date(2025, 11, 10)
    )
    assert errors_of(event)["end_date"] == ["The end is before the start."]


def test_end_time_before_start_time_is_refused():
    event = EventFactory.build(
        place=PlaceFactory(),
        precision="minute",
        start_date=dt.date(2025, 11, 12),
        start_time=dt.time(12, 30),
        end_time=dt.time(11, 0),
    )
    assert errors_of(event)["end_time"] == ["The end is before the start."]


def test_unknown_time_zone_is_refused():
    event = EventFactory.build(place=PlaceFactory(), timezone="Mars/Olympus")
    assert "is not an IANA time zone name" in errors_of(event)["timezone"][0]


def test_place_with_unknown_time_zone_is_refused():
    place = Place(name="X", slug="x", country="KZ", timezone="GMT+5")
    with pytest.raises(ValidationError, match="not an IANA time zone name"):
        place.full_clean()


def test_time_on_a_year_precision_event_is_refused():
    event = EventFactory.build(
        place=PlaceFactory(),
        precision="year",
        start_date=dt.date(2026, 1, 1),
        start_time=dt.time(9),
    )
    assert "A time was given for a year-precision event" in errors_of(event)["start_time"][0]


def test_exact_time_event_needs_a_time():
    event = EventFactory.build(place=PlaceFactory(), precision="minute")
    assert errors_of(event)["start_time"] == ["An event with an exact time needs a start time."]


def test_exact_time_event_needs_a_zone_or_place():
    event = EventFactory.build(place=None, precision="minute", start_time=dt.time(9))
    assert "needs a time zone or a place" in errors_of(event)["timezone"][0]


def test_milestone_without_a_track_is_refused():
    event = EventFactory.build(place=PlaceFactory(), kind=Event.Kind.MILESTONE)
    assert errors_of(event)["track"] == ["A milestone belongs to a track; choose one."]


def test_baseline_only_on_milestones():
    event = EventFactory.build(place=PlaceFactory(), baseline_date=dt.date(2025, 1, 1))
    assert errors_of(event)["baseline_date"] == ["Only milestones keep a baseline date."]


def test_time_skipped_by_dst_is_refused():
    event = EventFactory.build(
        place=PlaceFactory(timezone="Europe/Berlin"),
        precision="minute",
        start_date=dt.date(2025, 3, 30),
        start_time=dt.time(2, 30),
    )
    assert "does not exist in Europe/Berlin" in errors_of(event)["start_time"][0]


def test_coarse_events_have_no_end_date():
    event = EventFactory.build(
        place=PlaceFactory(), precision="month", end_date=dt.date(2025, 12, 31)
    )
    assert "has no end date" in errors_of(event)["end_date"][0]


def test_year_precision_is_stored_as_the_whole_year():
    event = EventFactory(precision="year", start_date=dt.date(2026, 5, 17), place=None)
    assert event.start_date == dt.date(2026, 1, 1)
    assert event.when == "2026, date to be announced"
    assert not event.is_calendar_dated


def test_milestone_keeps_baseline_and_shows_slip():
    event = EventFactory(
        kind=Event.Kind.MILESTONE,
        track=TrackFactory(),
        start_date=dt.date(2027, 3, 1),
        precision="month",
        baseline_date=dt.date(2026, 6, 1),
        baseline_precision="month",
    )
    event.full_clean()
    # A baseline is the plan as first made: its month is the plan, not a date still to come.
    assert event.baseline_label == "June 2026"
    assert event.slip_days == 273


def test_sequence_bumps_on_time_place_or_status_only():
    event = EventFactory()
    assert event.sequence == 0
    event.title = "Renamed"
    event.save()
    assert event.sequence == 0
    event.start_date = dt.date(2025, 11, 13)
    event.save()
    assert event.sequence == 1
    event = Event.objects.get(pk=event.pk)
    event.place = PlaceFactory()
    event.save()
    assert event.sequence == 2
    event.status = Event.Status.CANCELLED
    event.save()
    assert Event.objects.get(pk=event.pk).sequence == 3


def test_place_time_zone_change_moves_its_events():
    place = PlaceFactory(timezone="Asia/Almaty")
    event = EventFactory(place=place, precision="minute", start_time=dt.time(10))
    place.timezone = "Europe/Moscow"
    place.save()
    event.refresh_from_db()
    assert event.start_utc == dt.datetime(2025, 11, 11, 7, 0, tzinfo=dt.UTC)
    assert event.sequence == 1


def test_uid_is_stable_and_unique():
    first, second = EventFactory(), EventFactory()
    uid = first.uid
    first.title = "Changed"
    first.slug = "changed"
    first.save()
    first.refresh_from_db()
    assert first.uid == uid
    assert first.uid != second.uid


def test_duplicate_is_an_unpublished_copy_with_its_sources():
    original = SourceFactory().event
    copy = original.duplicate()
    assert copy.pk != original.pk and copy.uid != original.uid and copy.slug != original.slug
    assert not copy.published
    assert [s.url for s in copy.sources.all()] == [s.url for s in original.sources.all()]


def test_naive_datetime_never_reaches_the_database():
    event = EventFactory()
    with pytest.raises(RuntimeWarning, match="naive datetime"), transaction.atomic():
        # Naive on purpose: the guard under test refuses exactly this.
        Event.objects.filter(pk=event.pk).update(start_utc=dt.datetime(2025, 1, 1))  # noqa: DTZ001
    event.refresh_from_db()
    assert event.start_utc == dt.datetime(2025, 11, 10, 19, 0, tzinfo=dt.UTC)
