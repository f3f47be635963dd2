"""Which language a request is answered in: the path's prefix, else the reader's preference."""

from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

from . import languages

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


# --- what a machine reader asks for: the JSON API and the Atom feed ------------------------------
# They have one address each and no language prefix: ?lang= names the language, else the
# Accept-Language header does, else they answer in English. (Never the cookie pages leave:
# caches keep one copy per Accept-Language, and a cookie would mix them up.)
LANG_PARAMETER: Final = "lang"
EVERY: Final = "all"  # ?lang=all: the API gives every translation of each text


class UnknownLanguage(ValueError):
    """?lang= names a language we don't write in."""

    def __init__(self, asked: str, offered: tuple[str, ...]) -> None:
        super().__init__(
            f"Unknown language {asked!r} in ?{LANG_PARAMETER}=: use one of {', '.join(offered)}."
        )
        self.asked, self.offered = asked, offered


def asked_language(request: HttpRequest, *, every: bool = False) -> str:
    """Return the language a machine reader asked for: ?lang= (if *every*, 'all' too), else
    the first of ours in Accept-Language, else English. Raise UnknownLanguage for a ?lang=
    we don't have."""
    asked = request.GET.get(LANG_PARAMETER, "").strip()
    if asked:
        if every and asked.lower() == EVERY:
            return EVERY
        code = languages.supported(asked)
        if code is None:
            raise UnknownLanguage(asked, (*languages.CODES, *((EVERY,) if every else ())))
        return code
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for tag, quality in parse_accept_lang_header(header):
        code = languages.supported(tag) if quality > 0 else None
        if code:
            return code
    return languages.DEFAULT


def say_language(response: HttpResponseBase, language: str) -> HttpResponseBase:
    """Mark a machine reader's answer with its language, and as varying with Accept-Language."""
    response["Content-Language"] = ", ".join(languages.CODES) if language == EVERY else language
    patch_vary_headers(response, ("Accept-Language",))
    return response
