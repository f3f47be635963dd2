"""A read-only JSON API for integrators: published events, filtered and paged."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.paginator import EmptyPage, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, JsonResponse, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_safe

from . import timing
from .models import Event
from .queries import filtered_events

PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
HTML_SPECIALS = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


class MarkupSafeEncoder(DjangoJSONEncoder):
    """Write <, > and & as \\u escapes: the same JSON, but no tag in the bytes, ever.

    A title such as "<script>" then cannot run if a client drops the JSON into a page, or a
    browser is tricked into sniffing the response as HTML.
    """

    def encode(self, o: Any) -> str:
        return super().encode(o).translate(HTML_SPECIALS)


def json_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    """Return *data* as JSON, readable UTF-8, with markup characters escaped."""
    return JsonResponse(
        data, status=status, encoder=MarkupSafeEncoder, json_dumps_params={"ensure_ascii": False}
    )


def _local_iso(event: Event, moment: dt.datetime | None, day: dt.date | None) -> str | None:
    if event.precision == timing.MINUTE:
        return moment.astimezone(timing.zone(event.zone)).isoformat() if moment else None
    return day.isoformat() if day else None


def event_json(event: Event) -> dict[str, Any]:
    """Return an event as the API shows it: local times with offsets, UTC, precision spelled out."""
    place = event.place
    last_day = event.end_date if event.precision == timing.DAY else None
    return {
        "uid": str(event.uid),
        "slug": event.slug,
        "url": settings.SITE_URL + event.get_absolute_url(),
        "ics": settings.SITE_URL + reverse("timeline:event-ics", args=[event.slug])
        if event.is_calendar_dated
        else None,
        "title": event.title,
        "summary": event.summary,
        "description": event.description,
        "kind": event.kind,
        "status": event.status,
        "precision": event.precision,
        "when": event.when,
        "timezone": event.zone,
        "start": _local_iso(event, event.start_utc, event.start_date),
        "end": _local_iso(event, event.end_utc, last_day),
        "start_utc": event.start_utc.isoformat(),
        "end_utc": event.end_utc.isoformat() if event.end_utc else None,
        "place": {
            "name": place.name,
            "country": place.country.code,
            "timezone": place.timezone,
            "latitude": float(place.latitude) if place.latitude is not None else None,
            "longitude": float(place.longitude) if place.longitude is not None else None,
        }
        if place
        else None,
        "countries": [country.code for country in event.countries],
        "participants": [
            {
                "name": a.name,
                "slug": a.slug,
                "kind": a.kind,
                "role": a.role,
                "country": a.country.code,
            }
            for a in event.participants.all()
        ],
        "topics": [{"name": t.name, "slug": t.slug} for t in event.topics.all()],
        "track": {"name": event.track.name, "slug": event.track.slug} if event.track else None,
        "baseline": {"date": event.baseline_date.isoformat(), "label": event.baseline_label}
        if event.baseline_date
        else None,
        "sources": [
            {
                "url": s.url,
                "title": s.title,
                "publisher": s.publisher,
                "published_on": s.published_on.isoformat(),
                "quote": s.quote,
            }
            for s in event.sources.all()
        ],
        "sequence": event.sequence,
        "created": event.created_at.isoformat(),
        "updated": event.updated_at.isoformat(),
    }


def _page_link(request: HttpRequest, number: int) -> str:
    params = request.GET.copy()
    params["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


@require_safe
def event_list(request: HttpRequest) -> JsonResponse:
    """List published events, filtered like the timeline, a page at a time."""
    try:
        size = min(max(int(request.GET.get("page_size", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
        number = int(request.GET.get("page", 1))
    except ValueError:
        return json_response({"error": "page and page_size must be whole numbers."}, status=400)
    paginator = Paginator(filtered_events(request.GET), size)
    try:
        page = paginator.page(number)
    except EmptyPage:
        return json_response({"error": f"There is no page {number}."}, status=404)
    return json_response(
        {
            "count": paginator.count,
            "next": _page_link(request, number + 1) if page.has_next() else None,
            "previous": _page_link(request, number - 1) if page.has_previous() else None,
            "results": [event_json(event) for event in page.object_list],
        }
    )


@require_safe
def event_item(request: HttpRequest, uid: str) -> JsonResponse:
    """Show one published event by its stable UID."""
    event = filtered_events(QueryDict()).filter(uid=uid).first()
    if event is None:
        raise Http404("No such event.")
    return json_response(event_json(event))
