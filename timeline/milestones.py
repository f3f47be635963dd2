"""How far a milestone has moved from its baseline, counted at the precision both are known to."""

import datetime as dt
from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext, ngettext

from . import l10n, timing

# From finest to coarsest: a slip is counted in the coarser unit of the two dates.
UNITS = (timing.DAY, timing.MONTH, timing.QUARTER, timing.YEAR)


def unit_of(precision: str) -> str:
    """Return the unit a date at *precision* is known to (an exact time is known to the day)."""
    return precision if precision in UNITS else timing.DAY


@dataclass(frozen=True)
class Slip:
    """A milestone's move from its baseline: *amount* units of *unit*, later being positive."""

    amount: int
    unit: str

    @property
    def direction(self) -> str:
        """Return 'late', 'early' or 'on-time' (also the CSS class the pages give it)."""
        if self.amount > 0:
            return "late"
        return "early" if self.amount < 0 else "on-time"

    @property
    def label(self) -> str:
        """Return the slip in the active language, e.g. '40 days late', '2 quarters late'."""
        return self.label_in()

    def label_in(self, language: str | None = None) -> str:
        """Return the slip in *language* (default: the active one)."""
        with translation.override(l10n.language_or_active(language)):
            if self.amount < 0:
                return gettext("ahead of plan")
            if self.amount == 0:
                return gettext("on plan")
            count = self.amount
            if self.unit == timing.YEAR:
                return ngettext("%(years)s year late", "%(years)s years late", count) % {
                    "years": count
                }
            if self.unit == timing.QUARTER:
                text = ngettext("%(quarters)s quarter late", "%(quarters)s quarters late", count)
                return text % {"quarters": count}
            if self.unit == timing.MONTH:
                return ngettext("%(months)s month late", "%(months)s months late", count) % {
                    "months": count
                }
            # The same words as the pages had for a slip in days, so their translations hold.
            return ngettext("%(days)s day late", "%(days)s days late", count) % {"days": count}


def slip(baseline: dt.date, baseline_precision: str, current: dt.date, precision: str) -> Slip:
    """Return how far *current* lies from *baseline*, in the coarser unit of their precisions.

    A milestone planned for "2026" and now expected in "Q3 2026" is on plan: it is still in the
    planned year. Planned for 1 June and now expected on 11 July, it is 40 days late.
    """
    unit = max(unit_of(baseline_precision), unit_of(precision), key=UNITS.index)
    start = timing.period_start(baseline, unit)
    now = timing.period_start(current, unit)
    if unit == timing.DAY:
        return Slip((now - start).days, unit)
    months = (now.year - start.year) * 12 + now.month - start.month
    per_unit = {timing.MONTH: 1, timing.QUARTER: 3, timing.YEAR: 12}[unit]
    return Slip(months // per_unit, unit)
