"""Security headers Django and django-csp do not set, or not per page."""

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_exempt


def reached_through_secret_link(request: HttpRequest) -> bool:
    """Tell whether the request's URL carries a secret token (its route has a `token`)."""
    match = request.resolver_match
    return match is not None and "token" in match.kwargs


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
        if reached_through_secret_link(request):
            response.headers["Referrer-Policy"] = "no-referrer"
        return response


class SecretLinkCsrfMiddleware(CsrfViewMiddleware):
    """Django's CSRF check, knowing that our secret-link pages post with `Origin: null`.

    Browsers send `Origin: null` (and no Referer) with a form posted from a page whose
    Referrer-Policy is no-referrer, which Django's origin check refuses. On a secret link's own
    URL that origin is accepted; the CSRF cookie and form token are still checked, and the URL
    itself holds a secret no other site knows.
    """

    def _origin_verified(self, request: HttpRequest) -> bool:
        if request.META.get("HTTP_ORIGIN") == "null" and reached_through_secret_link(request):
            return True
        # A private method of CsrfViewMiddleware, which django-stubs leaves out.
        return super()._origin_verified(request)  # type: ignore[misc,no-any-return]


def csrf_protect_secret_link(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Protect a secret-link page's forms with SecretLinkCsrfMiddleware instead of Django's own.

    The site-wide CsrfViewMiddleware stays in MIDDLEWARE for every other view.
    """
    protected = csrf_exempt(decorator_from_middleware(SecretLinkCsrfMiddleware)(view))
    return cast(Callable[..., HttpResponse], protected)
