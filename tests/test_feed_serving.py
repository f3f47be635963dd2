"""Serving feeds cheaply: past the page middleware, 304s without the database, bytes from it."""

import time
import urllib.request

import pytest

from timeline.feeds import publishing, stamp
from timeline.models import Feed, StoredFile

from .factories import EventFactory, PrivateFeedFactory, TopicFactory
from .processes import free_port, gunicorn_as_deployed, http_status, start_server, stop, wait_for

# Committed data (no test transaction): what web processes see in production.
pytestmark = pytest.mark.django_db(transaction=True)

FEED = "/feeds/en/all.ics"


@pytest.fixture
def events():
    return [EventFactory(title=f"Talks round {n}") for n in range(3)]


def test_an_unchanged_feed_answers_304_and_200_without_a_database_query(
    client, events, django_assert_num_queries
):
    publishing.publish("en/all")  # as the worker does on every edit
    first = client.get(FEED)
    assert first.status_code == 200
    assert client.get(FEED, HTTP_ACCEPT_ENCODING="gzip").status_code == 200
    with django_assert_num_queries(0):
        again = client.get(FEED, HTTP_IF_NONE_MATCH=first["ETag"])
        full = client.get(FEED)
        gzipped = client.get(FEED, HTTP_ACCEPT_ENCODING="gzip")
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert full.content == first.content and full["ETag"] == first["ETag"]
    assert gzipped["Content-Encoding"] == "gzip"


def test_a_publish_reaches_the_next_request_at_once(client, events):
    before = client.get(FEED)
    events[0].title = "Talks moved to round one"
    events[0].save()
    publishing.publish_changes([events[0].pk])
    after = client.get(FEED, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert b"Talks moved to round one" in after.content


def test_a_feed_request_skips_sessions_auth_csrf_and_messages(client, events):
    response = client.get(FEED)
    request = response.wsgi_request
    for attribute in ("session", "user", "_messages", "csrf_cookie_needs_reset"):
        assert not hasattr(request, attribute), attribute
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    # The headers of every answer are still there.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_pages_still_get_the_whole_middleware(client, events):
    response = client.get("/en/feeds/")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "user")


def test_published_bytes_live_in_the_database(events):
    feed = publishing.published("en/all")
    stored = StoredFile.objects.filter(name=feed.body_name).order_by("part")
    assert b"".join(bytes(part.content) for part in stored) == feed.read()
    assert StoredFile.objects.filter(name=feed.gzip_name).exists()


def test_a_feed_whose_bytes_are_missing_is_published_again(client, events):
    feed = publishing.published("en/all")
    # As after switching FEED_STORAGE: the row names bytes the storage does not hold.
    StoredFile.objects.filter(name__in=feed.stored_names).delete()
    response = client.get(FEED)
    assert response.status_code == 200
    assert b"Talks round 2" in response.content
    assert response["ETag"] == Feed.objects.get(key="en/all").etag


def test_feeds_are_served_from_the_database_while_the_stamp_store_is_down(client, events, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert stamp.current() is None
    first = client.get(FEED)
    events[1].title = "Talks renamed in round two"
    events[1].save()
    publishing.publish_changes([events[1].pk])
    second = client.get(FEED)
    assert first.status_code == second.status_code == 200
    assert b"Talks renamed in round two" in second.content


def test_private_feed_validators_come_after_the_token_check(client):
    topic = TopicFactory(slug="energy")
    EventFactory(title="Plant milestone").topics.add(topic)
    private = PrivateFeedFactory(topics=[topic])
    url = f"/feeds/private/{private.token}.ics"
    assert client.get(url).status_code == 200
    private.is_active = False
    private.save()
    assert client.get(url).status_code == 404


def test_every_gunicorn_worker_drops_old_validators_after_a_publish(tmp_path, events, settings):
    port = free_port()
    server = start_server(gunicorn_as_deployed(port, "--workers", "3"), tmp_path / "web.log")
    url = f"http://127.0.0.1:{port}{FEED}"
    try:
        wait_for(lambda: http_status(url) == 200)

        def etags(count: int) -> set[str]:
            seen = set()
            for _ in range(count):
                with urllib.request.urlopen(url, timeout=10) as response:
                    seen.add(response.headers["ETag"])
            return seen

        (before,) = etags(30)  # enough requests for every worker to hold the validators
        events[2].title = "Talks renamed in round three"
        events[2].save()
        publishing.publish_changes([events[2].pk])
        # The stated bound: each process reads the stamp at most this often.
        time.sleep(settings.FEED_STAMP_CHECK_SECONDS + 0.25)
        after = etags(30)
    finally:
        stop(server)
    assert len(after) == 1 and before not in after
