"""The public timeline's events as files: what its filters select, published only."""

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from . import exports, languages
from .queries import filtered_events


def events_csv(request: HttpRequest) -> HttpResponse:
    """Send the events the timeline's filters select as CSV."""
    events = exports.without_hidden_wholes(filtered_events(request.GET))
    return exports.csv_download(events)


def events_ics(request: HttpRequest) -> HttpResponse:
    """Send the events the timeline's filters select as iCalendar, in the page's language."""
    language = languages.supported(translation.get_language()) or languages.DEFAULT
    events = exports.without_hidden_wholes(filtered_events(request.GET))
    return exports.ics_download(events, language)
