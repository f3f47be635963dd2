"""Show an editor's text in the reader's language, marked with the language it is really in."""

from typing import Any

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

from ..models.translations import Shown, shown

register = template.Library()


@register.simple_tag
def tr(record: Any, field: str) -> SafeString:
    """Render *field* of *record* in the page's language; a fallback is wrapped in lang="…"."""
    text = shown(record, field)
    if text.is_fallback:
        return format_html('<span lang="{}">{}</span>', text.language, text.text)
    return conditional_escape(text.text)


@register.simple_tag
def translated(record: Any, field: str) -> Shown:
    """Return *field* of *record* as shown to this reader (use with `as`, for block elements)."""
    return shown(record, field)
