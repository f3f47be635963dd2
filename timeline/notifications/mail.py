"""Render an outbox row into an email: text and HTML parts, the event as .ics, list headers."""

import json
import re
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from .. import context_processors, l10n, timing
from ..feeds import publishing as feeds
from ..models import Event, Notification
from . import links

Kind = Notification.Kind
LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f]+")
# Lazy: each is put in the language active when the mail is built.
SUBJECTS: dict[str, StrOrPromise] = {
    Kind.CONFIRMATION: _("Confirm your subscription to the {site_name}"),
    Kind.REMINDER: _("Reminder: {title} — {when}"),
    Kind.RESCHEDULED: _("Changed: {title}"),
    Kind.CANCELLED: _("Cancelled: {title}"),
    Kind.DATE_ANNOUNCED: _("Date announced: {title} — {when}"),
}


def one_line(text: str) -> str:
    """Return text safe for a header: no line breaks or control characters, so no injection."""
    return LINE_BREAKS.sub(" ", text).strip()


def message_id(notification: Notification) -> str:
    """Return a Message-ID derived from the row, the same on every retry of this notification."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<notification.{notification.pk}.{notification.kind}@{host}>"


def times(event: Event, zone_name: str, language: str | None = None) -> dict[str, Any]:
    """Return the event's time in the reader's zone and in its own, as text in *language*."""
    if event.precision != timing.MINUTE:
        when = event.when_in(language)
        return {"reader": when, "local": when, "all_day": True}
    local = l10n.moment(event.start_utc, event.effective_timezone, language)
    return {
        "reader": f"{l10n.moment(event.start_utc, zone_name, language)} ({zone_name})",
        "local": f"{local} ({event.zone})",
        "all_day": False,
    }


# Stand-ins for the reader's own links, so one rendering of a mail serves every reader of it.
PERSONAL = {"manage_url": "__MANAGE_URL__", "unsubscribe_url": "__UNSUBSCRIBE_URL__"}
CONFIRM = "__CONFIRM_URL__"


def build(notification: Notification) -> EmailMultiAlternatives:
    """Return the email for an outbox row (its event with place, topics and sources loaded)."""
    subscriber, event = notification.subscriber, notification.event
    headers = {"Message-ID": message_id(notification)}
    if notification.kind == Kind.CONFIRMATION:
        # An unconfirmed address gets a confirmation link only, never a preferences link.
        urls = {CONFIRM: links.confirm_url(subscriber)}
        subject = str(SUBJECTS[Kind.CONFIRMATION]).format(site_name=settings.SITE_NAME)
    else:
        # Every notification but a confirmation is about an event.
        event = cast(Event, event)
        # The dispatcher issues a batch's tokens in one write; anything else gets a new one here.
        urls = links.subscriber_urls(subscriber, getattr(notification, "link_token", None))
        subject = str(SUBJECTS[notification.kind]).format(
            title=event.title, when=times(event, subscriber.timezone)["reader"]
        )
        unsubscribe = [f"<{urls['unsubscribe_url']}>"]
        if settings.UNSUBSCRIBE_MAILTO:
            unsubscribe.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
        headers["List-Unsubscribe"] = ", ".join(unsubscribe)
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text, html = bodies(notification)
    for name, value in urls.items():
        stand_in = PERSONAL.get(name, name)
        text, html = text.replace(stand_in, value), html.replace(stand_in, value)
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    if event is not None and event.is_calendar_dated:
        message.attach(f"{event.slug}.ics", event_calendar(event), "text/calendar")
    return message


def bodies(notification: Notification) -> tuple[str, str]:
    """Return the text and HTML parts with stand-ins for the reader's links.

    Followers of one event in one time zone get the same text, so it is rendered once per
    event revision, kind, zone, language and change shown.
    """
    event, zone = notification.event, notification.subscriber.timezone
    changes = {key: notification.payload.get(key) for key in ("old", "new")}
    key = (
        notification.kind,
        (event.pk, event.revision) if event else None,
        zone,
        json.dumps(changes, sort_keys=True),
        settings.SITE_URL,
        settings.SITE_NAME,
        settings.CONFIRMATION_MAX_AGE_HOURS,
        translation.get_language(),  # the templates' words are in the active language
    )
    cached = _bodies.get(key)
    if cached is None:
        context = {
            "kind": notification.kind,
            "event": event,
            "site_url": settings.SITE_URL,
            # Rendered outside any request: no context processor adds it.
            **context_processors.site(None),
            **PERSONAL,
            **changes,
            "confirm_url": CONFIRM,
            "confirm_hours": settings.CONFIRMATION_MAX_AGE_HOURS,
        }
        if event is not None:
            context["times"] = times(event, zone)
            context["event_url"] = settings.SITE_URL + event.get_absolute_url()
            context["sources"] = list(event.sources.all())
        cached = (
            render_to_string("timeline/mail/notification.txt", context),
            render_to_string("timeline/mail/notification.html", context),
        )
        _remember(_bodies, key, cached)
    return cached


_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(cache: dict[_K, _V], key: _K, value: _V, limit: int = 512) -> None:
    if len(cache) >= limit:
        cache.pop(next(iter(cache)))
    cache[key] = value


_bodies: dict[tuple[object, ...], tuple[str, str]] = {}


def event_calendar(event: Event) -> bytes:
    """Return the event as a calendar file, rendered once per revision of the event.

    Many followers of one event get the same attachment; the revision goes up on any change
    to the event or what it shows, so a cached rendering is never stale.
    """
    key = (event.pk, event.revision, settings.SITE_URL)
    body = _calendars.get(key)
    if body is None:
        body = feeds.render_single(event)
        _remember(_calendars, key, body)
    return body


_calendars: dict[tuple[int, int, str], bytes] = {}
