"""Bounces and complaints reported by a mail provider's webhook: Mailgun's, through django-anymail.

anymail checks the signature: an HMAC-SHA256 of the post's timestamp and token under
MAILGUN_WEBHOOK_SIGNING_KEY. It does not stop a replay, so this view also refuses a post whose
signed timestamp is more than BOUNCE_WEBHOOK_MAX_AGE_SECONDS from now (either way), and one whose
token it has taken before (`WebhookReceipt`, in the database, shared by every web process and
kept past the window). A post is taken and its receipt recorded in one transaction: if acting on
it fails, Mailgun's retry of it is not taken for a replay.

Only this view is wired (not anymail's URLs, whose other providers' views check at most a
shared password), and the receiver below listens to it alone.
"""

import datetime as dt
import json
import logging
import re
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ..models import Bounce, WebhookReceipt, hash_token
from . import bounces, reports

log = logging.getLogger(__name__)


def max_age() -> dt.timedelta:
    return dt.timedelta(seconds=settings.BOUNCE_WEBHOOK_MAX_AGE_SECONDS)


class MailgunTrackingView(MailgunTrackingWebhookView):  # type: ignore[misc]  # anymail is untyped
    """anymail's Mailgun tracking webhook, refusing old and replayed posts as well."""

    def run_validators(self, request: HttpRequest) -> None:
        super().run_validators(request)  # basic auth if set, then the signature
        self.refuse_replays(request)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with transaction.atomic():
            return super().post(request, *args, **kwargs)  # type: ignore[no-any-return]

    def refuse_replays(self, request: HttpRequest) -> None:
        """Refuse a post signed too long ago (or ahead), or one whose token was taken before."""
        timestamp, token = _signature_fields(request)
        try:
            signed_at = dt.datetime.fromtimestamp(float(timestamp), tz=dt.UTC)
        except (ValueError, OverflowError, OSError) as error:
            raise AnymailWebhookValidationFailure("Mailgun webhook with a bad timestamp") from error
        now = timezone.now()
        if abs(now - signed_at) > max_age():
            raise AnymailWebhookValidationFailure("Mailgun webhook signed too long ago: refused")
        # Receipts outlive the window both ways, so a replay can never outlast its receipt.
        WebhookReceipt.objects.filter(received_at__lt=now - 3 * max_age()).delete()
        try:
            with transaction.atomic():
                WebhookReceipt.objects.create(token_hash=hash_token(token), received_at=now)
        except IntegrityError:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook token seen before: a replay, refused"
            ) from None


def _signature_fields(request: HttpRequest) -> tuple[str, str]:
    """Return the timestamp and token of a post whose signature anymail has just checked."""
    if request.content_type == "application/json":
        signature = json.loads(request.body.decode("utf-8"))["signature"]
        return str(signature["timestamp"]), str(signature["token"])
    return request.POST["timestamp"], request.POST["token"]


_mailgun_view = MailgunTrackingView.as_view()


@csrf_exempt  # signed by Mailgun, not by a browser session
def mailgun_tracking(request: HttpRequest) -> HttpResponse:
    """Take Mailgun's tracking webhook; without a signing key set there is none (404)."""
    if not settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
        raise Http404
    return _mailgun_view(request)  # type: ignore[no-any-return]


# --- what the events mean ----------------------------------------------------------------------
STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def classify(event: AnymailTrackingEvent) -> tuple[Bounce, str, str] | None:
    """Return what an event says against the address (kind, status, diagnostic), or None.

    - `complained` (a spam report through a feedback loop) is a complaint;
    - `bounced` (Mailgun: failed, permanent) is hard, unless its status is 4.x.x or X.2.2
      (mailbox full); a failure because the address bounced or complained before (Mailgun's
      suppression lists) is hard, or a complaint;
    - `deferred` (Mailgun: failed, temporary) is soft;
    - `rejected` (Mailgun would not send it) is hard only when the reason is the address
      (it bounced before, or is invalid): other rejections are about our sending, not the
      reader, and must not suppress everyone at once.
    Everything else (delivered, opened, ...) says nothing against the address.
    """
    data = (event.esp_event or {}).get("event-data", {}) if event.esp_event else {}
    delivery = data.get("delivery-status") or {}
    status = _status(delivery, event.mta_response or "")
    diagnostic = " ".join(str(event.mta_response or event.description or "").split())
    if event.event_type == EventType.COMPLAINED:
        return Bounce.COMPLAINT, "", "Complaint reported by Mailgun"
    if event.event_type == EventType.REJECTED:
        if event.reject_reason in (RejectReason.BOUNCED, RejectReason.INVALID):
            return Bounce.HARD, status or "5.0.0", diagnostic
        return None
    if event.event_type == EventType.DEFERRED:
        return Bounce.SOFT, status or "4.0.0", diagnostic
    if event.event_type != EventType.BOUNCED:
        return None
    if data.get("reason") == "suppress-complaint":
        return Bounce.COMPLAINT, "", "Earlier complaint on Mailgun's list"
    status = status or "5.0.0"
    return Bounce(reports.failure_kind(status)), status, diagnostic


def _status(delivery: dict[str, Any], response: str) -> str:
    """Return the RFC 3463 status of a Mailgun delivery-status, or one made from its SMTP code."""
    for text in (str(delivery.get("enhanced-code") or ""), response):
        found = STATUS.search(text)
        if found:
            return found.group(1)
    code = str(delivery.get("code") or "")
    return f"{code[0]}.0.0" if code[:1] in ("4", "5") and len(code) == 3 else ""


@receiver(tracking, sender=MailgunTrackingView)
def take_mailgun_event(sender: type, event: AnymailTrackingEvent, esp_name: str, **_: Any) -> None:
    """Record a bounce or a complaint Mailgun reports about one of our mails."""
    said = classify(event)
    if said is None:
        return
    bounce, status, diagnostic = said
    try:
        notification = bounces.traced_notification([event.message_id or ""], [])
    except (bounces.Untraceable, bounces.Ambiguous):
        log.info("A %s webhook event about no mail of ours: ignored", esp_name)
        return
    bounces.take(notification, bounce, status, diagnostic, source=f"{esp_name} webhook")
