"""The calendars of icalendar's own test suite in a dry run: read or refused, never a crash."""

from pathlib import Path

import icalendar
import pytest
from django.contrib.auth.models import User

from timeline.imports.plan import Change, plan_import
from timeline.imports.reading import read_upload
from timeline.imports.rows import FileRefused, ReadOptions

CORPUS = sorted((Path(icalendar.__file__).parent / "tests" / "calendars").glob("*.ics"))

pytestmark = pytest.mark.django_db


def test_the_corpus_is_there():
    assert len(CORPUS) > 50


@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_every_calendar_is_planned_or_refused_with_a_reason(path):
    chief, _ = User.objects.get_or_create(username="chief", is_superuser=True, is_staff=True)
    options = ReadOptions(language="en", timezone="Asia/Almaty")
    try:
        reading = read_upload(path.read_bytes(), path.name, options)
    except FileRefused as refused:
        assert refused.reason.strip()
        return
    plan = plan_import(reading, chief)
    assert len(plan.rows) == len(reading.rows)
    for row in plan.rows:
        assert row.line >= 1
        if row.change == Change.REFUSED:
            assert row.reason.strip(), row
        else:
            # Nothing is recorded yet: every event read is new, and shows what it would be.
            assert row.change == Change.NEW and row.differences, row
