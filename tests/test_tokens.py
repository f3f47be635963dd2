"""Secret links: every wrong token gets one answer; tokens are strong, stored hashed, revocable.

Private calendar feeds and subscribers' links carry random tokens of 256 bits; only their SHA-256
is stored, so neither a copy of the database nor SECRET_KEY makes a working link.
"""

import datetime as dt
import hashlib
import re
import secrets

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from timeline import tasks
from timeline.models import PrivateFeed, Subscriber, SubscriberLink, hash_token
from timeline.notifications import links

from .factories import PrivateFeedFactory, SubscriberFactory, TopicFactory
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db


def answers(client, urls, method: str = "get") -> set[tuple[int, bytes]]:
    """Return the distinct (status, body) pairs the URLs answer with (the language switcher
    links to the page asked for, token and all: that echo is left out)."""
    return {
        (response.status_code, body(response))
        for response in (getattr(client, method)(url) for url in urls)
    }


ECHOED_TOKEN = re.compile(rb'/(confirm|subscriptions|unsubscribe)/[^/"]+/')


def body(response) -> bytes:
    """Return what a page says, without the echo of the link it was asked for."""
    return ECHOED_TOKEN.sub(rb"/SECRET-LINK/", response.content)


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


# --- private calendar feeds --------------------------------------------------------------------
def private_feed(**fields) -> tuple[PrivateFeed, str]:
    feed = PrivateFeedFactory(name="Embassy desk", topics=[TopicFactory(in_use=True)], **fields)
    return feed, feed.token


def test_every_wrong_feed_token_gets_the_same_404(client):
    _, token = private_feed()
    revoked_feed, revoked_token = private_feed()
    revoked_feed.is_active = False
    revoked_feed.save()
    rotated_feed, rotated_token = private_feed()
    rotated_feed.issue_token()
    rotated_feed.save()
    wrong = {
        "unknown": secrets.token_urlsafe(32),
        "truncated": token[:-4],
        "extended": token + "x",
        "forged": tampered(token),
        "malformed": "not a token!",
        "very long": "A" * 5000,
        "non-ascii": "жетон",
        "revoked": revoked_token,
        "rotated": rotated_token,
    }
    urls = [f"/feeds/private/{value}.ics" for value in wrong.values()]

    assert client.get(f"/feeds/private/{token}.ics").status_code == 200
    [(status, body)] = answers(client, urls)
    assert status == 404 and b"feed" not in body.lower() and b"token" not in body.lower()
    assert answers(client, urls, "head") == {(404, b"")}


def test_feed_tokens_are_random_and_only_their_hash_is_stored():
    feed, token = private_feed()
    assert len(token) >= 43  # secrets.token_urlsafe(32): 256 random bits
    assert len({PrivateFeed().issue_token() for _ in range(100)}) == 100
    stored = PrivateFeed.objects.filter(pk=feed.pk).values().get()
    assert token not in {str(value) for value in stored.values()}
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


# --- subscribers' links ------------------------------------------------------------------------
def subscriber(email: str = "reader@example.com", **fields) -> Subscriber:
    return SubscriberFactory(email=email, follows=[TopicFactory()], **fields)


def wrong_tokens(reader: Subscriber, salt: str) -> dict[str, str]:
    """Return tokens wrong in every way we can think of (the revoked one made last)."""
    good = links.token_for(reader, salt)
    gone = SubscriberFactory(email="gone@example.com", unconfirmed=True)
    of_someone_gone = links.token_for(gone, salt)
    gone.delete()
    other_salt = links.CONFIRM_SALT if salt == links.MANAGE_SALT else links.MANAGE_SALT
    wrong = {
        "unknown": secrets.token_urlsafe(links.TOKEN_BYTES),
        "of someone gone": of_someone_gone,
        "truncated": good[:-6],
        "extended": good + "x",
        "forged": tampered(good),
        "the stored hash": hash_token(good),
        "signed by us": signing.dumps([reader.pk, reader.link_nonce], salt=salt),
        "other purpose": links.token_for(reader, other_salt),
        "malformed": "garbage",
        "very long": "a:" * 3000,
        "non-ascii": "жетон:жетон",
    }
    reader.revoke_links()
    wrong["revoked"] = good
    return wrong


@pytest.mark.parametrize(
    ("name", "salt", "method"),
    [
        ("confirm", links.CONFIRM_SALT, "get"),
        ("confirm", links.CONFIRM_SALT, "post"),
        ("subscription", links.MANAGE_SALT, "get"),
        ("subscription", links.MANAGE_SALT, "post"),
        ("unsubscribe", links.MANAGE_SALT, "get"),
        ("unsubscribe", links.MANAGE_SALT, "post"),
    ],
)
def test_every_wrong_link_gets_the_same_page(client, name, salt, method):
    reader = subscriber(confirmed_at=None) if name == "confirm" else subscriber()
    urls = [reverse(f"timeline:{name}", args=[t]) for t in wrong_tokens(reader, salt).values()]

    [(status, body)] = answers(client, urls, method)

    assert status == 404 and b"This link is invalid or has expired" in body
    reader.refresh_from_db()
    assert reader.unsubscribed_at is None
    assert (reader.confirmed_at is None) == (name == "confirm")
    good = reverse(f"timeline:{name}", args=[links.token_for(reader, salt)])
    assert client.get(good).status_code == 200


