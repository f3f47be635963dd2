"""Template context every page gets."""

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest | None) -> dict[str, str]:
    """Return the site's name for templates, as {{ SITE_NAME }}."""
    return {"SITE_NAME": settings.SITE_NAME}
