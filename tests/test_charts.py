"""The chart geometry: round value ticks from zero, year labels that fit, honest lines."""

import datetime as dt
from decimal import Decimal

from timeline import charts

D = dt.date


def datum(value: str, first: dt.date | None, last: dt.date | None, kind: str = "actual"):
    return charts.Datum(item=value, kind=kind, value=Decimal(value), first=first, last=last)


def year(number: int, value: str, kind: str = "actual"):
    return datum(value, D(number, 1, 1), D(number, 12, 31), kind)


def draw(data, width: int = 720, height: int = 300):
    return charts.draw(
        data,
        width=width,
        height=height,
        amount=lambda value: f"{value}",
        year=lambda day: str(day.year),
    )


def test_value_ticks_are_round_and_start_at_zero():
    assert charts.value_ticks(Decimal("19.1e9"), Decimal("27.8e9")) == [
        Decimal(n * 10**10) for n in range(4)
    ]
    assert charts.value_ticks(Decimal(-3), Decimal("12.5")) == [
        Decimal(n) for n in (-5, 0, 5, 10, 15)
    ]
    assert charts.value_ticks(Decimal(0), Decimal(0)) == [Decimal("0"), Decimal("0.2")] + [
        Decimal(n) / 10 for n in (4, 6, 8, 10)
    ]


def test_year_labels_thin_out_to_fit():
    assert charts.label_step(7, 16) == 1
    assert charts.label_step(7, 6) == 2
    assert charts.label_step(31, 7) == 5


def test_nothing_to_draw_without_a_period_or_a_target():
    assert draw([datum("5", None, None)]) is None
    assert draw([]) is None


def test_flows_sit_in_the_middle_of_their_period_levels_on_their_day():
    chart = draw([year(2023, "10"), year(2024, "20"), datum("15", None, D(2024, 12, 31))])
    first, second, level = chart.marks
    assert first.span[0] == chart.left and second.span[1] == chart.right
    assert first.x == round((first.span[0] + first.span[1]) / 2, 1)
    assert level.span is None and level.x > second.x  # the last day of 2024
    assert first.y > second.y  # higher values higher up
    assert [label.label for label in chart.x_labels] == ["2023", "2024"]
    assert len(chart.x_ticks) == 3  # 1 Jan 2023, 2024, 2025


def test_actual_values_of_equal_periods_are_joined_and_disagreements_break_the_line():
    data = [
        year(2020, "10"),
        year(2021, "11"),
        year(2022, "12"),
        year(2022, "13"),  # another source's 2022
        year(2023, "14"),
        year(2024, "15"),
        datum("9", D(2025, 1, 1), D(2025, 9, 30)),  # nine months: not joined to years
        year(2026, "20", kind="target"),
    ]
    lines = draw(data).lines
    assert len(lines) == 2
    assert [line.count("L") for line in lines] == [1, 1]  # 2020–2021 and 2023–2024


def test_a_target_with_no_period_is_a_rule_across_the_chart():
    chart = draw([year(2024, "27"), datum("30", None, None, kind="target")])
    (rule,) = chart.rules
    assert rule.y < chart.marks[0].y
    assert chart.y_ticks[-1].label == "30"
