"""Security headers Django and django-csp do not set, or not per page."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class PermissionsPolicyMiddleware:
    """Turn off browser features the site never uses (camera, location, ...)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Permissions-Policy", self.policy)
        return response


class SecretLinkReferrerPolicyMiddleware:
    """Send `Referrer-Policy: no-referrer` from every page reached through a secret link.

    A secret link is a URL whose route carries a `token` (private feeds, confirm, preferences,
    unsubscribe). A click from such a page would otherwise send the token as the Referer, to
    another site or to our own access log; other pages keep SECURE_REFERRER_POLICY.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        if match is not None and "token" in match.kwargs:
            response.headers["Referrer-Policy"] = "no-referrer"
        return response
