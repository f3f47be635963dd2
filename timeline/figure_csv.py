"""A metric's published figures as CSV: stable columns, codes rather than words, UTF-8."""

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final, Protocol

from django.conf import settings
from django.utils import translation

from . import languages
from .models import Figure, Metric
from .models.translations import shown

# The columns, in this order, for good: new ones go at the end. Dates are ISO 8601; kinds,
# qualifiers and precisions are the stored codes (see the admin's choices); the event's page
# and names are given in English, the language every reader of the file can be sent to.
COLUMNS: Final = (
    "metric",
    "kind",
    "qualifier",
    "value",
    "unit",
    "currency",
    "period_start",
    "period_end",
    "period_precision",
    "stated_by",
    "stated_at",
    "source_publisher",
    "source_title",
    "source_url",
    "source_url_is_item",
    "source_archived_url",
    "source_published_on",
    "source_published_precision",
    "source_kind",
    "source_language",
    "quote",
)


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def write_csv(out: Writable, metric: Metric, figures: Iterable[Figure]) -> None:
    """Write a header and one row per figure to *out*."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    with translation.override(languages.ENGLISH):
        for figure in figures:
            writer.writerow(row(metric, figure))


def row(metric: Metric, figure: Figure) -> list[str]:
    """Return a figure's cells, in the order of COLUMNS."""
    source = figure.source
    event = figure.stated_at
    return [
        metric.slug,
        figure.kind,
        figure.qualifier,
        plain_number(figure.value),
        metric.unit,
        figure.currency,
        figure.period_start.isoformat() if figure.period_start else "",
        figure.period_end.isoformat() if figure.period_end else "",
        figure.period_precision,
        shown(figure.stated_by, "name", languages.ENGLISH).text if figure.stated_by else "",
        settings.SITE_URL + event.get_absolute_url() if event and event.published else "",
        source.publisher,
        source.title,
        source.url,
        "true" if source.url_is_item else "false",
        source.archived_url,
        source.published_on.isoformat(),
        source.published_precision,
        source.kind,
        source.language,
        figure.quote,
    ]


def plain_number(value: Decimal) -> str:
    """Return a value without exponent or trailing zeros: 27000000000, 12.5, -3."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
