"""Signed links for subscribers: confirm, manage preferences, unsubscribe (never a bare id)."""

import functools

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ..models import Subscriber

CONFIRM_SALT = "timeline.subscriber.confirm"
MANAGE_SALT = "timeline.subscriber.manage"


def token_for(subscriber: Subscriber, salt: str = MANAGE_SALT) -> str:
    """Return a token naming the subscriber, signed with SECRET_KEY and the subscriber's nonce."""
    return signing.dumps([subscriber.pk, subscriber.link_nonce], salt=salt, compress=True)


def subscriber_from(token: str, salt: str = MANAGE_SALT, max_age=None) -> Subscriber | None:
    """Return the subscriber a token names, or None if it is forged, expired or revoked."""
    try:
        pk, nonce = signing.loads(token, salt=salt, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    subscriber = Subscriber.objects.filter(pk=pk).first()
    if subscriber is None or not signing.constant_time_compare(subscriber.link_nonce, nonce):
        return None
    return subscriber


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
