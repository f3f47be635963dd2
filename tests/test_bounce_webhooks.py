"""Bounces and complaints posted by Mailgun's webhook (django-anymail): signed, fresh, once.

Each post is what Mailgun sends about a mail really sent over SMTP in the test, signed as
Mailgun signs it: HMAC-SHA256 of timestamp + token under the webhook signing key.
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from timeline.models import Subscriber, WebhookReceipt
from timeline.notifications import dispatch

from .bounce_helpers import new_event, reminded_reader, row_of, send_reminder

pytestmark = pytest.mark.django_db
KEY = "key-0123456789abcdef0123456789abcdef"
URL = reverse("timeline:mailgun-tracking")
WINDOW = 900


@pytest.fixture(autouse=True)
def mailgun(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY, "WEBHOOK_SECRET": []}
    settings.BOUNCE_WEBHOOK_MAX_AGE_SECONDS = WINDOW
    settings.SOFT_BOUNCE_LIMIT = 3


def signed(event_data: dict, key: str = KEY, age: float = 0, token: str | None = None) -> dict:
    """Return a webhook post as Mailgun sends it, signed *age* seconds ago."""
    timestamp = str(int(time.time() - age))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": event_data,
    }


def event(mail, kind: str, **fields) -> dict:
    """Return Mailgun's event-data of *kind* about a mail we sent."""
    return {
        "event": kind,
        "id": secrets.token_urlsafe(16),
        "timestamp": time.time(),
        "recipient": mail.recipient,
        "message": {
            "headers": {
                # Mailgun reports the Message-ID without its angle brackets.
                "message-id": mail.message_id.strip("<>"),
                "to": mail.recipient,
                "from": "Timeline <timeline@localhost>",
                "subject": "Reminder: Talks in Astana",
            }
        },
        **fields,
    }


def failed(
    mail, severity: str = "permanent", code: int = 550, enhanced: str = "5.1.1", reason="bounce"
):
    message = f"{enhanced} The email account that you tried to reach does not exist."
    delivery = {"code": code, "message": message, "description": "", "attempt-no": 1}
    if enhanced:
        delivery["enhanced-code"] = enhanced
    return event(mail, "failed", severity=severity, reason=reason, **{"delivery-status": delivery})


def post(client, payload: dict, **headers):
    return client.post(URL, json.dumps(payload), content_type="application/json", **headers)


def state(subscriber: Subscriber) -> tuple:
    subscriber.refresh_from_db()
    return subscriber.suppression_reason, subscriber.soft_bounces, subscriber.bounce_status


# --- what is taken --------------------------------------------------------------------------------
def test_a_signed_permanent_failure_suppresses_at_once(client, smtp):
    reader, energy, mail = reminded_reader(smtp)

    response = post(client, signed(failed(mail)))

    assert response.status_code == 200
    assert state(reader) == ("hard_bounce", 0, "5.1.1")
    assert reader.bounce_diagnostic.startswith("5.1.1 The email account")
    assert row_of(mail).bounce == "hard"
    before = len(smtp.messages)
    new_event(energy, minutes=40)
    dispatch.dispatch_due()
    assert len(smtp.messages) == before


def test_a_signed_complaint_suppresses_at_once(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)

    response = post(client, signed(event(mail, "complained")))

    assert response.status_code == 200
    assert state(reader)[0] == "complaint"


def test_temporary_failures_count_once_per_mail(client, smtp):
    reader, energy, mail = reminded_reader(smtp)
    # Mailgun retries a deferred mail for hours, posting each failed attempt.
    for _attempt in range(3):
        temporary = failed(mail, severity="temporary", code=452, enhanced="4.2.2")
        assert post(client, signed(temporary)).status_code == 200
    assert state(reader) == ("", 1, "4.2.2")

    for _mail in range(2):
        other = send_reminder(smtp, reader, energy)
        post(client, signed(failed(other, severity="temporary", code=421, enhanced="")))

    assert state(reader) == ("soft_bounces", 3, "4.0.0")


