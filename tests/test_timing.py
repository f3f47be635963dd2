"""The time arithmetic: local wall time at a precision, to UTC."""

import datetime as dt

import pytest

from timeline import timing


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_almaty_is_utc_plus_five_since_march_2024():
    span = timing.utc_span("minute", "Asia/Almaty", dt.date(2025, 11, 12), dt.time(10, 0))
    assert span.start == utc(2025, 11, 12, 5, 0)


def test_almaty_was_utc_plus_six_before_march_2024():
    span = timing.utc_span("minute", "Asia/Almaty", dt.date(2024, 2, 1), dt.time(10, 0))
    assert span.start == utc(2024, 2, 1, 4, 0)


def test_moscow_is_utc_plus_three():
    span = timing.utc_span("minute", "Europe/Moscow", dt.date(2025, 11, 12), dt.time(10, 0))
    assert span.start == utc(2025, 11, 12, 7, 0)


def test_berlin_far_future_summer_time():
    span = timing.utc_span("minute", "Europe/Berlin", dt.date(2040, 7, 1), dt.time(10, 0))
    assert span.start == utc(2040, 7, 1, 8, 0)


def test_day_span_is_local_midnight_to_midnight_after_last_day():
    span = timing.utc_span(
        "day", "Europe/Moscow", dt.date(2025, 11, 11), end_date=dt.date(2025, 11, 12)
    )
    assert span.start == utc(2025, 11, 10, 21, 0)
    assert span.end == utc(2025, 11, 12, 21, 0)


@pytest.mark.parametrize(
    ("precision", "day", "first", "after"),
    [
        ("month", dt.date(2025, 11, 20), dt.date(2025, 11, 1), dt.date(2025, 12, 1)),
        ("month", dt.date(2025, 12, 5), dt.date(2025, 12, 1), dt.date(2026, 1, 1)),
        ("quarter", dt.date(2026, 8, 15), dt.date(2026, 7, 1), dt.date(2026, 10, 1)),
        ("quarter", dt.date(2026, 11, 1), dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("year", dt.date(2026, 6, 1), dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_coarse_periods(precision, day, first, after):
    assert timing.period_start(day, precision) == first
    assert timing.period_end(day, precision) == after


def test_time_skipped_by_clock_change_is_refused():
    with pytest.raises(timing.LocalTimeError, match="does not exist in Europe/Berlin"):
        timing.utc_span("minute", "Europe/Berlin", dt.date(2025, 3, 30), dt.time(2, 30))


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("day", dt.date(2025, 11, 11), None, dt.date(2025, 11, 12)), "11–12 Nov 2025"),
        # CLDR puts thin spaces (U+2009) round a dash between two English dates.
        (
            ("day", dt.date(2025, 11, 30), None, dt.date(2025, 12, 1)),
            "30 Nov\u2009–\u20091 Dec 2025",
        ),
        (("minute", dt.date(2025, 11, 12), dt.time(12, 30)), "12 Nov 2025, 12:30"),
        (("year", dt.date(2026, 1, 1)), "2026, date to be announced"),
        (("quarter", dt.date(2026, 7, 1)), "Q3 2026, date to be announced"),
        (("month", dt.date(2025, 11, 1)), "November 2025, date to be announced"),
    ],
)
def test_labels_show_the_precision(args, label):
    assert timing.describe(*args) == label


def test_coarse_past_dates_are_not_to_be_announced():
    assert timing.describe("year", dt.date(2022, 1, 1), still_to_come=False) == "2022"


def test_iana_names_come_from_tzdata():
    assert timing.is_iana_zone("Asia/Almaty")
    assert not timing.is_iana_zone("Almaty")
    assert not timing.is_iana_zone("UTC+5")
