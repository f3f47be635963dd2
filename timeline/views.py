"""Public pages and the health check."""

from itertools import groupby

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from . import health
from .models import Event


def timeline(request: HttpRequest) -> HttpResponse:
    """Show published events grouped by year."""
    events = (
        Event.objects.published()
        .select_related("place", "track")
        .prefetch_related("participants", "topics")
    )
    years = [
        (year, list(items)) for year, items in groupby(events, key=lambda e: e.start_date.year)
    ]
    return render(request, "timeline/timeline.html", {"years": years})


def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Show one published event with its sources."""
    event = get_object_or_404(Event.objects.published().select_related("place", "track"), slug=slug)
    return render(request, "timeline/event_detail.html", {"event": event})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and broker are reachable, 503 otherwise."""
    report = health.report()
    healthy = report["database"] == "ok" and report["broker"] == "ok"
    return JsonResponse(report, status=200 if healthy else 503)
