"""Events sent as files: CSV and iCalendar downloads for the admin and the public timeline."""

from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils import timezone

from .imports import csv_format, ics_export
from .models import Event

CSV_TYPE = "text/csv; charset=utf-8"
ICS_TYPE = "text/calendar; charset=utf-8"


def attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    """Return *body* as a download named *filename*."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def dated_name(stem: str, extension: str) -> str:
    """Return a file name carrying today's date, such as timeline-events-2026-12-01.csv."""
    return f"{stem}-{timezone.localdate().isoformat()}.{extension}"


def csv_download(events: Iterable[Event], stem: str = "timeline-events") -> HttpResponse:
    """Return *events* as a CSV file in the columns the importer reads."""
    return attachment(csv_format.write_csv(list(events)), CSV_TYPE, dated_name(stem, "csv"))


def ics_download(
    events: Iterable[Event], language: str, stem: str = "timeline-events"
) -> HttpResponse:
    """Return *events* as an iCalendar file in *language*."""
    body = ics_export.events_ics(list(events), language)
    return attachment(body, ICS_TYPE, dated_name(stem, "ics"))


def without_hidden_wholes(events: Iterable[Event]) -> Sequence[Event]:
    """Return *events* with `part_of` cleared (in memory only) where the whole is a draft."""
    shown = list(events)
    for event in shown:
        # A reader's file names no draft: a part of an unpublished whole is shown on its own.
        if event.part_of_id is not None and event.published_whole is None:
            event.part_of = None
    return shown
