"""Signed links for subscribers: confirm, manage preferences, unsubscribe (never a bare id)."""

import functools
import hashlib
import hmac
import zlib

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from ..models import Subscriber

CONFIRM_SALT = "timeline.subscriber.confirm"
MANAGE_SALT = "timeline.subscriber.manage"


def token_for(subscriber: Subscriber, salt: str = MANAGE_SALT) -> str:
    """Return a token naming the subscriber, signed with SECRET_KEY and the subscriber's nonce."""
    return signing.dumps([subscriber.pk, subscriber.link_nonce], salt=salt, compress=True)


class _EvenSigner(signing.TimestampSigner):
    """A TimestampSigner that computes the HMAC even for a value that has no separator."""

    def unsign(self, value: str, max_age=None) -> str:
        if self.sep not in value:
            # Signer.unsign would give up before any HMAC: spend what a forged token costs.
            constant_time_compare(value, self.signature(value))
            raise signing.BadSignature("No separator")
        return super().unsign(value, max_age=max_age)


NOBODY = 0  # no subscriber has this id: a refused token still costs one lookup
MAX_ID = 2**31 - 1


def _claim(token: str, salt: str, max_age) -> tuple[int, str]:
    """Return the (id, nonce) a token claims, or (NOBODY, "") if it is not ours or expired."""
    try:
        pk, nonce = _EvenSigner(salt=salt).unsign_object(token, max_age=max_age)
        pk, nonce = int(pk), str(nonce)
    except (signing.BadSignature, ValueError, TypeError, KeyError, zlib.error):
        return NOBODY, ""
    return (pk, nonce) if 0 < pk <= MAX_ID else (NOBODY, "")


def subscriber_from(token: str, salt: str = MANAGE_SALT, max_age=None) -> Subscriber | None:
    """Return the subscriber a token names, or None if it is forged, expired or revoked.

    Every refusal does the same work (one HMAC, one lookup that finds nothing, one digest
    comparison), so the time taken does not tell which part of a token was wrong.
    """
    pk, nonce = _claim(token, salt, max_age)
    # Matching the nonce in the query too makes a revoked link miss, as an unknown one does.
    subscriber = Subscriber.objects.filter(pk=pk, link_nonce=nonce).first()
    stored = subscriber.link_nonce if subscriber is not None else ""
    matches = hmac.compare_digest(_digest(stored), _digest(nonce))
    if subscriber is None or not stored or not matches:
        return None
    return subscriber


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def confirm_url(subscriber: Subscriber) -> str:
    token = token_for(subscriber, CONFIRM_SALT)
    return settings.SITE_URL + reverse("timeline:confirm", args=[token])


def manage_url(subscriber: Subscriber) -> str:
    return settings.SITE_URL + reverse("timeline:subscription", args=[token_for(subscriber)])


def unsubscribe_url(subscriber: Subscriber) -> str:
    return settings.SITE_URL + reverse("timeline:unsubscribe", args=[token_for(subscriber)])


def subscriber_urls(subscriber: Subscriber) -> dict[str, str]:
    """Return the preferences and unsubscribe URLs, signing the token once for both."""
    token = token_for(subscriber)
    manage, unsubscribe = _url_templates(settings.SITE_URL)
    return {
        "manage_url": manage.replace("TOKEN", token),
        "unsubscribe_url": unsubscribe.replace("TOKEN", token),
    }


@functools.lru_cache(maxsize=8)
def _url_templates(site_url: str) -> tuple[str, str]:
    # Reversing a URL costs more than signing a token; do it once per process.
    return tuple(
        site_url + reverse(name, args=["TOKEN"])
        for name in ("timeline:subscription", "timeline:unsubscribe")
    )
