"""The JSON API of figures: every published figure with its period, attribution and source.

Filters: ?metric=<slug> (repeatable), ?kind=actual|target|forecast, ?stated_by=<actor slug>,
?source_kind=official|media|other, ?event=<slug> (where stated), ?country=<code> (the metric's),
?from= / ?to= (ISO dates: figures whose period ends within). Languages as for events (?lang=).
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db.models import F
from django.http import FileResponse, Http404, HttpRequest, JsonResponse, QueryDict
from django.views.decorators.http import require_safe

from .api import (
    Words,
    answer_in_language,
    json_response,
    paged_answer,
    source_json,
    url_renderer,
)
from .models import Figure, FigureQuerySet, Metric, SourceKind
from .models.record import has_country
from .reader_language import same_in_every_language

SCHEMAS = Path(__file__).resolve().parent / "schemas"
PUBLISHED_SCHEMAS = {"events": "events-api.json", "figures": "figures-api.json"}


class BadFilter(ValueError):
    """A filter value the API cannot read; its message says what to send instead."""


def _choice(params: QueryDict, name: str, allowed: list[str]) -> list[str]:
    values = [value for value in params.getlist(name) if value]
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise BadFilter(f"Unknown {name} '{unknown[0]}': use one of {', '.join(allowed)}.")
    return values


def _day(params: QueryDict, name: str) -> dt.date | None:
    value = params.get(name, "")
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"?{name}= takes a date such as 2025-01-31, not '{value}'.") from None


def filtered_figures(params: QueryDict) -> FigureQuerySet:
    """Return published figures matching every filter given, in metric and period order."""
    figures = Figure.objects.published()
    if metrics := [value for value in params.getlist("metric") if value]:
        figures = figures.filter(metric__slug__in=metrics)
    if kinds := _choice(params, "kind", list(Figure.Kind.values)):
        figures = figures.filter(kind__in=kinds)
    if source_kinds := _choice(params, "source_kind", list(SourceKind.values)):
        figures = figures.filter(source__kind__in=source_kinds)
    if actors := [value for value in params.getlist("stated_by") if value]:
        figures = figures.filter(stated_by__slug__in=actors)
    if events := [value for value in params.getlist("event") if value]:
        figures = figures.filter(stated_at__slug__in=events, stated_at__published=True)
    for code in params.getlist("country"):
        if code:
            figures = figures.filter(has_country(code.upper(), "metric__countries"))
    since, until = _day(params, "from"), _day(params, "to")
    if since is not None:
        figures = figures.filter(period_end__gte=since)
    if until is not None:
        figures = figures.filter(period_end__lte=until)
    return figures.select_related("metric", "stated_by", "source", "stated_at").order_by(
        "metric__slug", F("period_end").asc(nulls_last=True), "kind", "pk"
    )


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def figure_json(figure: Figure, language: str) -> dict[str, Any]:
    """Return a figure as the API shows it in *language* (or every language)."""
    words = Words(language)
    metric: Metric = figure.metric
    stated_at = figure.stated_at if figure.stated_at and figure.stated_at.published else None
    return {
        "id": figure.pk,
        "metric": {
            "slug": metric.slug,
            **words.text(metric, "name"),
            "nature": metric.nature,
            "unit": metric.unit,
            "url": words.made(url_renderer(metric.get_absolute_url)),
        },
        "kind": figure.kind,
        "qualifier": figure.qualifier or None,
        "value": _number(figure.value),
        "value_exact": format(figure.value.normalize(), "f"),
        "currency": figure.currency or None,
        "period": {
            "start": figure.period_start.isoformat() if figure.period_start else None,
            "end": figure.period_end.isoformat() if figure.period_end else None,
            "precision": figure.period_precision or None,
        },
        "stated_by": {"slug": figure.stated_by.slug, **words.text(figure.stated_by, "name")}
        if figure.stated_by
        else None,
        "stated_at": {
            "uid": str(stated_at.uid),
            "slug": stated_at.slug,
            **words.text(stated_at, "title"),
            "url": words.made(url_renderer(stated_at.get_absolute_url)),
        }
        if stated_at
        else None,
        "quote": figure.quote,
        "source": source_json(figure.source),
    }


@require_safe
@answer_in_language
def figure_list(request: HttpRequest, language: str) -> JsonResponse:
    """List published figures, filtered, a page at a time."""
    try:
        figures = filtered_figures(request.GET)
    except BadFilter as error:
        return json_response({"error": str(error)}, status=400)
    return paged_answer(request, figures, language, figure_json)


@same_in_every_language
@require_safe
def schema(request: HttpRequest, name: str) -> FileResponse:
    """Serve the published JSON Schema of one of the API's answers."""
    if name not in PUBLISHED_SCHEMAS:
        raise Http404("No such schema.")
    return FileResponse(
        (SCHEMAS / PUBLISHED_SCHEMAS[name]).open("rb"), content_type="application/schema+json"
    )
