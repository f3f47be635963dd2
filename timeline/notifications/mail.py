"""Render an outbox row into an email: text and HTML parts, the event as .ics, list headers.

Every mail, the confirmation included, carries the headers mailbox providers look for in mail
sent to a list: `List-Id` (RFC 2919), `Auto-Submitted: auto-generated` (RFC 3834, so that
auto-responders stay quiet), and a Message-ID (and, with BOUNCE_ADDRESS, an envelope sender)
that traces a bounce back to its row (notifications.tracing). All but the confirmation, which
goes to an address not yet confirmed, also carry one-click unsubscribe (RFC 8058).

Every mail is written in its subscriber's language (rendered under it: words, links to its
pages, dates), whatever language happens to be active in the process that sends it.
"""

import datetime as dt
import functools
import json
import re
from email.header import Header
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from .. import context_processors, l10n, languages, timing
from ..feeds import publishing as feeds
from ..models import Event, News, Notification, Subscriber
from ..models.translations import shown
from . import changes, digests, links, tracing
from .tracing import message_id

Kind = Notification.Kind
LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f]+")
# Lazy: each is put in the language active when the mail is built (the subscriber's).
SUBJECTS: dict[str, StrOrPromise] = {
    Kind.CONFIRMATION: _("Confirm your subscription to the {site_name}"),
    Kind.REMINDER: _("Reminder: {title} — {when}"),
    Kind.RESCHEDULED: _("Changed: {title}"),
    Kind.CANCELLED: _("Cancelled: {title}"),
    Kind.DATE_ANNOUNCED: _("Date announced: {title} — {when}"),
    Kind.NEWS: _("New: {title} — {when}"),
}
DIGEST_SUBJECTS: dict[str, StrOrPromise] = {
    News.DAILY: _("Your daily digest: {period}"),
    News.WEEKLY: _("Your weekly digest: {period}"),
}


def one_line(text: str) -> str:
    """Return text safe for a header: no line breaks or control characters, so no injection."""
    return LINE_BREAKS.sub(" ", text).strip()


def language_of(subscriber: Subscriber) -> str:
    """Return the language the subscriber's mail is written in."""
    return languages.supported(subscriber.language) or languages.DEFAULT


def list_id() -> str:
    """Return the List-Id (RFC 2919): the site's name, and an id under the site's host."""
    name = one_line(settings.SITE_NAME).replace('"', "").replace("\\", "")
    # Outside ASCII, RFC 2047 encoded words side by side on one line (the header may not hold a
    # line break here; the generator folds between them).
    encoded = " ".join(Header(name, "utf-8").encode().split())
    phrase = f'"{name}"' if name.isascii() else encoded
    return f"{phrase} <followers.{tracing.site_host()}>"


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
    with translation.override(language_of(notification.subscriber)):
        return _build(notification)


def _build(notification: Notification) -> EmailMultiAlternatives:
    subscriber, event = notification.subscriber, notification.event
    language = language_of(subscriber)
    headers = {
        "Message-ID": message_id(notification),
        "Content-Language": language,
        "List-Id": list_id(),
        "Auto-Submitted": "auto-generated",
    }
    # With a VERP envelope sender the From header still names the site's sender.
    envelope_sender = tracing.return_path(notification)
    if envelope_sender:
        headers["From"] = settings.DEFAULT_FROM_EMAIL
    if notification.kind == Kind.CONFIRMATION:
        # An unconfirmed address gets a confirmation link only, never a preferences link.
        urls = {CONFIRM: links.confirm_url(subscriber)}
        subject = str(SUBJECTS[Kind.CONFIRMATION]).format(site_name=settings.SITE_NAME)
    else:
        # The dispatcher issues a batch's tokens in one write; anything else gets a new one here.
        urls = links.subscriber_urls(subscriber, getattr(notification, "link_token", None))
        if notification.kind == Kind.DIGEST:
            subject = digest_heading(notification, language)
        else:
            # Every other notification is about an event.
            event = cast(Event, event)
            subject = str(SUBJECTS[notification.kind]).format(
                title=shown(event, "title", language).text,
                when=times(event, subscriber.timezone, language)["reader"],
            )
        unsubscribe = [f"<{urls['unsubscribe_url']}>"]
        if settings.UNSUBSCRIBE_MAILTO:
            unsubscribe.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
        headers["List-Unsubscribe"] = ", ".join(unsubscribe)
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if notification.kind == Kind.DIGEST:
        text, html = digest_bodies(notification)
    else:
        text, html = bodies(notification)
    for name, value in urls.items():
        stand_in = PERSONAL.get(name, name)
        text, html = text.replace(stand_in, value), html.replace(stand_in, value)
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=text,
        from_email=envelope_sender or settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    if event is not None and event.is_calendar_dated:
        message.attach(f"{event.slug}.ics", event_calendar(event, language), "text/calendar")
    return message


def bodies(notification: Notification) -> tuple[str, str]:
    """Return the text and HTML parts with stand-ins for the reader's links.

    Followers of one event in one time zone and language get the same text, so it is rendered
    once per event revision, kind, zone, language and change shown.
    """
    event, zone = notification.event, notification.subscriber.timezone
    language = language_of(notification.subscriber)
    old, new = notification.payload.get("old"), notification.payload.get("new")
    key = (
        notification.kind,
        (event.pk, event.revision) if event else None,
        zone,
        language,
        json.dumps([old, new], sort_keys=True),
        settings.SITE_URL,
        settings.SITE_NAME,
        settings.CONFIRMATION_MAX_AGE_HOURS,
    )
    cached = _bodies.get(key)
    if cached is None:
        with translation.override(language):
            cached = _render(notification, zone, language, old, new)
        _remember(_bodies, key, cached)
    return cached


