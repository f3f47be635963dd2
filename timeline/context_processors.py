"""Template context every page gets."""

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils import translation

from . import languages
from .security.headers import reached_through_secret_link


def site(request: HttpRequest | None) -> dict[str, str]:
    """Return the site's name for templates, as {{ SITE_NAME }}."""
    return {"SITE_NAME": settings.SITE_NAME}


@dataclass(frozen=True)
class LanguageLink:
    """The page being shown, in one of our languages."""

    code: str
    name: str
    path: str
    url: str
    current: bool


def page_languages(request: HttpRequest | None) -> dict[str, object]:
    """Return this page in each language (switcher, hreflang) and its bare, unprefixed path."""
    if request is None:
        return {}
    shown = translation.get_language_from_path(request.path_info)
    if shown is None:
        return {"page_languages": [], "page_x_default": ""}
    full_path = request.get_full_path()
    links = []
    for code in languages.CODES:
        path = translate_url(full_path, code)
        links.append(
            LanguageLink(code, languages.NAMES[code], path, settings.SITE_URL + path, code == shown)
        )
    if reached_through_secret_link(request):
        # A subscriber's own page: the switcher, but no alternates for search engines.
        return {"page_languages": links, "page_alternates": False, "page_x_default": ""}
    prefix = f"/{shown}"
    bare = full_path[len(prefix) :] if full_path.startswith(prefix + "/") else full_path
    return {
        "page_languages": links,
        "page_alternates": True,
        "page_x_default": settings.SITE_URL + bare,
    }
