"""Export, then import the same file: nothing changes, in every language and either format."""

import datetime as dt

import pytest
from django.contrib.auth.models import User

from timeline.imports.csv_format import write_csv
from timeline.imports.ics_export import events_ics
from timeline.imports.plan import Change, plan_import
from timeline.imports.reading import read_upload
from timeline.imports.rows import ReadOptions
from timeline.models import Event

from .factories import ActorFactory, EventFactory, PlaceFactory, TopicFactory, TrackFactory

pytestmark = pytest.mark.django_db

TITLES = {
    "kk": "Мемлекеттік сапар: Астанадағы келіссөздер, «ұзақ» күн",
    "ru": "Государственный визит; переговоры в «Москве», день 1",
    "en": 'State visit, talks in "Moscow"',
}


@pytest.fixture
def chief():
    return User.objects.create_superuser("chief", "chief@example.com", "pw")


@pytest.fixture
def record():
    """Every shape: timed in two zones, all-day, multi-day, coarse, a part, a milestone."""
    astana = PlaceFactory(slug="astana", timezone="Asia/Almaty")
    moscow = PlaceFactory(slug="moscow", timezone="Europe/Moscow", country="RU")
    track = TrackFactory(slug="npp")
    visit = EventFactory(
        slug="visit",
        kind=Event.Kind.VISIT,
        place=moscow,
        start_date=dt.date(2025, 11, 11),
        end_date=dt.date(2025, 11, 12),
        title_kk=TITLES["kk"],
        title_ru=TITLES["ru"],
        title_en=TITLES["en"],
        description_ru="Первая строка,\nвторая строка; «кавычки».",
        countries=["KZ", "RU"],
    )
    talks = EventFactory(
        slug="talks",
        kind=Event.Kind.TALKS,
        place=moscow,
        precision="minute",
        start_date=dt.date(2025, 11, 12),
        start_time=dt.time(10, 30),
        end_date=dt.date(2025, 11, 12),
        end_time=dt.time(12, 0),
        part_of=visit,
        title_ru="Переговоры в узком составе",
        title_en="",
        status=Event.Status.COMPLETED,
    )
    talks.topics.set([TopicFactory(slug="energy")])
    talks.participants.set([ActorFactory(slug="someone")])
    EventFactory(
        slug="in-astana",
        place=astana,
        precision="minute",
        start_date=dt.date(2026, 3, 29),
        start_time=dt.time(23, 15),
        timezone="Europe/Berlin",  # across the change to summer time that night
        end_date=dt.date(2026, 3, 30),
        end_time=dt.time(2, 45),
        title_kk="Түнгі кездесу",
        title_en="Night meeting",
        status=Event.Status.POSTPONED,
    )
    EventFactory(
        slug="milestone",
        kind=Event.Kind.MILESTONE,
        track=track,
        precision="quarter",
        start_date=dt.date(2027, 4, 1),
        baseline_date=dt.date(2026, 10, 1),
        baseline_precision="quarter",
        status=Event.Status.TENTATIVE,
        published=False,
    )
    return Event.objects.all()


def reimport(data, filename, chief, language="en"):
    options = ReadOptions(language=language, timezone="Asia/Almaty")
    return plan_import(read_upload(data, filename, options), chief)


def test_a_csv_export_imports_as_no_change(record, chief):
    plan = reimport(write_csv(record), "events.csv", chief)
    assert [(row.key, row.change) for row in plan.rows] == [
        (event.calendar_uid, Change.UNCHANGED) for event in record.order_by("start_utc", "title")
    ], [row.differences or row.reason for row in plan.rows]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_an_ics_export_imports_as_no_change(record, chief, language):
    data = events_ics(record, language)
    plan = reimport(data, "events.ics", chief, language=language)
    in_calendars = [event for event in record if event.is_calendar_dated]
    assert len(plan.rows) == len(in_calendars)
    assert all(row.change == Change.UNCHANGED for row in plan.rows), [
        (row.key, row.differences, row.reason) for row in plan.rows
    ]


def test_an_edit_in_the_file_shows_as_exactly_that_edit(record, chief):
    data = write_csv(record).decode("utf-8-sig")
    edited = data.replace("Night meeting", "Night meeting (moved)").encode()
    plan = reimport(edited, "events.csv", chief)
    changed = [row for row in plan.rows if row.change == Change.CHANGED]
    assert [(d.field, d.old, d.new) for row in changed for d in row.differences] == [
        ("title_en", "Night meeting", "Night meeting (moved)")
    ]
    assert plan.count(Change.UNCHANGED) == len(plan.rows) - 1
