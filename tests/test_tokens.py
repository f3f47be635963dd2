"""Secret links: every wrong token gets one answer; tokens are strong, stored hashed, revocable.

Private calendar feeds carry a random token (only its SHA-256 is stored); subscribers' links carry
a token signed with SECRET_KEY naming the subscriber and a random nonce (the token itself is never
stored, and the nonce alone cannot make one).
"""

import hashlib
import secrets

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from timeline.models import PrivateFeed, Subscriber, Subscription
from timeline.notifications import links

from .factories import EventFactory, TopicFactory

pytestmark = pytest.mark.django_db


def answers(client, urls, method: str = "get") -> set[tuple[int, bytes]]:
    """Return the distinct (status, body) pairs the URLs answer with."""
    return {
        (response.status_code, response.content)
        for response in (getattr(client, method)(url) for url in urls)
    }


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


# --- private calendar feeds --------------------------------------------------------------------
def private_feed(**fields) -> tuple[PrivateFeed, str]:
    feed = PrivateFeed(name="Embassy desk", **fields)
    token = feed.issue_token()
    feed.save()
    topic = TopicFactory()
    EventFactory().topics.add(topic)
    feed.topics.add(topic)
    return feed, token


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


# --- subscribers' signed links -----------------------------------------------------------------
def subscriber(email: str = "reader@example.com", **fields) -> Subscriber:
    reader = Subscriber.objects.create(email=email, confirmed_at=timezone.now(), **fields)
    Subscription.objects.create(subscriber=reader, topic=TopicFactory())
    return reader


def wrong_tokens(reader: Subscriber, salt: str) -> dict[str, str]:
    """Return tokens wrong in every way we can think of (the revoked one made last)."""
    good = links.token_for(reader, salt)
    gone = Subscriber.objects.create(email="gone@example.com")
    of_someone_gone = links.token_for(gone, salt)
    gone.delete()
    other_salt = links.CONFIRM_SALT if salt == links.MANAGE_SALT else links.MANAGE_SALT
    value = good.rpartition(":")[0]
    wrong = {
        "unknown subscriber": of_someone_gone,
        "truncated": good[:-6],
        "forged signature": tampered(good),
        "signature dropped": value,
        "forged payload": signing.dumps([reader.pk, "0" * 32], salt=salt, key="guessed-key"),
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
        ("subscription", links.MANAGE_SALT, "get"),
        ("subscription", links.MANAGE_SALT, "post"),
        ("unsubscribe", links.MANAGE_SALT, "get"),
        ("unsubscribe", links.MANAGE_SALT, "post"),
    ],
)
def test_every_wrong_link_gets_the_same_page(client, name, salt, method):
    reader = subscriber()
    urls = [reverse(f"timeline:{name}", args=[t]) for t in wrong_tokens(reader, salt).values()]

    [(status, body)] = answers(client, urls, method)

    assert status == 404 and b"This link is invalid or has expired" in body
    reader.refresh_from_db()
    assert reader.unsubscribed_at is None
    good = reverse(f"timeline:{name}", args=[links.token_for(reader, salt)])
    assert client.get(good).status_code == 200


def test_an_expired_confirmation_link_gets_the_same_page(client, settings):
    reader = Subscriber.objects.create(email="late@example.com")
    token = links.token_for(reader, links.CONFIRM_SALT)
    garbage = reverse("timeline:confirm", args=["garbage"])
    # The signer's max_age decides: an age limit below zero makes a real, fresh signature stale.
    assert links.subscriber_from(token, links.CONFIRM_SALT, max_age=-1) is None
    assert links.subscriber_from(token, links.CONFIRM_SALT, max_age=60) == reader

    settings.CONFIRMATION_MAX_AGE_HOURS = -1
    stale = client.get(reverse("timeline:confirm", args=[token]))
    assert (stale.status_code, stale.content) == (404, client.get(garbage).content)
    reader.refresh_from_db()
    assert reader.confirmed_at is None

    settings.CONFIRMATION_MAX_AGE_HOURS = 72
    assert client.get(reverse("timeline:confirm", args=[token])).status_code == 200


def test_the_token_is_not_stored_and_the_nonce_alone_makes_no_token():
    reader = subscriber()
    token = links.token_for(reader)
    _, _, signature = token.rpartition(":")
    stored = {
        str(value) for value in Subscriber.objects.filter(pk=reader.pk).values().get().values()
    }
    assert not any(token in value or signature in value for value in stored)
    assert len(reader.link_nonce) == 32 and int(reader.link_nonce, 16) >= 0  # 128 random bits
    # Someone who reads the database but lacks SECRET_KEY cannot sign a working link.
    forged = signing.dumps(
        [reader.pk, reader.link_nonce], salt=links.MANAGE_SALT, key="x", compress=True
    )
    assert links.subscriber_from(forged) is None
    assert links.subscriber_from(token) == reader


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
        assert (stale.status_code, stale.content) == (404, garbage.content)
    assert client.post(old_unsubscribe).status_code == 404
    reader.refresh_from_db()
    assert reader.unsubscribed_at is None
    assert client.get(new).status_code == 200


def test_an_editor_revokes_a_subscribers_links(client, superuser):
    client.force_login(superuser)
    reader = subscriber()
    url = reverse("timeline:subscription", args=[links.token_for(reader)])
    client.post(
        reverse("admin:timeline_subscriber_changelist"),
        {"action": "revoke_links", "_selected_action": [reader.pk]},
    )
    client.logout()
    assert client.get(url).status_code == 404