def test_a_full_mailbox_is_a_soft_bounce_even_when_permanent(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    post(client, signed(failed(mail, code=552, enhanced="5.2.2")))
    assert state(reader) == ("", 1, "5.2.2")


def test_mailgun_refusing_an_address_that_bounced_before_is_a_hard_bounce(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    previously = failed(mail, code=605, enhanced="", reason="suppress-bounce")
    previously["delivery-status"]["message"] = ""
    previously["delivery-status"]["description"] = "Not delivering to previously bounced address"

    assert post(client, signed(previously)).status_code == 200

    assert state(reader)[0] == "hard_bounce"


@pytest.mark.parametrize("kind", ["delivered", "opened", "rejected"])
def test_events_that_say_nothing_against_the_address_change_nothing(client, smtp, kind):
    reader, _energy, mail = reminded_reader(smtp)
    # "rejected": Mailgun would not send it for a reason of ours (a quota, a setting), which
    # must never suppress every reader at once.
    fields = {"reject": {"reason": "Sandbox subdomains are for test purposes only"}}
    payload = signed(event(mail, kind, **(fields if kind == "rejected" else {})))

    assert post(client, payload).status_code == 200

    assert state(reader) == ("", 0, "")


def test_an_event_about_a_mail_not_ours_is_taken_and_ignored(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    payload = failed(mail)
    payload["message"]["headers"]["message-id"] = f"{'0' * 32}@timeline.test"

    assert post(client, signed(payload)).status_code == 200

    assert state(reader) == ("", 0, "")


# --- what is refused -----------------------------------------------------------------------------
def refused(client, reader, payload: dict, **headers) -> None:
    response = post(client, payload, **headers)
    assert response.status_code == 400
    assert state(reader) == ("", 0, "")


def test_an_unsigned_post_is_refused(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    refused(client, reader, {"event-data": failed(mail)})
    payload = signed(failed(mail))
    del payload["signature"]["signature"]
    refused(client, reader, payload)
    form = client.post(URL, {"event": "bounced", "recipient": mail.recipient})
    assert form.status_code == 400


def test_a_forged_signature_is_refused(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    refused(client, reader, signed(failed(mail), key="key-guessed"))
    # Signed by Mailgun, but for another event: the signature covers only timestamp and token,
    # so a changed timestamp is what a forger would try.
    payload = signed(failed(mail))
    payload["signature"]["timestamp"] = str(int(payload["signature"]["timestamp"]) + 1)
    refused(client, reader, payload)


def test_a_replayed_post_is_refused(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    temporary = signed(failed(mail, severity="temporary", code=452, enhanced="4.2.2"))

    assert post(client, temporary).status_code == 200
    assert post(client, temporary).status_code == 400
    # The token alone decides: the same token on another (validly signed) event is a replay.
    again = signed(event(mail, "complained"), token=temporary["signature"]["token"])
    assert post(client, again).status_code == 400

    assert state(reader) == ("", 1, "4.2.2")
    assert WebhookReceipt.objects.count() == 1


@pytest.mark.parametrize("age", [WINDOW + 5, -(WINDOW + 5)], ids=["old", "ahead"])
def test_a_post_signed_outside_the_window_is_refused(client, smtp, age):
    reader, _energy, mail = reminded_reader(smtp)
    refused(client, reader, signed(failed(mail), age=age))
    # Within the window, the same event is taken.
    assert (
        post(client, signed(failed(mail), age=age * (WINDOW - 30) / (WINDOW + 5))).status_code
        == 200
    )
    assert state(reader)[0] == "hard_bounce"


def test_receipts_are_kept_only_while_a_replay_could_pass(client, smtp):
    _reader, _energy, mail = reminded_reader(smtp)
    post(client, signed(failed(mail, severity="temporary", code=452, enhanced="4.2.2")))
    WebhookReceipt.objects.update(received_at=timezone.now() - dt.timedelta(seconds=3 * WINDOW + 1))

    post(client, signed(event(mail, "delivered")))

    assert WebhookReceipt.objects.count() == 1  # the old one went, the new one stays


def test_basic_auth_when_a_webhook_secret_is_set(client, smtp, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ["mailgun:s3cret-in-the-url"]}
    reader, _energy, mail = reminded_reader(smtp)
    refused(client, reader, signed(failed(mail)))
    refused(client, reader, signed(failed(mail)), HTTP_AUTHORIZATION="Basic bWFpbGd1bjp3cm9uZw==")

    auth = "Basic bWFpbGd1bjpzM2NyZXQtaW4tdGhlLXVybA=="  # mailgun:s3cret-in-the-url
    assert post(client, signed(failed(mail)), HTTP_AUTHORIZATION=auth).status_code == 200
    assert state(reader)[0] == "hard_bounce"


def test_without_a_signing_key_there_is_no_webhook(client, smtp, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "", "WEBHOOK_SECRET": []}
    reader, _energy, mail = reminded_reader(smtp)
    assert post(client, signed(failed(mail), key="")).status_code == 404
    assert state(reader) == ("", 0, "")


def test_only_the_signed_webhook_is_wired(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    # anymail's other providers' webhooks check no signature: none of them is reachable.
    for provider in ("sendgrid", "postmark", "mailjet", "sparkpost"):
        response = client.post(
            f"/anymail/{provider}/tracking/",
            json.dumps([{"event": "bounce", "email": mail.recipient}]),
            content_type="application/json",
        )
        assert response.status_code == 404
    assert state(reader) == ("", 0, "")


def test_webhooks_leave_no_address_or_token_in_the_logs(client, smtp, caplog):
    reader, _energy, mail = reminded_reader(smtp)
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    payload = signed(failed(mail))

    post(client, payload)
    post(client, payload)  # a replay: refused, and logged as such
    post(client, signed(failed(mail), key="key-guessed"))

    assert "Hard bounce (Mailgun webhook" in caplog.text
    secrets_ = (reader.email, row_of(mail).trace_token, payload["signature"]["token"], KEY)
    for secret in secrets_:
        assert secret not in caplog.text
