"""A figure's value and period in the reader's language (kk, ru, en), as CLDR writes them.

CLDR puts a no-break space (U+00A0) between digit groups, before "млрд" and before the currency
sign in Russian and Kazakh, a narrow no-break space (U+202F) before "г." and "ж.", and thin
spaces (U+2009) round an English dash between months: the strings below spell them out.
Amounts are never rounded: the compact form ("US$27.5B") only when it states the value exactly.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.translation import pgettext

from timeline import l10n
from timeline.models import Figure, Metric

from .factories import FigureFactory, MetricFactory

NBSP, NNBSP, THIN = "\u00a0", "\u202f", "\u2009"
D = dt.date


@pytest.fixture(autouse=True)
def no_language_left_active():
    yield
    translation.deactivate()


def in_language(language: str, context: str, text: str, **values: str) -> str:
    """Return a figure wording as the .po files of *language* translate it, filled in."""
    with translation.override(language):
        return pgettext(context, text) % values


@pytest.mark.parametrize(
    ("language", "billions", "with_decimals", "in_full", "whole", "tenge", "millions_of_roubles"),
    [
        (
            "kk",
            f"27{NBSP}млрд{NBSP}$",
            f"27,54{NBSP}млрд{NBSP}$",
            f"1{NBSP}234{NBSP}567,89{NBSP}$",
            f"950{NBSP}$",
            f"4,2{NBSP}трлн{NBSP}₸",
            f"350{NBSP}млн{NBSP}₽",
        ),
        (
            "ru",
            f"27{NBSP}млрд{NBSP}$",
            f"27,54{NBSP}млрд{NBSP}$",
            f"1{NBSP}234{NBSP}567,89{NBSP}$",
            f"950{NBSP}$",
            f"4,2{NBSP}трлн{NBSP}KZT",
            f"350{NBSP}млн{NBSP}₽",
        ),
        (
            "en",
            "US$27B",
            "US$27.54B",
            f"1,234,567.89{NBSP}US$",
            f"950{NBSP}US$",
            "KZT4.2T",
            "RUB350M",
        ),
    ],
)
def test_money_is_compact_only_when_exact(
    language, billions, with_decimals, in_full, whole, tenge, millions_of_roubles
):
    assert l10n.money(Decimal("27000000000.0000"), "USD", language) == billions
    assert l10n.money(Decimal("27540000000"), "USD", language) == with_decimals
    assert l10n.money(Decimal("1234567.89"), "USD", language) == in_full
    assert l10n.money(Decimal("950.0000"), "USD", language) == whole
    assert l10n.money(Decimal("4200000000000"), "KZT", language) == tenge
    assert l10n.money(Decimal("350000000"), "RUB", language) == millions_of_roubles


@pytest.mark.parametrize(
    ("language", "amount"),
    [
        ("kk", f"27{NBSP}545{NBSP}123{NBSP}000{NBSP}$"),
        ("ru", f"27{NBSP}545{NBSP}123{NBSP}000{NBSP}$"),
        ("en", f"27,545,123,000{NBSP}US$"),
    ],
)
def test_money_that_no_compact_form_states_is_written_in_full(language, amount):
    assert l10n.money(Decimal("27545123000"), "USD", language) == amount


@pytest.mark.parametrize(
    ("language", "count", "share", "fall"),
    [
        ("kk", f"74{NBSP}500", "12,5%", "-3%"),
        ("ru", f"74{NBSP}500", f"12,5{NBSP}%", f"-3{NBSP}%"),
        ("en", "74,500", "12.5%", "-3%"),
    ],
)
def test_counts_are_grouped_and_percentages_keep_their_digits(language, count, share, fall):
    assert l10n.number(Decimal("74500.0000"), language) == count
    assert l10n.percent(Decimal("12.5000"), language) == share
    assert l10n.percent(Decimal("-3"), language) == fall


@pytest.mark.parametrize(
    ("language", "months", "one_month", "quarters", "years"),
    [
        (
            "kk",
            f"2025{NNBSP}ж. қаңтар – қыркүйек",
            f"2025{NNBSP}ж. наурыз",
            f"2025{NNBSP}ж. І тоқсан - 2025{NNBSP}ж. ІІ тоқсан",
            "2020–2024",
        ),
        (
            "ru",
            f"январь{NBSP}— сентябрь 2025{NNBSP}г.",
            f"март 2025{NNBSP}г.",
            f"1-й квартал 2025{NNBSP}г. — 2-й квартал 2025{NNBSP}г.",
            "2020—2024",
        ),
        (
            "en",
            f"Jan{THIN}–{THIN}Sept 2025",
            "March 2025",
            f"Q1 2025{THIN}–{THIN}Q2 2025",
            f"2020{THIN}–{THIN}2024",
        ),
    ],
)
def test_periods_covered_at_their_precision(language, months, one_month, quarters, years):
    assert l10n.months(D(2025, 1, 1), D(2025, 9, 30), language) == months
    assert l10n.months(D(2025, 3, 1), D(2025, 3, 31), language) == one_month
    assert l10n.quarters(D(2025, 1, 1), D(2025, 6, 30), language) == quarters
    assert l10n.years(D(2020, 1, 1), D(2024, 12, 31), language) == years
    assert l10n.years(D(2024, 1, 1), D(2024, 12, 31), language) == "2024"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "amount", "as_of_day", "months"),
    [
        (
            "kk",
            f"27{NBSP}млрд{NBSP}$",
            f"2025{NNBSP}ж. 1 қаңтар",
            f"2025{NNBSP}ж. қаңтар – қыркүйек",
        ),
        (
            "ru",
            f"27{NBSP}млрд{NBSP}$",
            f"1 января 2025{NNBSP}г.",
            f"январь{NBSP}— сентябрь 2025{NNBSP}г.",
        ),
        ("en", "US$27B", "1 Jan 2025", f"Jan{THIN}–{THIN}Sept 2025"),
    ],
)
def test_a_figure_reads_with_its_qualifier_and_period(language, amount, as_of_day, months):
    trade = FigureFactory(qualifier=Figure.Qualifier.MORE_THAN)
    assert trade.value_label_in(language) == in_language(
        language, "figure value", "more than %(amount)s", amount=amount
    )
    assert trade.period_label_in(language) == "2024"
    assert FigureFactory(qualifier="").value_label_in(language) == amount

    nine_months = FigureFactory(
        period_start=D(2025, 1, 1), period_end=D(2025, 9, 30), period_precision="month"
    )
    assert nine_months.period_label_in(language) == months

    stock = MetricFactory(nature=Metric.Nature.LEVEL, unit=Metric.Unit.COUNT)
    students = FigureFactory(
        metric=stock,
        value=Decimal("74500"),
        currency="",
        qualifier=Figure.Qualifier.ABOUT,
        period_start=None,
        period_end=D(2025, 1, 1),
        period_precision="day",
    )
    assert students.period_label_in(language) == in_language(
        language, "figure period", "as of %(date)s", date=as_of_day
    )
    assert students.value_label_in(language) == in_language(
        language, "figure value", "about %(amount)s", amount=l10n.number(74500, language)
    )

    unstated = FigureFactory(period_start=None, period_end=None, period_precision="")
    assert unstated.period_label_in(language) == in_language(
        language, "figure period", "period not stated"
    )


@pytest.mark.django_db
def test_the_labels_follow_the_active_language():
    figure = FigureFactory(qualifier=Figure.Qualifier.UP_TO, kind=Figure.Kind.TARGET)
    with translation.override("ru"):
        assert figure.value_label == figure.value_label_in("ru")
        assert figure.period_label == "2024"
    with translation.override("en"):
        assert figure.value_label == in_language(
            "en", "figure value", "up to %(amount)s", amount="US$27B"
        )
