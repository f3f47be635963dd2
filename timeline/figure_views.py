"""The figures pages: the metrics, each metric's chart and table, and its CSV."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from . import charts, l10n
from .figure_csv import write_csv
from .models import Figure, Metric
from .models.figures import amount_text, disagreeing
from .reader_language import same_in_every_language

# Two drawings of each chart, each shown at about its own size so its text stays readable:
# a narrow one on phones, a wide one from tablets up (site.css switches at 40rem).
WIDE, NARROW = (720, 300), (360, 260)


@dataclass(frozen=True)
class FigureChart:
    """One chart of a metric: all its figures in one currency (or its one unit)."""

    currency: str
    currency_name: str
    wide: charts.Chart | None
    narrow: charts.Chart | None
    kinds: list[tuple[str, str]]
    has_spans: bool
    unplotted: int
    rules: int


def metric_list(request: HttpRequest) -> HttpResponse:
    """List the metrics that have published figures, each with its latest actual value."""
    metrics = (
        Metric.objects.annotate(
            published_figures=Count("figures", filter=Q(figures__published=True))
        )
        .filter(published_figures__gt=0)
        .prefetch_related(
            Prefetch(
                "figures",
                queryset=Figure.objects.latest_actual()
                .select_related("source")
                .order_by("source__published_on", "pk"),
                to_attr="latest",
            )
        )
    )
    return render(request, "timeline/figures.html", {"metrics": metrics})


def published_figures(slug: str) -> tuple[Metric, list[Figure]]:
    """Return a metric and its published figures in period order; 404 when it has none."""
    metric = get_object_or_404(Metric.objects.select_related("topic"), slug=slug)
    figures = list(
        metric.figures.published()
        .select_related("source", "stated_by", "stated_at")
        .in_period_order()
    )
    if not figures:
        raise Http404("This metric has no published figures.")
    return metric, figures


def metric_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Show a metric: its chart over time and every published figure with its source."""
    metric, figures = published_figures(slug)
    context = {
        "metric": metric,
        "figures": figures,
        "differing": disagreeing(figures),
        "charts": figure_charts(metric, figures),
    }
    return render(request, "timeline/metric_detail.html", context)


def figure_charts(metric: Metric, figures: Sequence[Figure]) -> list[FigureChart]:
    """Return a chart per currency (amounts in two currencies share no axis)."""
    language = l10n.language_or_active()
    by_currency = sorted(figures, key=lambda figure: figure.currency)
    result = []
    for currency, group in groupby(by_currency, key=lambda figure: figure.currency):
        items = list(group)
        data = [
            charts.Datum(
                figure,
                figure.kind,
                figure.value,
                figure.period_start if figure.period_end else None,
                figure.period_end,
            )
            for figure in items
        ]

        def amount(value: Decimal, currency: str = currency) -> str:
            # An axis reads compact all the way down: "US$0", "US$500M", "US$1B".
            return amount_text(metric.unit, value, currency, language, compact_from=Decimal(0))

        def year(day: dt.date) -> str:
            return l10n.year(day, language)

        drawn = [
            charts.draw(data, width=width, height=height, amount=amount, year=year)
            for width, height in (WIDE, NARROW)
        ]
        undated = [figure for figure in items if not figure.has_period]
        result.append(
            FigureChart(
                currency=currency,
                currency_name=l10n.currency_name(currency, language) if currency else "",
                wide=drawn[0],
                narrow=drawn[1],
                kinds=[
                    (kind, str(label))
                    for kind, label in Figure.Kind.choices
                    if any(f.kind == kind for f in items)
                ],
                has_spans=any(f.period_start is not None and f.period_end for f in items),
                unplotted=sum(1 for f in undated if f.kind != Figure.Kind.TARGET),
                rules=sum(1 for f in undated if f.kind == Figure.Kind.TARGET),
            )
        )
    return result


@same_in_every_language
def metric_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Send a metric's published figures as CSV, one address for every language."""
    metric, figures = published_figures(slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{metric.slug}.csv"'
    write_csv(response, metric, figures)
    return response
