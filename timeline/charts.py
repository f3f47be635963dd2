"""The geometry of a figures chart: dated values in, positions, ticks and line paths out.

Pure arithmetic (no models, no queries, no markup): the page draws the result as inline SVG.
Flows are placed at the middle of the period they cover, with a bar across it; levels at
their "as of" day. Actual values of the same kind of period are joined by a line, broken where
sources disagree about a period (two values are shown, never a line through their average).
"""

import datetime as dt
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from typing import Any

ACTUAL, TARGET, FORECAST = "actual", "target", "forecast"
# Room for the year labels under the axis and the tallest value label, in SVG user units
# (CSS pixels when the chart is shown at its own size).
FONT_SIZE = 12
CHAR_WIDTH = 7.5  # generous: Cyrillic and "$" run wider than the average Latin letter
TOP, BOTTOM, RIGHT = 12.0, 28.0, 12.0
YEAR_LABEL_WIDTH = 40.0
VALUE_TICKS = 5


@dataclass(frozen=True)
class Datum:
    """One stated value to place: its kind, its period (first day, last day) or none."""

    item: Any  # what the page links each mark to (a figure); passed through untouched
    kind: str
    value: Decimal
    first: dt.date | None
    last: dt.date | None


@dataclass(frozen=True)
class Mark:
    """A plotted value: its point, and the span of its period for a flow."""

    datum: Datum
    x: float
    y: float
    span: tuple[float, float] | None


@dataclass(frozen=True)
class Rule:
    """A value with no period (a target "to reach"), drawn across the whole chart."""

    datum: Datum
    y: float


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the SVG needs, in user units of a `width` × `height` viewBox."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    marks: list[Mark] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)  # year boundaries (gridlines)
    x_labels: list[Tick] = field(default_factory=list)  # year labels, centred in their year
    y_ticks: list[Tick] = field(default_factory=list)
    zero: float | None = None

    @property
    def plot_width(self) -> float:
        return self.right - self.left

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top

    @property
    def value_label_x(self) -> float:
        """Return where value labels end, just left of the plot."""
        return round(self.left - 6, 1)

    @property
    def year_label_y(self) -> float:
        """Return the baseline of the year labels, under the plot."""
        return round(self.bottom + FONT_SIZE + 6, 1)


def draw(
    data: Sequence[Datum],
    *,
    width: int,
    height: int,
    amount: Callable[[Decimal], str],
    year: Callable[[dt.date], str],
) -> Chart | None:
    """Lay out *data* in a width × height chart; None when nothing has a period or a rule."""
    dated = [d for d in data if d.last is not None]
    rules = [d for d in data if d.last is None and d.kind == TARGET]
    if not dated and not rules:
        return None
    values = [d.value for d in (*dated, *rules)]
    ticks = value_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    labels = [amount(tick) for tick in ticks]
    left = max(len(label) for label in labels) * CHAR_WIDTH + 12
    bottom = height - BOTTOM
    right = width - RIGHT

    def y_of(value: Decimal) -> float:
        share = float((value - low) / (high - low))
        return round(bottom - share * (bottom - TOP), 1)

    days = [day for d in dated for day in (d.first, d.last) if day is not None]
    marks: list[Mark] = []
    x_ticks: list[Tick] = []
    x_labels: list[Tick] = []
    if days:
        first_year, last_year = min(days).year, max(days).year
        start = dt.date(first_year, 1, 1)
        total = (dt.date(last_year + 1, 1, 1) - start).days

        def x_of(day: dt.date, fraction: float = 0.0) -> float:
            share = ((day - start).days + fraction) / total
            return round(left + share * (right - left), 1)

        for d in dated:
            last = d.last or d.first or start  # dated: `last` is set
            if d.first is not None:
                begins, ends = x_of(d.first), x_of(last, 1.0)
                marks.append(Mark(d, round((begins + ends) / 2, 1), y_of(d.value), (begins, ends)))
            else:
                marks.append(Mark(d, x_of(last, 0.5), y_of(d.value), None))
        years = range(first_year, last_year + 1)
        every = label_step(len(years), (right - left) / YEAR_LABEL_WIDTH)
        x_ticks = [Tick(x_of(dt.date(y, 1, 1)), "") for y in (*years, last_year + 1)]
        x_labels = [
            Tick(
                round((x_of(dt.date(y, 1, 1)) + x_of(dt.date(y + 1, 1, 1))) / 2, 1),
                year(dt.date(y, 1, 1)),
            )
            for y in years
            if (y - first_year) % every == 0
        ]
    return Chart(
        width=width,
        height=height,
        left=round(left, 1),
        right=right,
        top=TOP,
        bottom=bottom,
        marks=marks,
        rules=[Rule(d, y_of(d.value)) for d in rules],
        lines=actual_lines(marks),
        x_ticks=x_ticks,
        x_labels=x_labels,
        y_ticks=[Tick(y_of(tick), label) for tick, label in zip(ticks, labels, strict=True)],
        zero=y_of(Decimal(0)) if low <= 0 <= high else None,
    )


def value_ticks(low: Decimal, high: Decimal, count: int = VALUE_TICKS) -> list[Decimal]:
    """Return round values (1, 2 or 5 × 10ⁿ apart) from at most 0 to at least the highest."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if low == high:
        high = low + 1
    raw = (high - low) / count
    magnitude = Decimal(10) ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step)
    last = math.ceil(high / step)
    return [(step * n).normalize() + 0 for n in range(first, last + 1)]


def label_step(count: int, room: float) -> int:
    """Return how many years apart year labels go so that *room* of them fit: 1, 2, 5, 10…"""
    for step in (1, 2, 5, 10, 20, 50, 100):
        if count / step <= max(room, 1):
            return step
    return 200


def actual_lines(marks: Sequence[Mark]) -> list[str]:
    """Return SVG path data joining actual values with periods of the same length in order.

    A period two sources state differently breaks the line: both points stand, unjoined.
    """
    actual = [m for m in marks if m.datum.kind == ACTUAL]
    paths = []
    for _length, series in groupby(sorted(actual, key=_series_key), key=_length_key):
        runs: list[list[Mark]] = [[]]
        for _period, same in groupby(series, key=_period_key):
            points = list(same)
            if len(points) == 1:
                runs[-1].append(points[0])
            else:
                runs.append([])
        for run in runs:
            if len(run) > 1:
                paths.append(
                    " ".join(f"{'M' if i == 0 else 'L'}{m.x},{m.y}" for i, m in enumerate(run))
                )
    return paths


def _length_key(mark: Mark) -> str:
    first, last = mark.datum.first, mark.datum.last
    if first is None or last is None:
        return "level"  # levels: one series
    if first.day == 1 and (last + dt.timedelta(days=1)).day == 1:
        # Whole months covered: a year is 12, a quarter 3, January to September 9.
        return f"months:{(last.year - first.year) * 12 + last.month - first.month + 1}"
    return f"days:{(last - first).days + 1}"


def _period_key(mark: Mark) -> Hashable:
    return (mark.datum.first, mark.datum.last)


def _series_key(mark: Mark) -> tuple[Any, ...]:
    return (_length_key(mark), mark.x, str(mark.datum.first), str(mark.datum.last))
