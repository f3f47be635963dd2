"""Public forms answer 429 with Retry-After once a client or an address posts too often."""

import pytest
from django.test import Client
from django.urls import reverse

from timeline.models import Subscriber
from timeline.notifications import links
from timeline.security import ratelimit

from .factories import EventFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

SUBSCRIBE = reverse("timeline:subscribe")


@pytest.fixture
def limits(settings):
    """Small limits, so a test reaches them in a few posts."""
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "form-client": "3/h",
        "form-address": "2/h",
        "unsubscribe-client": "50/h",
        "unsubscribe-address": "50/h",
        "confirm-client": "2/h",
    }
    return settings.RATE_LIMITS


@pytest.fixture
def topic():
    topic = TopicFactory(name="Energy")
    EventFactory().topics.add(topic)  # only topics of published events can be followed
    return topic


def signup(email: str, topic, address: str = "198.51.100.1"):
    data = {"email": email, "lead_times": ["1440"], "timezone": "UTC", "topics": [topic.pk]}
    return Client(REMOTE_ADDR=address).post(SUBSCRIBE, data)


def assert_limited(response) -> None:
    """429, Retry-After within the hour, and a finished page in the site's own layout."""
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    page = response.content.decode()
    assert "<h1>Please wait a little</h1>" in page
    assert "Please try again in" in page
    assert 'class="site-header"' in page and "Follow by email</a>" in page  # base.html
    assert "/static/timeline/site." in page


def test_one_client_is_limited_and_others_are_not(limits, topic):
    for n in range(3):
        assert signup(f"reader{n}@example.com", topic).status_code == 302
    response = signup("reader3@example.com", topic)
    assert_limited(response)
    assert not Subscriber.objects.filter(email="reader3@example.com").exists()
    # Someone else, from another address, signs up as usual.
    assert signup("neighbour@example.com", topic, address="198.51.100.2").status_code == 302


def test_one_email_address_is_limited_from_any_client(limits, topic):
    assert signup("target@example.com", topic, "203.0.113.1").status_code == 302
    assert signup("Target@Example.com", topic, "203.0.113.2").status_code == 302
    assert_limited(signup("target@example.com", topic, "203.0.113.3"))
    # Another address from the same clients is not affected.
    assert signup("other@example.com", topic, "203.0.113.3").status_code == 302


def test_invalid_posts_count_too(limits, topic):
    client = Client(REMOTE_ADDR="198.51.100.9")
    for n in range(3):
        assert client.post(SUBSCRIBE, {"email": f"not an address {n}"}).status_code == 200
    assert_limited(client.post(SUBSCRIBE, {"email": "not an address 3"}))


def test_reading_the_form_is_never_limited(limits, topic):
    client = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(10):
        assert client.get(SUBSCRIBE).status_code == 200


def test_preferences_are_limited_per_address_and_leaving_still_works(limits, topic):
    subscriber = SubscriberFactory(email="reader@example.com", lead_times=[1440], follows=[topic])
    token = links.token_for(subscriber, links.MANAGE_SALT)
    preferences = reverse("timeline:subscription", args=[token])
    data = {"topics": [topic.pk], "lead_times": ["60"], "timezone": "UTC"}
    for n in range(2):
        response = Client(REMOTE_ADDR=f"192.0.2.{n}").post(preferences, data)
        assert response.status_code == 302
    assert_limited(Client(REMOTE_ADDR="192.0.2.9").post(preferences, data))

    # One-click unsubscribe has limits of its own: leaving is never blocked by the above.
    unsubscribe = reverse("timeline:unsubscribe", args=[token])
    assert Client(REMOTE_ADDR="192.0.2.9").post(unsubscribe).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_confirming_is_limited_per_client_and_reading_the_page_is_not(limits):
    readers = [
        SubscriberFactory(email=f"reader{n}@example.com", unconfirmed=True) for n in range(4)
    ]
    confirm = [
        reverse("timeline:confirm", args=[links.token_for(reader, links.CONFIRM_SALT)])
        for reader in readers
    ]
    client = Client(REMOTE_ADDR="198.51.100.7")
    for url in confirm[:2]:
        assert client.post(url).status_code == 200

    assert_limited(client.post(confirm[2]))
    assert client.get(confirm[2]).status_code == 200
    # Another client confirms as usual; the limited one's reader stays unconfirmed.
    assert Client(REMOTE_ADDR="198.51.100.8").post(confirm[3]).status_code == 200
    confirmed = Subscriber.objects.filter(confirmed_at__isnull=False)
    assert sorted(confirmed.values_list("email", flat=True)) == [
        "reader0@example.com",
        "reader1@example.com",
        "reader3@example.com",
    ]


def test_limits_behind_the_proxy_follow_the_forwarded_address(limits, topic, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    def via_proxy(email: str, forwarded: str):
        data = {"email": email, "lead_times": ["1440"], "timezone": "UTC", "topics": [topic.pk]}
        client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
        return client.post(SUBSCRIBE, data)

    for n in range(3):
        # Forged entries to the left of the proxy's own one do not make a new client.
        assert via_proxy(f"r{n}@example.com", f"192.0.2.{n}, 203.0.113.50").status_code == 302
    assert_limited(via_proxy("r3@example.com", "192.0.2.99, 203.0.113.50"))
    assert via_proxy("r4@example.com", "203.0.113.51").status_code == 302


def test_a_new_window_lets_posts_through_again(limits):
    start = 1_800_000_000.0  # the start of an hour
    for _ in range(3):
        assert ratelimit.hit("form-client", "198.51.100.1", now=start + 10) is None
    assert ratelimit.hit("form-client", "198.51.100.1", now=start + 10) == 3590
    assert ratelimit.hit("form-client", "198.51.100.1", now=start + 3600) is None


@pytest.mark.parametrize(
    ("text", "count", "seconds"),
    [("6/h", 6, 3600), ("30/10m", 30, 600), ("20/60", 20, 60), ("100/d", 100, 86400)],
)
def test_rates_are_read_from_settings_text(text, count, seconds):
    assert ratelimit.parse_rate(text) == ratelimit.Rate(count, seconds)


@pytest.mark.parametrize("text", ["", "6", "6/x", "/h", "6/0"])
def test_a_malformed_rate_is_refused(text):
    with pytest.raises(ValueError, match="not a rate"):
        ratelimit.parse_rate(text)
