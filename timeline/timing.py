"""Pure time arithmetic for events: local wall time and precision in, UTC and labels out."""

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.utils import translation
from django.utils.timezone import now as django_now
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from . import l10n

MINUTE, DAY, MONTH, QUARTER, YEAR = "minute", "day", "month", "quarter", "year"
COARSER_THAN_DAY = frozenset({MONTH, QUARTER, YEAR})
# The dates an event may have: wide enough for history and plans, narrow enough that every
# period end and every UTC conversion stays inside what datetime can hold.
EARLIEST_DATE, LATEST_DATE = dt.date(1700, 1, 1), dt.date(2100, 12, 31)


class LocalTimeError(ValueError):
    """A local wall time that cannot be placed on the UTC line."""


@cache
def available_zones() -> frozenset[str]:
    """Return every IANA zone name the pinned tzdata package knows."""
    return frozenset(zoneinfo.available_timezones())


def is_iana_zone(name: str) -> bool:
    """Tell whether *name* is an IANA time zone name known to tzdata."""
    return name in available_zones()


def in_range(day: dt.date) -> bool:
    """Tell whether *day* lies between EARLIEST_DATE and LATEST_DATE."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the ZoneInfo for an IANA name."""
    return zoneinfo.ZoneInfo(name)


def latest_today() -> dt.date:
    """Return the latest date anywhere on Earth now (UTC+14): no reader's today is after it."""
    return (django_now() + dt.timedelta(hours=14)).date()


def period_start(day: dt.date, precision: str) -> dt.date:
    """Return the first day of the month, quarter or year that *day* falls in."""
    if precision == MONTH:
        return day.replace(day=1)
    if precision == QUARTER:
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if precision == YEAR:
        return dt.date(day.year, 1, 1)
    return day


def period_end(day: dt.date, precision: str) -> dt.date:
    """Return the day after the last day of the period *day* starts (an exclusive end)."""
    start = period_start(day, precision)
    if precision == MONTH:
        months = 1
    elif precision == QUARTER:
        months = 3
    elif precision == YEAR:
        months = 12
    else:
        return start + dt.timedelta(days=1)
    month_index = start.month - 1 + months
    return dt.date(start.year + month_index // 12, month_index % 12 + 1, 1)


def local_datetime(day: dt.date, at: dt.time | None, zone_name: str) -> dt.datetime:
    """Return the aware local datetime for a wall-clock date and time in a zone.

    Raise LocalTimeError for a time skipped by a clock change (it never happens there).
    """
    tz = zone(zone_name)
    naive = dt.datetime.combine(day, at or dt.time(0, 0))
    aware = naive.replace(tzinfo=tz)
    round_trip = aware.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        raise LocalTimeError(
            _("%(time)s does not exist in %(zone)s: the clocks skip it.")
            % {"time": f"{naive:%Y-%m-%d %H:%M}", "zone": zone_name}
        )
    return aware


@dataclass(frozen=True)
class Span:
    """An event's place on the UTC line: start, and exclusive end (None when open)."""

    start: dt.datetime
    end: dt.datetime | None


def utc_span(
    precision: str,
    zone_name: str,
    start_date: dt.date,
    start_time: dt.time | None = None,
    end_date: dt.date | None = None,
    end_time: dt.time | None = None,
) -> Span:
    """Return the UTC span of an event given in local wall time at some precision."""
    if precision == MINUTE:
        start = local_datetime(start_date, start_time, zone_name)
        end = None
        if end_time is not None:
            end = local_datetime(end_date or start_date, end_time, zone_name)
        elif end_date is not None:
            end = local_datetime(end_date + dt.timedelta(days=1), None, zone_name)
    elif precision == DAY:
        start = local_datetime(start_date, None, zone_name)
        last_day = end_date or start_date
        end = local_datetime(last_day + dt.timedelta(days=1), None, zone_name)
    else:
        first = period_start(start_date, precision)
        start = local_datetime(first, None, zone_name)
        end = local_datetime(period_end(first, precision), None, zone_name)
    return Span(start.astimezone(dt.UTC), end.astimezone(dt.UTC) if end else None)


# How a coarse date reads: the year, the quarter and year, the month and year.
COARSE_LABELS: dict[str, Callable[[dt.date, str], str]] = {
    YEAR: l10n.year,
    QUARTER: l10n.quarter,
    MONTH: l10n.month,
}


def describe(
    precision: str,
    start_date: dt.date,
    start_time: dt.time | None = None,
    end_date: dt.date | None = None,
    end_time: dt.time | None = None,
    *,
    still_to_come: bool = True,
    language: str | None = None,
) -> str:
    """Return a label for a date at its precision in a language (default: the active one).

    E.g. '11–12 Nov 2025', '11—12 ноября 2025 г.', '2025 ж. 11–12 қараша'. A coarse date of
    something still to come says the exact date is to be announced.
    """
    language = l10n.language_or_active(language)
    coarse = COARSE_LABELS.get(precision)
    if coarse is not None:
        period = coarse(start_date, language)
        if not still_to_come:
            return period
        with translation.override(language):
            # Translators: period is a year, quarter or month already written in your language,
            # e.g. "2026", "1-й квартал 2026 г.", "2026 ж. қараша".
            return pgettext("date label", "%(period)s, date to be announced") % {"period": period}
    if precision == MINUTE and start_time is not None:
        return l10n.wall_time(start_date, start_time, end_time, end_date, language)
    return l10n.days(start_date, end_date or start_date, language)


# How a period covered reads, from its first to its last day: years, quarters or months.
RANGE_LABELS: dict[str, Callable[[dt.date, dt.date, str], str]] = {
    YEAR: l10n.years,
    QUARTER: l10n.quarters,
    MONTH: l10n.months,
}


def describe_period(
    precision: str, first: dt.date, last: dt.date, *, language: str | None = None
) -> str:
    """Return a period covered (both days included) at its precision in a language.

    E.g. '2024', '2020–2024', 'Jan – Sept 2025', '1–15 Mar 2025'.
    """
    language = l10n.language_or_active(language)
    label = RANGE_LABELS.get(precision)
    if label is not None:
        return label(first, last, language)
    return l10n.days(first, last, language)