def test_an_expired_confirmation_link_gets_the_same_page(client, settings):
    reader = SubscriberFactory(email="late@example.com", unconfirmed=True)
    token = links.token_for(reader, links.CONFIRM_SALT)
    garbage = reverse("timeline:confirm", args=["garbage"])
    # The age limit decides: one below zero makes a fresh link stale.
    assert links.subscriber_from(token, links.CONFIRM_SALT, max_age=-1) is None
    assert links.subscriber_from(token, links.CONFIRM_SALT, max_age=60) == reader

    settings.CONFIRMATION_MAX_AGE_HOURS = -1
    for method in ("get", "post"):
        send = getattr(client, method)
        stale = send(reverse("timeline:confirm", args=[token]))
        assert (stale.status_code, body(stale)) == (404, body(send(garbage)))
    reader.refresh_from_db()
    assert reader.confirmed_at is None

    settings.CONFIRMATION_MAX_AGE_HOURS = 72
    assert client.post(reverse("timeline:confirm", args=[token])).status_code == 200
    reader.refresh_from_db()
    assert reader.confirmed_at is not None


def test_links_that_can_no_longer_open_anything_are_pruned(settings):
    settings.CONFIRMATION_MAX_AGE_HOURS = 72
    reader = SubscriberFactory(email="new@example.com", unconfirmed=True)

    def issued(salt: str, hours_ago: float) -> str:
        token = links.token_for(reader, salt)
        SubscriberLink.objects.filter(token_hash=hash_token(token)).update(
            created_at=timezone.now() - dt.timedelta(hours=hours_ago)
        )
        return token

    expired = [issued(links.CONFIRM_SALT, hours) for hours in (72.5, 24 * 400)]
    fresh = [issued(links.CONFIRM_SALT, hours) for hours in (71.5, 0)]
    # Preferences and unsubscribe links do not expire: an old mail's unsubscribe link works.
    old_manage = issued(links.MANAGE_SALT, 24 * 365 * 3)

    assert links.prune() == len(expired)

    kept = set(SubscriberLink.objects.values_list("token_hash", flat=True))
    assert kept == {hash_token(token) for token in (*fresh, old_manage)}
    for token in fresh:
        assert links.subscriber_from(token, links.CONFIRM_SALT, max_age=72 * 3600) == reader
    assert links.subscriber_from(old_manage) == reader
    # Beat runs it.
    assert settings.CELERY_BEAT_SCHEDULE["prune-links"]["task"] == tasks.prune_links.name


def test_link_tokens_are_random_and_only_their_hash_is_stored():
    reader = subscriber()
    tokens = [links.token_for(reader) for _ in range(100)]
    assert len(set(tokens)) == 100
    assert all(len(token) >= 43 for token in tokens)  # secrets.token_urlsafe(32): 256 bits
    stored = {
        str(value)
        for row in (
            *Subscriber.objects.filter(pk=reader.pk).values(),
            *SubscriberLink.objects.filter(subscriber=reader).values(),
        )
        for value in row.values()
    }
    assert not any(token in value for token in tokens for value in stored)
    assert hashlib.sha256(tokens[0].encode()).hexdigest() in stored
    # With the database and SECRET_KEY, nobody can make a working link: nothing signed works.
    forged = signing.dumps([reader.pk, reader.link_nonce], salt=links.MANAGE_SALT)
    assert links.subscriber_from(forged) is None
    assert links.subscriber_from(tokens[0]) == reader


def test_a_subscriber_revokes_their_links_from_the_preferences_page(client):
    reader = subscriber()
    old = reverse("timeline:subscription", args=[links.token_for(reader)])
    old_unsubscribe = reverse("timeline:unsubscribe", args=[links.token_for(reader)])
    garbage = client.get(reverse("timeline:subscription", args=["garbage"]))

    response = client.post(old, {"new_links": "1"}, follow=True)

    [(new, _)] = response.redirect_chain
    assert new != old and response.status_code == 200
    assert "the links in earlier emails no longer work" in response.content.decode()
    for url in (old, old_unsubscribe):
        stale = client.get(url)
        assert (stale.status_code, body(stale)) == (404, body(garbage))
    assert client.post(old_unsubscribe).status_code == 404
    reader.refresh_from_db()
    assert reader.unsubscribed_at is None
    assert client.get(new).status_code == 200


def test_an_editor_revokes_a_subscribers_links(client, superuser):
    log_in_verified(client, superuser)
    reader = subscriber()
    url = reverse("timeline:subscription", args=[links.token_for(reader)])
    client.post(
        reverse("admin:timeline_subscriber_changelist"),
        {"action": "revoke_links", "_selected_action": [reader.pk]},
    )
    client.logout()
    assert client.get(url).status_code == 404
