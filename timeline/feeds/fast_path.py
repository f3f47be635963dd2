"""Answer calendar feed requests before the middleware that only pages need.

A feed poll needs no session, reader language, CSRF token, user, message or lockout check;
calendar apps send tens of thousands of them. This middleware, placed after the security and
header middleware and before the rest, hands a feed request straight to its view.
"""

import functools
from collections.abc import Callable

from csp.constants import HEADER as CSP_HEADER
from csp.utils import build_policy
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, resolve

# The routes served this way (timeline/urls.py): every public feed and the private ones.
FEED_ROUTES = frozenset(
    {"feed-all", "feed-topic", "feed-country", "feed-track", "feed-actor", "feed-private"}
)


@functools.lru_cache(maxsize=4096)
def feed_route(path: str) -> ResolverMatch | None:
    """Return the route of a calendar feed's path, or None for any other path."""
    if not (path.startswith("/feeds/") and path.endswith(".ics")):
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match if match.url_name in FEED_ROUTES else None


class FeedFastPathMiddleware:
    """Call a calendar feed's view at once, skipping the middleware after this one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        match = feed_route(request.path_info)
        if match is None:
            return self.get_response(request)
        # Refuses a Host outside ALLOWED_HOSTS (400), as CommonMiddleware does for pages.
        request.get_host()
        request.resolver_match = match
        response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
        # What django-csp's middleware (after this one) would add: the site's one policy.
        response.headers.setdefault(CSP_HEADER, site_policy())
        return response


@functools.cache
def site_policy() -> str:
    """Return the Content-Security-Policy of settings.CONTENT_SECURITY_POLICY (no nonces used)."""
    return build_policy()
