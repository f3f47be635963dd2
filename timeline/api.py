"""A read-only JSON API for integrators: published events, filtered and paged, in a language.

?lang=kk|ru|en (else Accept-Language, else English) picks the language; ?lang=all gives every
translation of each text. Answers say which they used ("language", Content-Language).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import EmptyPage, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse, QueryDict
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_safe

from . import languages, timing
from .languages import CODES
from .models import Event, Source
from .models.translations import Translated, shown
from .queries import filtered_events
from .reader_language import EVERY, UnknownLanguage, asked_language, say_language

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


@dataclass(frozen=True)
class Words:
    """How an answer gives what is written in words: in one language, or in every one (EVERY).

    In one language, each editor's text comes with the language it is really in, which is
    another one where the text falls back ("title": "…", "title_language": "ru"). In every
    language, each such text is an object by language ({"kk": …, "ru": …, "en": null}).
    """

    language: str

    @property
    def every(self) -> bool:
        return self.language == EVERY

    def text(self, record: Translated, field: str) -> dict[str, Any]:
        """Return an editor's text: in the language asked (or its fallback), or in each."""
        if self.every:
            return {field: {code: record.text_in(field, code) or None for code in CODES}}
        text = shown(record, field, self.language)
        return {field: text.text, f"{field}_language": text.language}

    def made(self, render: Callable[[str], str]) -> str | dict[str, str]:
        """Return what we write ourselves (dates, addresses) in the language asked, or each."""
        if self.every:
            return {code: render(code) for code in CODES}
        return render(self.language)


def url_renderer(path: Callable[[], str]) -> Callable[[str], str]:
    """Return a renderer of the page at *path()* (reversed) in a given language."""

    def render(language: str) -> str:
        with translation.override(language):
            return settings.SITE_URL + path()

    return render


def source_json(source: Source) -> dict[str, Any]:
    """Return a source as the API shows it, in its own language (sources are not translated)."""
    return {
        "kind": source.kind,
        "url": source.url,
        "url_is_item": source.url_is_item,
        "archived_url": source.archived_url or None,
        "title": source.title,
        "publisher": source.publisher,
        "published_on": source.published_on.isoformat(),
        "published_precision": source.published_precision,
        "quote": source.quote,
        "language": source.language,
    }


def event_json(event: Event, language: str = languages.DEFAULT) -> dict[str, Any]:
    """Return an event as the API shows it in *language* (or EVERY): local times with offsets,
    UTC, precision spelled out, each text with the language it is in."""
    words = Words(language)
    place = event.place
    last_day = event.end_date if event.precision == timing.DAY else None
    data = {
        "language": language,
        "uid": str(event.uid),
        "slug": event.slug,
        "url": words.made(url_renderer(event.get_absolute_url)),
        "ics": words.made(url_renderer(lambda: reverse("timeline:event-ics", args=[event.slug])))
        if event.is_calendar_dated
        else None,
        **words.text(event, "title"),
        **words.text(event, "summary"),
        **words.text(event, "description"),
        "kind": event.kind,
        "status": event.status,
        "precision": event.precision,
        "when": words.made(event.when_in),
        "timezone": event.zone,
        "start": _local_iso(event, event.start_utc, event.start_date),
        "end": _local_iso(event, event.end_utc, last_day),
        "start_utc": event.start_utc.isoformat(),
        "end_utc": event.end_utc.isoformat() if event.end_utc else None,
        "place": {
            **words.text(place, "name"),
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
                **words.text(a, "name"),
                "slug": a.slug,
                "kind": a.kind,
                **words.text(a, "role"),
                "country": a.country.code,
            }
            for a in event.participants.all()
        ],
        "topics": [{**words.text(t, "name"), "slug": t.slug} for t in event.topics.all()],
        "track": {**words.text(event.track, "name"), "slug": event.track.slug}
        if event.track
        else None,
        "baseline": {
            "date": event.baseline_date.isoformat(),
            "label": words.made(event.baseline_label_in),
        }
        if event.baseline_date
        else None,
        "part_of": str(event.part_of.uid)
        if event.part_of is not None and event.part_of.published
        else None,
        "sources": [source_json(source) for source in event.sources.all()],
        "sequence": event.sequence,
        "created": event.created_at.isoformat(),
        "updated": event.updated_at.isoformat(),
    }
    if words.every:
        data["translations"] = {code: event.translation_state(code) for code in CODES}
    return data


def page_link(request: HttpRequest, number: int) -> str:
    params = request.GET.copy()
    params["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def answer_in_language(
    view: Callable[..., JsonResponse],
) -> Callable[..., HttpResponseBase]:
    """Answer in the language asked for (see `asked_language`), said in the answer and its
    headers; an unknown ?lang= is refused with 400."""

    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            language = asked_language(request, every=True)
        except UnknownLanguage as error:
            refusal = json_response(
                {"error": str(error), "languages": list(error.offered)}, status=400
            )
            return say_language(refusal, languages.DEFAULT)
        return say_language(view(request, *args, language=language, **kwargs), language)

    return answer


def paged_answer(
    request: HttpRequest,
    records: QuerySet[Any],
    language: str,
    to_json: Callable[[Any, str], dict[str, Any]],
) -> JsonResponse:
    """Answer with one page of *records* (?page, ?page_size), each shown by *to_json*."""
    try:
        size = min(max(int(request.GET.get("page_size", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
        number = int(request.GET.get("page", 1))
    except ValueError:
        return json_response({"error": "page and page_size must be whole numbers."}, status=400)
    paginator = Paginator(records, size)
    try:
        page = paginator.page(number)
    except EmptyPage:
        return json_response({"error": f"There is no page {number}."}, status=404)
    return json_response(
        {
            "language": language,
            "count": paginator.count,
            "next": page_link(request, number + 1) if page.has_next() else None,
            "previous": page_link(request, number - 1) if page.has_previous() else None,
            "results": [to_json(record, language) for record in page.object_list],
        }
    )


@require_safe
@answer_in_language
def event_list(request: HttpRequest, language: str) -> JsonResponse:
    """List published events, filtered like the timeline, a page at a time."""
    return paged_answer(request, filtered_events(request.GET), language, event_json)


@require_safe
@answer_in_language
def event_item(request: HttpRequest, uid: str, language: str) -> JsonResponse:
    """Show one published event by its stable UID."""
    event = filtered_events(QueryDict()).filter(uid=uid).first()
    if event is None:
        raise Http404("No such event.")
    return json_response(event_json(event, language))
