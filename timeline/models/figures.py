"""Figures: the numbers the sources state (trade, investment, students, workforce), each sourced."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from babel.numbers import is_currency
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy
from django_countries.fields import CountryField
from django_stubs_ext import StrOrPromise
from modeltranslation.manager import MultilingualManager

from .. import l10n, timing
from ..text import LongTextField, OneLineField
from .record import Actor, Event, Precision, Publishable, Source, Topic, validate_event_date
from .translations import Translated

# Periods are years, quarters, months or days: figures have no time of day.
PERIOD_PRECISIONS = [(p, label) for p, label in Precision.choices if p != Precision.MINUTE]


class Metric(Translated):
    """What a figure measures, such as bilateral trade turnover: one chart, one CSV."""

    translated_fields = ("name", "description")

    class Nature(models.TextChoices):
        FLOW = "flow", _("Flow over a period (e.g. trade in a year)")
        LEVEL = "level", _("Level as of a date (e.g. total investment, students)")

    class Unit(models.TextChoices):
        MONEY = "money", _("Money (a currency)")
        COUNT = "count", _("Count")
        PERCENT = "percent", _("Percent")

    name = OneLineField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = LongTextField(_("description"), blank=True)
    nature = models.CharField(_("nature"), max_length=10, choices=Nature.choices)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices)
    countries = CountryField(multiple=True, blank=True, verbose_name=_("countries"))
    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="metrics",
        verbose_name=_("topic"),
    )

    objects = MultilingualManager()

    class Meta:
        verbose_name = _("metric")
        verbose_name_plural = _("metrics")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("timeline:metric", kwargs={"slug": self.slug})


class FigureQuerySet(models.QuerySet["Figure"]):
    def published(self) -> "FigureQuerySet":
        """Return the figures readers may see."""
        return self.filter(published=True)

    def in_period_order(self) -> "FigureQuerySet":
        """Order by the end of the period covered (undated last), then by the source's date."""
        return self.order_by(
            models.F("period_end").asc(nulls_last=True), "kind", "source__published_on", "pk"
        )

    def latest_actual(self) -> "FigureQuerySet":
        """Return each metric's published actual figures for the latest period any states."""
        actual = self.published().filter(kind=Figure.Kind.ACTUAL, period_end__isnull=False)
        latest = actual.filter(metric=OuterRef("metric")).order_by("-period_end")
        # Every figure of that period: sources that disagree are all shown, none chosen.
        return actual.filter(period_end=Subquery(latest.values("period_end")[:1]))