def _render(
    notification: Notification,
    zone: str,
    language: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> tuple[str, str]:
    event = notification.event
    context = {
        "kind": notification.kind,
        "event": event,
        "site_url": settings.SITE_URL,
        # Rendered outside any request: no context processor adds it.
        **context_processors.site(None),
        **PERSONAL,
        "changes": changes.told(old, new, language) if old and new else [],
        "confirm_url": CONFIRM,
        "confirm_hours": settings.CONFIRMATION_MAX_AGE_HOURS,
    }
    if event is not None:
        context["times"] = times(event, zone, language)
        # The same test as the attachment's (build): the text never promises a missing file.
        context["attached"] = event.is_calendar_dated
        context["event_url"] = settings.SITE_URL + event.get_absolute_url()
        context["sources"] = list(event.sources.all())
    return (
        render_to_string("timeline/mail/notification.txt", context),
        render_to_string("timeline/mail/notification.html", context),
    )


def period_label(period: digests.Period, zone_name: str, language: str) -> str:
    """Return the days a digest covers on its reader's clock: '1 Dec 2026', '1–7 Dec 2026'."""
    zone = timing.zone(zone_name)
    first = period.start.astimezone(zone).date()
    last = period.end.astimezone(zone).date() - dt.timedelta(days=1)
    return l10n.days(first, max(first, last), language)


def digest_heading(notification: Notification, language: str) -> str:
    """Return a digest's subject, e.g. 'Your weekly digest: 30 Nov – 6 Dec 2026'."""
    period = digests.period_of(notification)
    return _heading(period, notification.subscriber.timezone, language)


@functools.lru_cache(maxsize=256)
def _heading(period: digests.Period, zone_name: str, language: str) -> str:
    # Every reader of one period, zone and language has the same: worded once.
    with translation.override(language):
        frequency = period.key.partition(":")[0]
        return str(DIGEST_SUBJECTS[frequency]).format(
            period=period_label(period, zone_name, language)
        )


def digest_bodies(notification: Notification) -> tuple[str, str]:
    """Return a digest's text and HTML parts with stand-ins for the reader's links.

    Readers in one language and zone told the same things get the same text: it is rendered
    once (each event as of its revision, each change from the same old schedule).
    """
    subscriber = notification.subscriber
    zone, language = subscriber.timezone, language_of(subscriber)
    digest = digests.content_of(notification)
    key = (
        notification.kind,
        notification.key.partition(":")[0],
        digest.period.start,
        digest.period.end,
        zone,
        language,
        tuple((event.pk, event.revision) for event in digest.added),
        tuple((e.pk, e.revision, json.dumps(old, sort_keys=True)) for e, old in digest.changed),
        tuple((event.pk, event.revision) for event in digest.upcoming),
        settings.SITE_URL,
        settings.SITE_NAME,
    )
    cached = _bodies.get(key)
    if cached is None:
        with translation.override(language):
            cached = _render_digest(notification, digest, zone, language)
        _remember(_bodies, key, cached)
    return cached


def _render_digest(
    notification: Notification, digest: digests.Digest, zone: str, language: str
) -> tuple[str, str]:
    def entry(event: Event, old: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "event": event,
            "title": shown(event, "title", language),
            "times": times(event, zone, language),
            "url": settings.SITE_URL + event.get_absolute_url(),
            "changes": changes.told(old, changes.schedule_of(event), language) if old else [],
        }

    context = {
        "heading": digest_heading(notification, language),
        "zone": zone,  # an event's own time is shown when its zone is another
        "until": f"{l10n.moment(digest.period.end, zone, language)} ({zone})",
        "added": [entry(event) for event in digest.added],
        "changed": [entry(event, old) for event, old in digest.changed],
        "upcoming": [entry(event) for event in digest.upcoming],
        "site_url": settings.SITE_URL,
        **context_processors.site(None),
        **PERSONAL,
    }
    return (
        render_to_string("timeline/mail/digest.txt", context),
        render_to_string("timeline/mail/digest.html", context),
    )


_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(cache: dict[_K, _V], key: _K, value: _V, limit: int = 512) -> None:
    if len(cache) >= limit:
        cache.pop(next(iter(cache)))
    cache[key] = value


_bodies: dict[tuple[object, ...], tuple[str, str]] = {}


def event_calendar(event: Event, language: str = languages.DEFAULT) -> bytes:
    """Return the event as a calendar file in *language*, rendered once per revision of the event.

    Many followers of one event get the same attachment; the revision goes up on any change
    to the event or what it shows, so a cached rendering is never stale. It has the UID and
    SEQUENCE of the event in every feed, whatever its language.
    """
    key = (event.pk, event.revision, settings.SITE_URL, language)
    body = _calendars.get(key)
    if body is None:
        body = feeds.render_single(event, language)
        _remember(_calendars, key, body)
    return body


_calendars: dict[tuple[int, int, str, str], bytes] = {}
