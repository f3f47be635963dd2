"""Every kind of page carries a strict Content-Security-Policy and the usual security headers."""

import re

import pytest
from django.urls import reverse

from timeline.notifications import links

from .factories import EventFactory, SubscriberFactory, TopicFactory
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages() -> dict[str, str]:
    """Return one URL of every kind of public page, the admin's login among them."""
    event = EventFactory(title="Summit in Astana")
    topic = TopicFactory(name="Energy")
    event.topics.add(topic)
    subscriber = SubscriberFactory(follows=[topic])
    token = links.token_for(subscriber, links.MANAGE_SALT)
    return {
        "timeline": "/en/",
        "event": event.get_absolute_url(),
        "feed directory": reverse("timeline:feeds"),
        "subscribe": reverse("timeline:subscribe"),
        "preferences": reverse("timeline:subscription", args=[token]),
        "unsubscribe": reverse("timeline:unsubscribe", args=[token]),
        "api": reverse("timeline:api-events"),
        "calendar feed": reverse("timeline:feed-all"),
        "topic feed": reverse("timeline:feed-topic", args=[topic.slug]),
        "event calendar": reverse("timeline:event-ics", args=[event.slug]),
        "atom": reverse("timeline:feed-changes"),
        "admin login": reverse("admin:login"),
        "not found": "/no-such-page/",
    }


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_every_page_sends_the_security_headers(client, pages):
    for kind, url in pages.items():
        response = client.get(url)
        assert response.status_code == (404 if kind == "not found" else 200), kind
        csp = directives(response["Content-Security-Policy"])
        assert csp["default-src"] == ["'self'"], kind
        assert csp["script-src"] == ["'self'"], kind  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["style-src"] == ["'self'"], kind
        assert csp["object-src"] == ["'none'"], kind
        assert csp["frame-ancestors"] == ["'none'"], kind
        assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"], kind
        assert response["X-Content-Type-Options"] == "nosniff", kind
        # Pages reached by a secret link never pass their token on as a Referer.
        secret = kind in ("preferences", "unsubscribe")
        assert response["Referrer-Policy"] == ("no-referrer" if secret else "same-origin"), kind
        assert response["X-Frame-Options"] == "DENY", kind
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", kind
        permissions = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
            assert feature in permissions, kind


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.I)


def test_html_pages_need_no_inline_script_or_style(client, pages):
    """What the policy forbids, the pages do not use (so nothing breaks under it)."""
    for kind, url in pages.items():
        response = client.get(url)
        if not response["Content-Type"].startswith("text/html"):
            continue
        page = response.content.decode()
        assert not INLINE_SCRIPT.search(page), (kind, INLINE_SCRIPT.search(page))
        assert not INLINE_STYLE.search(page), (kind, INLINE_STYLE.search(page))


def test_admin_pages_need_no_inline_script_or_style(client, superuser):
    log_in_verified(client, superuser)
    event = EventFactory()
    for url in (
        "/admin/",
        "/admin/timeline/event/",
        "/admin/timeline/event/add/",
        f"/admin/timeline/event/{event.pk}/change/",
        "/admin/otp_totp/totpdevice/add/",
        "/admin/axes/accessattempt/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response["Content-Security-Policy"])["script-src"] == ["'self'"], url
        page = response.content.decode()
        assert not INLINE_SCRIPT.search(page), (url, INLINE_SCRIPT.search(page))
        assert not INLINE_STYLE.search(page), (url, INLINE_STYLE.search(page))