class Figure(Publishable):
    """One stated number: a metric's value for a period, of a kind, stated by someone, sourced."""

    class Kind(models.TextChoices):
        ACTUAL = "actual", _("Actual")
        TARGET = "target", _("Target")
        FORECAST = "forecast", _("Forecast or plan")

    class Qualifier(models.TextChoices):
        EXACT = "", pgettext_lazy("figure qualifier", "As stated")
        MORE_THAN = "more_than", pgettext_lazy("figure qualifier", "More than")
        AT_LEAST = "at_least", pgettext_lazy("figure qualifier", "At least")
        ABOUT = "about", pgettext_lazy("figure qualifier", "About")
        LESS_THAN = "less_than", pgettext_lazy("figure qualifier", "Less than")
        UP_TO = "up_to", pgettext_lazy("figure qualifier", "Up to")

    metric = models.ForeignKey(
        Metric, on_delete=models.PROTECT, related_name="figures", verbose_name=_("metric")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.ACTUAL)
    qualifier = models.CharField(
        _("qualifier"),
        max_length=10,
        choices=Qualifier.choices,
        blank=True,
        default=Qualifier.EXACT,
        help_text=_("Keep the source's words: “exceeded” and “more than” are “More than”."),
    )
    value = models.DecimalField(_("value"), max_digits=24, decimal_places=4)
    currency = models.CharField(
        _("currency"),
        max_length=3,
        blank=True,
        help_text=_("ISO 4217 code, e.g. USD or KZT; money only."),
    )
    period_start = models.DateField(
        _("period start"),
        null=True,
        blank=True,
        validators=[validate_event_date],
        help_text=_("Flows: the first day of the period covered (any day in it at its precision)."),
    )
    period_end = models.DateField(
        _("period end, or “as of”"),
        null=True,
        blank=True,
        validators=[validate_event_date],
        help_text=_(
            "Flows: the last day covered; levels: the date the figure stands at. Leave both "
            "dates blank when the source states no period."
        ),
    )
    period_precision = models.CharField(
        _("period precision"),
        max_length=10,
        choices=PERIOD_PRECISIONS,
        blank=True,
        default="",
    )
    stated_by = models.ForeignKey(
        Actor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="figures",
        verbose_name=_("stated by"),
    )
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="figures", verbose_name=_("source")
    )
    stated_at = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="figures",
        verbose_name=_("stated at (event)"),
    )
    quote = LongTextField(
        _("quotation"), blank=True, help_text=_("The source's own words, in its language.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = FigureQuerySet.as_manager()

    class Meta:
        verbose_name = _("figure")
        verbose_name_plural = _("figures")
        ordering = ["metric", "period_end", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_start__isnull=True)
                | models.Q(period_end__isnull=True)
                | models.Q(period_start__lte=models.F("period_end")),
                name="figure_period_in_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.value} ({self.get_kind_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save with the period's dates widened to its precision."""
        self._normalise()
        super().save(*args, **kwargs)

    def _normalise(self) -> None:
        self.currency = (self.currency or "").strip().upper()
        precision = self.period_precision
        if self.period_end is not None and not precision:
            self.period_precision = precision = Precision.DAY
        if precision:
            if self.period_start is not None:
                self.period_start = timing.period_start(self.period_start, precision)
            if self.period_end is not None:
                self.period_end = timing.period_end(self.period_end, precision) - dt.timedelta(
                    days=1
                )

    def clean(self) -> None:
        """Check the figure as an analyst would, with messages that say what to fix."""
        super().clean()
        errors: dict[str, list[StrOrPromise]] = {}

        def add(field: str, message: StrOrPromise) -> None:
            errors.setdefault(field, []).append(message)

        metric = self.metric if self.metric_id else None
        dates = [day for day in (self.period_start, self.period_end) if day]
        if not all(timing.in_range(day) for day in dates):
            return  # the fields' own validators say so
        self._normalise()
        if metric is not None:
            self._check_unit(metric, add)
            self._check_period(metric, add)
        if self.kind == self.Kind.ACTUAL and self.period_end is not None:
            stated = self._stated_on()
            first_day = self.period_start or timing.period_start(
                self.period_end, self.period_precision or Precision.DAY
            )
            if stated is not None and first_day > stated:
                add(
                    "kind",
                    _(
                        "An actual figure cannot cover a period that had not begun when it "
                        "was stated (%(stated)s): make it a target or a forecast, or correct "
                        "the period."
                    )
                    % {"stated": stated.isoformat()},
                )
        if errors:
            raise ValidationError(errors)

    @property
    def has_period(self) -> bool:
        """Tell whether the source states the period (or date) the figure stands for."""
        return self.period_end is not None

    def _stated_on(self) -> dt.date | None:
        if self.source_id and self.source is not None:
            return timing.period_end(
                self.source.published_on, self.source.published_precision or Precision.DAY
            ) - dt.timedelta(days=1)
        return timing.latest_today()

    def _check_unit(self, metric: Metric, add: Any) -> None:
        value = self.value
        if metric.unit == Metric.Unit.MONEY:
            if not self.currency:
                add("currency", _("Give the currency of this amount, e.g. USD."))
            elif not is_currency(self.currency):
                add(
                    "currency",
                    _("“%(code)s” is not an ISO 4217 currency code; use one such as USD or KZT.")
                    % {"code": self.currency},
                )
        elif self.currency:
            add("currency", _("Only amounts of money have a currency; leave it blank."))
        if value is None:
            return
        if metric.unit == Metric.Unit.COUNT:
            if value < 0:
                add("value", _("A count cannot be negative."))
            elif value != value.to_integral_value():
                add("value", _("A count is a whole number."))
        if metric.unit == Metric.Unit.MONEY and metric.nature == Metric.Nature.LEVEL and value < 0:
            add("value", _("A total cannot be negative."))
        if metric.unit == Metric.Unit.PERCENT and not Decimal(-1000) <= value <= Decimal(1000):
            add("value", _("Give a percentage between −1000 and 1000."))

    def _check_period(self, metric: Metric, add: Any) -> None:
        if self.period_start is not None and self.period_end is None:
            add("period_end", _("Give the last day of the period too."))
            return
        if self.period_end is None:
            if self.period_precision:
                add("period_end", _("Give the period's date for this precision."))
            return
        if metric.nature == Metric.Nature.FLOW and self.period_start is None:
            add(
                "period_start",
                _("A flow covers a period: give its first day as well as its last."),
            )
        if metric.nature == Metric.Nature.LEVEL and self.period_start is not None:
            add(
                "period_start",
                _("A level stands at one date (“as of”): leave the period start blank."),
            )
        if self.period_start is not None and self.period_start > self.period_end:
            add("period_end", _("The period ends before it starts."))

    # --- how readers see it -----------------------------------------------------------------
    @property
    def value_label(self) -> str:
        """Return the value as the source qualifies it, in the active language."""
        return self.value_label_in()

    def value_label_in(self, language: str | None = None) -> str:
        """Return the value as the source qualifies it, e.g. 'more than US$27B', '27 млрд $'."""
        language = l10n.language_or_active(language)
        amount = amount_text(self.metric.unit, self.value, self.currency, language)
        if not self.qualifier:
            return amount
        with translation.override(language):
            return qualified(self.qualifier) % {"amount": amount}

    @property
    def period_label(self) -> str:
        """Return the period the figure stands for, in the active language."""
        return self.period_label_in()

    def period_label_in(self, language: str | None = None) -> str:
        """Return the period, e.g. '2024', 'Jan – Sept 2025', 'as of 1 Jan 2025', or say that
        the source states none."""
        language = l10n.language_or_active(language)
        precision = self.period_precision or Precision.DAY
        with translation.override(language):
            if self.period_end is None:
                return pgettext("figure period", "period not stated")
            if self.period_start is not None:
                return timing.describe_period(
                    precision, self.period_start, self.period_end, language=language
                )
            day = timing.describe(
                precision, self.period_end, still_to_come=False, language=language
            )
            if self.metric.nature == Metric.Nature.LEVEL:
                # Translators: date is a day, month, quarter or year already in your language.
                return pgettext("figure period", "as of %(date)s") % {"date": day}
            return day


def qualified(qualifier: str) -> str:
    """Return the pattern that puts a qualifier before or after an amount ('%(amount)s')."""
    patterns: dict[str, str] = {
        # Translators: amount is a number already written in your language, e.g. "27 млрд $".
        Figure.Qualifier.MORE_THAN: pgettext("figure value", "more than %(amount)s"),
        Figure.Qualifier.AT_LEAST: pgettext("figure value", "at least %(amount)s"),
        Figure.Qualifier.ABOUT: pgettext("figure value", "about %(amount)s"),
        Figure.Qualifier.LESS_THAN: pgettext("figure value", "less than %(amount)s"),
        Figure.Qualifier.UP_TO: pgettext("figure value", "up to %(amount)s"),
    }
    return patterns.get(qualifier, "%(amount)s")


def amount_text(
    unit: str,
    value: Decimal,
    currency: str = "",
    language: str | None = None,
    *,
    compact_from: Decimal = l10n.COMPACT_FROM,
) -> str:
    """Return an amount in a metric's unit: money with its currency, a count, or a percentage."""
    if unit == Metric.Unit.MONEY and currency:
        return l10n.money(value, currency, language, compact_from=compact_from)
    if unit == Metric.Unit.PERCENT:
        return l10n.percent(value, language)
    return l10n.number(value, language)


def disagreeing(figures: Iterable[Figure]) -> set[int]:
    """Return the ids of figures another source states differently for the same period."""
    stated: dict[tuple[Any, ...], set[tuple[str, Decimal]]] = defaultdict(set)
    keys: dict[int, tuple[Any, ...]] = {}
    for figure in figures:
        if figure.period_end is None:
            continue  # undated figures cannot be said to cover the same period
        key = (
            figure.metric_id,
            figure.kind,
            figure.currency,
            figure.period_start,
            figure.period_end,
        )
        stated[key].add((figure.qualifier, figure.value))
        keys[figure.pk] = key
    return {pk for pk, key in keys.items() if len(stated[key]) > 1}
