"""Serve calendar feeds: stored bytes with ETag, Last-Modified, 304, HEAD and gzip."""

import datetime as dt
import functools
import gzip
from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from .. import languages
from ..models import Event, PrivateFeed, feed_key, hash_token, sources_official_first
from ..reader_language import same_in_every_language
from . import calendar_links, served
from . import publishing as feeds
from . import store as feed_store

# Where _serve_feed leaves, in the WSGI environ, the published version it answered with.
SERVED_KEY = "timeline.served_feed"


def _accepts_gzip(request: HttpRequest) -> bool:
    return accepts_gzip_header(request.META.get("HTTP_ACCEPT_ENCODING", ""))


def accepts_gzip_header(accept_encoding: str) -> bool:
    """Tell whether an Accept-Encoding header value accepts gzip."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def calendar_response(
    request: HttpRequest,
    *,
    etag: str,
    last_modified: dt.datetime,
    filename: str,
    load: Callable[[bool], bytes],
    cache_control: str | None = None,
) -> HttpResponse:
    """Answer with a calendar, or 304 if the client's copy is current.

    *load(gzip: bool) -> bytes* fetches the body only when it is needed; *cache_control*
    defaults to public caching for the refresh interval.
    """
    gzipped = _accepts_gzip(request)
    tag = etag[:-1] + '-gzip"' if gzipped else etag
    response = HttpResponse(content_type="text/calendar; charset=utf-8")
    response["ETag"] = tag
    response["Last-Modified"] = http_date(last_modified.timestamp())
    response["Cache-Control"] = (
        cache_control or f"public, max-age={settings.FEED_REFRESH_MINUTES * 60}"
    )
    response["Vary"] = "Accept-Encoding"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # Given a response, it returns one: that response or a 304/412.
    conditional = cast(
        HttpResponse,
        get_conditional_response(
            request, etag=tag, last_modified=int(last_modified.timestamp()), response=response
        ),
    )
    if conditional is not response:
        for header in ("Cache-Control", "Vary", "Content-Disposition"):
            conditional[header] = response[header]
        return conditional
    content = load(gzipped)
    if gzipped:
        response["Content-Encoding"] = "gzip"
    response["Content-Length"] = str(len(content))
    if request.method != "HEAD":
        response.content = content
    return response


# A private feed is one reader's: no shared cache may keep it, and the reader's own cache asks
# again on every use (a cheap 304 while unchanged), so a revoked or rotated token stops working
# at the next poll instead of up to a refresh interval later.
PRIVATE_CACHE_CONTROL = "private, no-cache"


def not_found() -> HttpResponse:
    """Answer a calendar client that asked for no feed: plainly, and the same for every miss
    (a wrong secret link must not tell what exists)."""
    return HttpResponseNotFound(b"Not found.\n", content_type="text/plain; charset=utf-8")


def _serve_feed(
    request: HttpRequest, key: str, filename: str, cache_control: str | None = None
) -> HttpResponse:
    # Validators from this process's memory; afresh if their bytes are gone (a newer publish
    # replaced them in between); published anew if even those are missing (stored where
    # FEED_STORAGE pointed before).
    for attempt in ("remembered", "fresh", "republished"):
        try:
            feed = served.validators(key, fresh=attempt != "remembered")
        except feeds.FeedNotFound:
            return not_found()
        request.META[SERVED_KEY] = feed  # META is the WSGI environ
        try:
            return calendar_response(
                request,
                etag=feed.etag,
                last_modified=feed.last_modified,
                filename=filename,
                load=functools.partial(served.read, feed),
                cache_control=cache_control,
            )
        except FileNotFoundError:
            if attempt == "republished":
                raise
            if attempt == "fresh":
                served.republish(key)
    raise AssertionError("unreachable")  # pragma: no cover


@same_in_every_language
@require_safe
def public_feed(
    request: HttpRequest, kind: str, value: str = "", language: str = feeds.BARE_LANGUAGE
) -> HttpResponse:
    """Serve every event's feed (kind "all"), or one topic's, country's, track's or actor's.

    In the language of the address (/feeds/ru/all.ics), English without one (/feeds/all.ics).
    """
    if kind == "all":
        return _serve_feed(request, feed_key(language, "all"), "all.ics")
    if kind == "country":
        value = value.upper()
    return _serve_feed(request, feed_key(language, f"{kind}:{value}"), f"{value}.ics")


@same_in_every_language
@require_safe
def private_feed(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a private feed, in the language it was given (a subscriber's: theirs)."""
    served = PrivateFeed.objects.serving().select_related("subscriber")
    private = served.filter(token_hash=hash_token(token)).first()
    if private is None:
        return not_found()
    return _serve_feed(request, private.key, "timeline.ics", PRIVATE_CACHE_CONTROL)


@same_in_every_language
@require_safe
def event_ics(request: HttpRequest, slug: str) -> HttpResponse:
    """Serve one published event as a calendar file ("Add to calendar").

    In the language of the page's prefix (/ru/events/<slug>.ics); English without one.
    """
    language = path_language(request)
    event = get_object_or_404(
        Event.objects.in_calendars()
        .select_related("place", "part_of")
        .prefetch_related("topics", sources_official_first()),
        slug=slug,
    )
    body = feeds.render_single(event, language)
    return calendar_response(
        request,
        etag=feed_store.etag_of(body),
        last_modified=event.updated_at,
        filename=f"{event.slug}.ics",
        load=lambda gzipped: gzip.compress(body, mtime=0) if gzipped else body,
    )


def path_language(request: HttpRequest) -> str:
    """Return the language of the request's path prefix, or the bare addresses' (English)."""
    prefix = translation.get_language_from_path(request.path_info)
    return languages.supported(prefix) or feeds.BARE_LANGUAGE


def _add_links(feed_spec: feeds.FeedSpec) -> dict[str, str]:
    return {
        "language": feed_spec.language,
        "language_name": languages.NAMES[feed_spec.language],
        **calendar_links.feed_links(settings.SITE_URL + feed_spec.path, feed_spec.title),
    }


def feed_directory(request: HttpRequest) -> HttpResponse:
    """List every public feed in each language (the page's first), with webcal://, Google
    Calendar and Outlook links."""
    page_language = path_language(request)
    order = (page_language, *(code for code in languages.CODES if code != page_language))
    by_language = {
        language: {spec.subject: spec for spec in feeds.public_specs(language)}
        for language in order
    }
    entries = []
    for subject, feed_spec in by_language[page_language].items():
        versions = [
            _add_links(by_language[language][subject])
            for language in order
            if subject in by_language[language]  # not if it came into use between the queries
        ]
        entries.append({"spec": feed_spec, "versions": versions, **versions[0]})
    return render(
        request,
        "timeline/feeds.html",
        {"entries": entries, "index_url": reverse("timeline:index")},
    )
