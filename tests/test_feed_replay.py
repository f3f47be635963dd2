"""Repeated public feed polls answered with Django's own first answer, before Django runs."""

import io

import pytest
from django.core.wsgi import get_wsgi_application

import config.wsgi
from timeline.feeds import publishing, replay, served
from timeline.feeds.replay import FeedReplayMiddleware

from .factories import EventFactory, PrivateFeedFactory, TopicFactory

pytestmark = pytest.mark.django_db(transaction=True)

FEED = "/feeds/en/all.ics"


class Counting:
    """Django's WSGI application (as config.wsgi makes it), counting the requests reaching it."""

    def __init__(self) -> None:
        self.calls = 0
        # Made now, not at import: middleware reads the settings the suite's fixtures set.
        self.django = get_wsgi_application()

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.django(environ, start_response)


@pytest.fixture
def django_app():
    return Counting()


@pytest.fixture
def app(django_app):
    return FeedReplayMiddleware(django_app)


def test_gunicorn_serves_the_replaying_application():
    assert isinstance(config.wsgi.application, FeedReplayMiddleware)


@pytest.fixture
def events():
    events = [EventFactory(title=f"Talks round {n}") for n in range(3)]
    publishing.publish("en/all")
    return events


def call(app, path=FEED, method="GET", **headers):
    """Return (status, headers, body) of a request to *app* as gunicorn would pass it."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, *exc_info):
        answer["status"], answer["headers"] = status, response_headers

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {}),
        ("GET", {"accept_encoding": "gzip"}),
        ("HEAD", {}),
        ("HEAD", {"accept_encoding": "gzip, deflate"}),
    ],
)
def test_a_replayed_answer_is_djangos_own(app, django_app, events, method, headers):
    first = call(app, method=method, **headers)
    again = call(app, method=method, **headers)
    assert django_app.calls == 1
    assert again == first
    assert first[0] == "200 OK"
    etag = dict(first[1])["ETag"]
    revalidated = call(app, method=method, if_none_match=etag, **headers)
    repeated = call(app, method=method, if_none_match=etag, **headers)
    assert django_app.calls == 2
    assert revalidated[0] == "304 Not Modified" and repeated == revalidated


def test_replayed_answers_make_no_database_query(app, events, django_assert_num_queries):
    _status, headers, _body = call(app)
    call(app, if_none_match=dict(headers)["ETag"])
    with django_assert_num_queries(0):
        assert call(app)[0] == "200 OK"
        assert call(app, if_none_match=dict(headers)["ETag"])[0] == "304 Not Modified"


def test_a_publish_ends_the_replay(app, events):
    _status, headers, _body = call(app)
    events[0].title = "Talks moved to round one"
    events[0].save()
    publishing.publish_changes([events[0].pk])
    status, new_headers, body = call(app, if_none_match=dict(headers)["ETag"])
    assert status == "200 OK"
    assert dict(new_headers)["ETag"] != dict(headers)["ETag"]
    assert b"Talks moved to round one" in body


def test_an_old_etag_gets_the_whole_feed(app, django_app, events):
    _status, _headers, body = call(app)
    status, _headers, again = call(app, if_none_match='"an-old-version"')
    assert status == "200 OK" and again == body


@pytest.mark.parametrize(
    "headers",
    [
        {"if_modified_since": "Wed, 01 Jan 2020 00:00:00 GMT"},
        {"if_match": "*"},
        {"if_unmodified_since": "Wed, 01 Jan 2020 00:00:00 GMT"},
    ],
)
def test_other_conditions_are_answered_by_django(app, django_app, events, headers):
    call(app, **headers)
    call(app, **headers)
    assert django_app.calls == 2


def test_private_feeds_are_never_replayed(app, django_app):
    topic = TopicFactory(slug="energy")
    EventFactory(title="Plant milestone").topics.add(topic)
    private = PrivateFeedFactory(topics=[topic])
    path = f"/feeds/private/{private.token}.ics"
    assert call(app, path)[0] == "200 OK"
    private.is_active = False
    private.save()
    assert call(app, path)[0] == "404 Not Found"
    assert django_app.calls == 2


def test_each_host_and_scheme_gets_its_own_answer(app, django_app, events, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    call(app)
    status, _headers, _body = call(app, host="attacker.example")
    assert status.startswith("400")
    assert django_app.calls == 2


def test_replay_resumes_after_its_answers_age_out(app, django_app, events, monkeypatch):
    """Kept answers are trusted for served.MAX_AGE_SECONDS; the next answer Django gives after
    that is kept again, so a long-running process goes on replaying."""
    clock = [1000.0]
    monkeypatch.setattr(replay.time, "monotonic", lambda: clock[0])
    etag = dict(call(app)[1])["ETag"]
    call(app, if_none_match=etag)
    assert django_app.calls == 2
    for _hour in range(3):
        clock[0] += served.MAX_AGE_SECONDS + 1
        first = call(app), call(app, if_none_match=etag)
        calls = django_app.calls
        assert [call(app), call(app, if_none_match=etag)] == list(first)
        assert django_app.calls == calls
