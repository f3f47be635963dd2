"""Template filters for dates, times and numbers in the active language (see timeline.l10n)."""

import datetime as dt
from decimal import Decimal

from django import template

from .. import l10n

register = template.Library()


@register.filter
def local_date(day: dt.date | None) -> str:
    """Render a day, e.g. {{ source.published_on|local_date }} → '11 ноября 2025 г.'."""
    return l10n.date(day) if day else ""


@register.filter
def local_moment(at: dt.datetime | None, zone_name: str = "UTC") -> str:
    """Render an instant on a zone's clock, e.g. {{ event.start_utc|local_moment:"UTC" }}."""
    return l10n.moment(at, zone_name) if at else ""


@register.filter
def local_number(value: int | float | Decimal | None) -> str:
    """Render a number with the language's separators, e.g. '1 234 567,5'."""
    return "" if value is None else l10n.number(value)


# How much of an ISO date the HTML `<time datetime>` form of a date known to a year, a month or
# a day keeps (a quarter has no such form).
_MACHINE_LENGTHS = {"year": 4, "month": 7, "day": 10}


@register.filter
def machine_date(day: dt.date | None, precision: str = "day") -> str:
    """Render a date at its precision for `<time datetime>`: '2025', '2025-11', '2025-11-12'."""
    length = _MACHINE_LENGTHS.get(precision or "day")
    return day.isoformat()[:length] if day and length else ""
