"""Render an outbox row into an email: text and HTML parts, the event as .ics, list headers."""

import re
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .. import feeds, timing
from ..models import Event, Notification
from . import links

Kind = Notification.Kind
LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f]+")
SUBJECTS = {
    Kind.CONFIRMATION: "Confirm your subscription to the Kazakhstan–Russia timeline",
    Kind.REMINDER: "Reminder: {title} — {when}",
    Kind.RESCHEDULED: "Changed: {title}",
    Kind.CANCELLED: "Cancelled: {title}",
    Kind.DATE_ANNOUNCED: "Date announced: {title} — {when}",
}


def one_line(text: str) -> str:
    """Return text safe for a header: no line breaks or control characters, so no injection."""
    return LINE_BREAKS.sub(" ", text).strip()


def message_id(notification: Notification) -> str:
    """Return a Message-ID derived from the row, the same on every retry of this notification."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<notification.{notification.pk}.{notification.kind}@{host}>"


def times(event: Event, zone_name: str) -> dict:
    """Return the event's time in the reader's zone and in its own, as text."""
    if event.precision != timing.MINUTE:
        return {"reader": event.when, "local": event.when, "all_day": True}
    reader = event.start_utc.astimezone(zoneinfo.ZoneInfo(zone_name))
    local = event.local_start
    return {
        "reader": f"{reader:%a %d %b %Y, %H:%M} ({zone_name})",
        "local": f"{local:%a %d %b %Y, %H:%M} ({event.zone})",
        "all_day": False,
    }


def build(notification: Notification) -> EmailMultiAlternatives:
    """Return the email for an outbox row (its event with place, topics and sources loaded)."""
    subscriber, event = notification.subscriber, notification.event
    context = {
        "notification": notification,
        "kind": notification.kind,
        "subscriber": subscriber,
        "event": event,
        "site_url": settings.SITE_URL,
        "manage_url": links.manage_url(subscriber),
        "unsubscribe_url": links.unsubscribe_url(subscriber),
        "old": notification.payload.get("old"),
        "new": notification.payload.get("new"),
    }
    headers = {"Message-ID": message_id(notification)}
    if notification.kind == Kind.CONFIRMATION:
        context["confirm_url"] = links.confirm_url(subscriber)
        context["confirm_hours"] = settings.CONFIRMATION_MAX_AGE_HOURS
        subject = SUBJECTS[Kind.CONFIRMATION]
    else:
        context["times"] = times(event, subscriber.timezone)
        context["event_url"] = settings.SITE_URL + event.get_absolute_url()
        context["sources"] = list(event.sources.all())
        subject = SUBJECTS[notification.kind].format(
            title=event.title, when=context["times"]["reader"]
        )
        unsubscribe = [f"<{context['unsubscribe_url']}>"]
        if settings.UNSUBSCRIBE_MAILTO:
            unsubscribe.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
        headers["List-Unsubscribe"] = ", ".join(unsubscribe)
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=render_to_string("timeline/mail/notification.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers=headers,
    )
    message.attach_alternative(
        render_to_string("timeline/mail/notification.html", context), "text/html"
    )
    if event is not None and event.is_calendar_dated:
        message.attach(f"{event.slug}.ics", feeds.render_single(event), "text/calendar")
    return message
