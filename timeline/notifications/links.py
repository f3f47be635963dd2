"""Secret links for subscribers: confirm, manage preferences, unsubscribe (never a bare id).

Each link carries its own random token (256 bits); the database keeps only the token's SHA-256
(SubscriberLink), so neither a copy of the database nor a leaked SECRET_KEY gives anyone a
working link. Revoking deletes them; a confirmation link expires after CONFIRMATION_MAX_AGE_HOURS
and is then pruned. Preference and unsubscribe links do not expire.
"""

import datetime as dt
import functools
import secrets
from typing import cast

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from ..models import Subscriber, SubscriberLink, hash_token

# Which kind of link a token is for: one kind never opens the other's page.
CONFIRM_SALT = SubscriberLink.Purpose.CONFIRM
MANAGE_SALT = SubscriberLink.Purpose.MANAGE
TOKEN_BYTES = 32


def token_for(subscriber: Subscriber, salt: str = MANAGE_SALT) -> str:
    """Issue a new link token for the subscriber, storing only its hash."""
    return issue_many([subscriber], salt)[0]


def issue_many(subscribers: list[Subscriber], salt: str = MANAGE_SALT) -> list[str]:
    """Issue one new token for each subscriber given, in one write; return them in order."""
    tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in subscribers]
    SubscriberLink.objects.bulk_create(
        SubscriberLink(subscriber=subscriber, purpose=salt, token_hash=hash_token(token))
        for subscriber, token in zip(subscribers, tokens, strict=True)
    )
    return tokens


def forget(tokens: list[str]) -> None:
    """Delete tokens that were issued but never sent."""
    SubscriberLink.objects.filter(token_hash__in=[hash_token(token) for token in tokens]).delete()


def subscriber_from(
    token: str, salt: str = MANAGE_SALT, max_age: float | None = None
) -> Subscriber | None:
    """Return the subscriber a token was issued to, or None if it is unknown, revoked or expired.

    Every refusal does the same work (one SHA-256, one indexed lookup), so the time taken does
    not tell which part of a token was wrong.
    """
    matches = SubscriberLink.objects.filter(token_hash=hash_token(token), purpose=salt)
    if max_age is not None:
        # In the query, so an expired link misses as an unknown one does.
        matches = matches.filter(created_at__gte=timezone.now() - dt.timedelta(seconds=max_age))
    link = matches.select_related("subscriber").first()
    return link.subscriber if link is not None else None


def prune(now: dt.datetime | None = None) -> int:
    """Delete links that can no longer open anything; return how many.

    Those are confirmation links past CONFIRMATION_MAX_AGE_HOURS. Preference and unsubscribe
    links do not expire (an unsubscribe link in an old mail must keep working); they go when
    the subscriber revokes them or is deleted.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(hours=settings.CONFIRMATION_MAX_AGE_HOURS)
    deleted, _ = SubscriberLink.objects.filter(purpose=CONFIRM_SALT, created_at__lt=cutoff).delete()
    return deleted


def confirm_url(subscriber: Subscriber) -> str:
    token = token_for(subscriber, CONFIRM_SALT)
    return settings.SITE_URL + reverse("timeline:confirm", args=[token])


def subscriber_urls(subscriber: Subscriber, token: str | None = None) -> dict[str, str]:
    """Return the preferences and unsubscribe URLs of one mail, sharing one token (new if none)."""
    token = token or token_for(subscriber)
    manage, unsubscribe = _url_templates(settings.SITE_URL, translation.get_language())
    return {
        "manage_url": manage.replace("TOKEN", token),
        "unsubscribe_url": unsubscribe.replace("TOKEN", token),
    }


@functools.lru_cache(maxsize=8)
def _url_templates(site_url: str, language: str | None) -> tuple[str, str]:
    # Reversing a URL costs more than making a token; do it once per process and language (the
    # pages' addresses start with it).
    return cast(
        tuple[str, str],
        tuple(
            site_url + reverse(name, args=["TOKEN"])
            for name in ("timeline:subscription", "timeline:unsubscribe")
        ),
    )
