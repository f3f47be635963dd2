"""Which language a request is answered in: the path's prefix, else the reader's preference."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

_View = TypeVar("_View", bound=Callable[..., Any])


def same_in_every_language(view: _View) -> _View:
    """Mark a view whose answer never depends on Accept-Language (a feed with one language)."""
    view.same_in_every_language = True  # type: ignore[attr-defined]
    return view


class ReaderLanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, which also remembers the language of the pages a reader reads
    (so the bare links they follow later redirect to it), and doesn't mark answers that never
    vary with Accept-Language as varying (caches and CDNs would keep a copy per header)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        match = getattr(request, "resolver_match", None)
        if match is not None and getattr(match.func, "same_in_every_language", False):
            return response
        response = super().process_response(request, response)
        language = translation.get_language_from_path(request.path_info)
        if (
            language
            and response.status_code < 400
            and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language
        ):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
            )
        return response
