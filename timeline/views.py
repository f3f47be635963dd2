"""Public pages and the health check."""

from itertools import groupby

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, Q
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_countries import countries

from . import health, l10n, parts, timing
from .feeds import calendar_links
from .models import Actor, Event, Figure, Topic, Track, sources_official_first
from .queries import FILTERS, filtered_events
from .reader_language import same_in_every_language


def timeline(request: HttpRequest) -> HttpResponse:
    """Show published events grouped by year and month, filtered from the URL, a page at a time."""
    newest_first = request.GET.get("order", "newest") != "oldest"
    separate = request.GET.get(PARTS_PARAMETER) == PARTS_SEPARATE
    # The whole is read with each event: a part shown on its own says what it is part of.
    events = filtered_events(request.GET).select_related("part_of")
    if newest_first:
        events = events.order_by("-start_utc", "uid")
    paginator = Paginator(events, 50)
    page = paginator.get_page(request.GET.get("page"))
    folded = parts.fold(list(page.object_list), separate=separate)
    groups = [
        (year, [(month, list(items)) for month, items in groupby(by_year, key=_card_month)])
        for year, by_year in groupby(folded.cards, key=lambda card: card.event.start_date.year)
    ]
    params = request.GET.copy()
    params.pop("page", None)
    chosen = {name: request.GET.get(name, "") for name in FILTERS}
    # The downloads carry only what selects events, not the page, order or layout.
    selection = QueryDict(mutable=True)
    for name in FILTERS:
        selection.setlist(name, [value for value in request.GET.getlist(name) if value])
    tracks = Track.objects.in_use().prefetch_related(
        Prefetch(
            "events",
            queryset=Event.objects.published().order_by("start_utc"),
            to_attr="milestones",
        )
    )
    if chosen["track"]:
        tracks = tracks.filter(slug=chosen["track"])
    context = {
        "groups": groups,
        "page": page,
        "query": params.urlencode(),
        "selection": selection.urlencode(),
        "order": "newest" if newest_first else "oldest",
        "chosen": chosen,
        "filtered": any(chosen.values()),
        "show_tracks": not any(value for name, value in chosen.items() if name != "track"),
        "filters": [
            {
                "name": name,
                "label": label,
                "everything": everything,
                "options": options,
                "chosen": chosen[name],
            }
            for name, label, everything, options in (
                (
                    "topic",
                    _("Topic"),
                    _("All topics"),
                    Topic.objects.in_use().values_list("slug", "name"),
                ),
                ("country", _("Country"), _("All countries"), _country_options()),
                (
                    "actor",
                    _("Person or organisation"),
                    _("Anyone"),
                    Actor.objects.in_use().values_list("slug", "name"),
                ),
                (
                    "track",
                    _("Track"),
                    _("All tracks"),
                    Track.objects.in_use().values_list("slug", "name"),
                ),
                ("kind", _("Kind"), _("All kinds"), Event.Kind.choices),
            )
        ],
        "tracks": tracks,
        "parts_separate": separate,
        "parts_toggle": _parts_toggle(request, separate) if folded.foldable else "",
    }
    return render(request, "timeline/timeline.html", context)


# ?parts=separate: the parts of a visit as cards of their own rather than inside the visit's.
PARTS_PARAMETER, PARTS_SEPARATE = "parts", "separate"


def _parts_toggle(request: HttpRequest, separate: bool) -> str:
    """Return the query string of this page with parts shown the other way."""
    params = request.GET.copy()
    if separate:
        params.pop(PARTS_PARAMETER, None)
    else:
        params[PARTS_PARAMETER] = PARTS_SEPARATE
    return params.urlencode()


def _card_month(card: parts.Card) -> str:
    return _month(card.event)


def _country_options() -> list[tuple[str, str]]:
    """Return (code, name) of the countries published events carry, by name."""
    codes = Event.objects.published().country_codes()
    return sorted(((code, str(countries.name(code))) for code in codes), key=lambda c: c[1])


def _month(event: Event) -> str:
    if event.precision in timing.COARSER_THAN_DAY:
        return (
            _("Date to be announced")
            if event.status in Event.UPCOMING_STATUSES
            else _("Month unknown")
        )
    return l10n.month_name(event.start_date)


def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Show one published event with its sources."""
    event = get_object_or_404(
        Event.objects.published()
        .select_related("place", "track", "part_of")
        .prefetch_related(sources_official_first()),
        slug=slug,
    )
    page_url = settings.SITE_URL + event.get_absolute_url()
    related = (
        Event.objects.published()
        .exclude(pk=event.pk)
        .filter(Q(topics__in=event.topics.all()) | Q(track_id=event.track_id, track__isnull=False))
        .distinct()
        .order_by("-start_utc")[:5]
    )
    context = {
        "event": event,
        "page_url": page_url,
        "related": related,
        "figures": Figure.objects.published()
        .filter(stated_at=event)
        .select_related("metric", "source", "stated_by")
        .order_by("metric__slug", F("period_end").asc(nulls_last=True), "pk"),
        "google_link": calendar_links.google(event, page_url) if event.is_calendar_dated else "",
        "outlook_link": calendar_links.outlook(event, page_url) if event.is_calendar_dated else "",
        "whole": event.published_whole,
        "parts": parts.published_parts(event),
        "agreements": parts.agreements_signed_at(event),
    }
    return render(request, "timeline/event_detail.html", context)


@same_in_every_language
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when every check of the scope asked (?scope=web, default all) passes, else 503."""
    scope = request.GET.get("scope", "all")
    if scope not in health.SCOPES:
        return JsonResponse(
            {"error": f"scope must be one of {', '.join(health.SCOPES)}"}, status=400
        )
    report = health.report(scope)
    return JsonResponse(report, status=503 if report["failed"] else 200)
