"""Milestone tracks: the date first planned beside the date now expected, and the slip between."""

import datetime as dt

import pytest
from django.utils import translation
from django.utils.translation import ngettext

from timeline import milestones, timing

from .factories import EventFactory, TrackFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("baseline", "baseline_precision", "current", "precision", "expected"),
    [
        ((2025, 6, 29), "day", (2025, 8, 8), "day", (40, "day", "40 days late")),
        ((2025, 6, 29), "day", (2025, 6, 30), "minute", (1, "day", "1 day late")),
        ((2025, 6, 29), "day", (2025, 6, 1), "day", (-28, "day", "ahead of plan")),
        ((2026, 6, 1), "month", (2027, 3, 1), "month", (9, "month", "9 months late")),
        # Planned for a year and now expected within it: on plan, not "181 days late".
        ((2026, 1, 1), "year", (2026, 7, 1), "quarter", (0, "year", "on plan")),
        ((2026, 1, 1), "year", (2028, 2, 3), "day", (2, "year", "2 years late")),
        ((2026, 5, 20), "day", (2026, 12, 1), "quarter", (2, "quarter", "2 quarters late")),
    ],
)
def test_slip_is_counted_in_the_coarser_unit(
    baseline, baseline_precision, current, precision, expected
):
    slip = milestones.slip(dt.date(*baseline), baseline_precision, dt.date(*current), precision)
    assert (slip.amount, slip.unit, slip.label_in("en")) == expected


def milestone(**fields):
    defaults = {
        "title": "First concrete poured",
        "kind": "milestone",
        "track": TrackFactory(name="First nuclear power plant"),
        "status": "tentative",
        "precision": "quarter",
        "start_date": dt.date(2027, 10, 1),
        "baseline_date": dt.date(2027, 3, 1),
        "baseline_precision": "month",
    }
    return EventFactory(**{**defaults, **fields})


def lane(client, language: str = "en") -> str:
    text = client.get(f"/{language}/").content.decode()
    start = text.index('<ol class="lane">')
    return text[start : text.index("</ol>", start)]


def test_lane_shows_planned_and_expected_dates_at_their_precision_and_the_slip(client):
    milestone()
    shown = lane(client)
    assert "First concrete poured" in shown
    # Now: the fourth quarter, tentative; planned: March; the slip in quarters (Q1 to Q4).
    assert "Q4 2027, date to be announced (tentative)" in shown
    assert "March 2027" in shown
    assert '<dd class="slip late">3 quarters late</dd>' in shown
    assert 'class="milestone late"' in shown


def test_lane_marks_on_plan_and_ahead_and_leaves_out_a_missing_baseline(client):
    track = TrackFactory()
    milestone(
        title="On plan",
        track=track,
        status="confirmed",
        precision="day",
        start_date=dt.date(2027, 3, 10),
    )
    milestone(
        title="Early",
        track=track,
        status="confirmed",
        precision="day",
        start_date=dt.date(2027, 1, 10),
        baseline_precision="day",
    )
    milestone(title="No baseline", track=track, baseline_date=None, baseline_precision="")
    shown = lane(client)
    assert '<dd class="slip on-time">on plan</dd>' in shown
    assert '<dd class="slip early">ahead of plan</dd>' in shown
    no_baseline = shown[shown.index("No baseline") :]
    assert "Planned" not in no_baseline and "Slip" not in no_baseline
    assert "(tentative)" in no_baseline


def test_lane_in_russian_counts_days_with_its_plural(client):
    milestone(precision="day", start_date=dt.date(2027, 3, 23), baseline_precision="day")
    shown = lane(client, "ru")
    with translation.override("ru"):
        late = ngettext("%(days)s day late", "%(days)s days late", 22) % {"days": 22}
    assert late in shown
    assert timing.describe("day", dt.date(2027, 3, 1), language="ru") in shown
    assert timing.describe("day", dt.date(2027, 3, 23), language="ru") in shown


def test_event_page_gives_the_slip(client):
    event = milestone()
    text = client.get(event.get_absolute_url()).content.decode()
    assert "first planned for March 2027" in text
    assert '<span class="slip late">3 quarters late</span>' in text
