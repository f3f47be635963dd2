"""Several hosts that share no disk: two web servers and a worker, each with its own MEDIA_ROOT,
sharing only PostgreSQL and Redis, as on separate machines.

An admin edit made on one web server reaches the feeds both serve, byte for byte; a login
lockout and a form's rate limit counted on one web server hold on the other.
"""

import contextlib
import http.cookiejar
import uuid
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from timeline.models import Event

from .factories import EventFactory, TopicFactory
from .processes import (
    free_port,
    gunicorn_as_deployed,
    http_status,
    start_celery,
    start_server,
    stop,
    wait_for,
)
from .web_client import Answer, WebClient, form_fields, replaced

pytestmark = pytest.mark.slow

FEED = "/feeds/en/all.ics"
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-123-staff"  # conftest's staff users
# Over plain http, as the suite's clients talk to the servers (conftest turns the redirect off).
PLAIN_HTTP = {"SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}
# How long an edit may take to reach the feeds both web servers serve.
PUBLISH_BOUND_SECONDS = 60


@contextlib.contextmanager
def web_servers(tmp_path: Path, count: int, **environment: str) -> Iterator[list[WebClient]]:
    """Start *count* gunicorns as deployed, each with a MEDIA_ROOT of its own; yield a client for
    each, sharing one cookie jar (one browser, behind a load balancer)."""
    cookies = http.cookiejar.CookieJar()
    processes, clients, logs = [], [], []
    try:
        for n in range(1, count + 1):
            media = tmp_path / f"web-{n}-media"
            media.mkdir()
            port = free_port()
            logs.append(tmp_path / f"web-{n}.log")
            processes.append(
                start_server(
                    gunicorn_as_deployed(port),
                    logs[-1],
                    DEBUG="0",
                    MEDIA_ROOT=str(media),
                    **PLAIN_HTTP,
                    **environment,
                )
            )
            clients.append(WebClient(f"http://127.0.0.1:{port}", cookies))
        for client in clients:
            wait_for(
                lambda client=client: http_status(f"{client.base}/healthz?scope=web") == 200, 120
            )
        yield clients
    finally:
        for process in processes:
            stop(process)
        for log in logs:
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def worker(tmp_path: Path) -> Iterator[None]:
    """Start a Celery worker with a MEDIA_ROOT of its own."""
    from config.celery import app

    app.control.purge()  # messages left by earlier runs belong to other databases
    media = tmp_path / "worker-media"
    media.mkdir()
    log = tmp_path / "worker.log"
    process = start_celery("worker", log, MEDIA_ROOT=str(media))
    try:
        yield
    finally:
        stop(process)
        print(f"--- worker.log\n{log.read_text()[-3000:]}")


def feeds_served(servers: list[WebClient]) -> list[Answer]:
    return [server.get(FEED) for server in servers]


def described(answers: list[Answer]) -> str:
    return "; ".join(
        f"server {n}: {answer.status} ETag {answer.headers.get('etag')}"
        + ("" if answer.status == 200 else f" {answer.text[:200]!r}")
        for n, answer in enumerate(answers, start=1)
    )


def wait_for_feeds(servers: list[WebClient], condition, what: str) -> list[Answer]:
    """Poll the feed on every server until *condition*(answers) holds; fail saying what they
    answered last."""
    last: list[list[Answer]] = []

    def check() -> list[Answer] | None:
        answers = feeds_served(servers)
        last[:] = [answers]
        return answers if condition(answers) else None

    try:
        return wait_for(check, timeout=PUBLISH_BOUND_SECONDS, interval=0.5)
    except AssertionError:
        raise AssertionError(
            f"{what} within {PUBLISH_BOUND_SECONDS} s; last answers: {described(last[0])}"
        ) from None


def all_ok_and_alike(answers: list[Answer]) -> bool:
    return all(answer.status == 200 for answer in answers) and (
        len({(answer.headers.get("etag"), answer.body) for answer in answers}) == 1
    )


def summary(answer: Answer, event: Event) -> str:
    """Return the SUMMARY of *event* in the feed *answer* holds."""
    calendar = icalendar.Calendar.from_ical(answer.body)
    (found,) = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT") if e["UID"] == str(event.uid)]
    return found


def log_in(server: WebClient, username: str, password: str) -> Answer:
    """Post the admin's login form, as a browser does; return the answer."""
    page = server.get(LOGIN)
    assert page.status == 200, page.status
    fields = dict(form_fields(page.text, id="login-form"))
    fields.update(username=username, password=password)
    return server.post(LOGIN, fields)


def test_an_admin_edit_reaches_both_web_servers_byte_for_byte(
    transactional_db, publisher: User, tmp_path
):
    with worker(tmp_path), web_servers(tmp_path, 2) as servers:
        event = EventFactory(title="Meeting of the intergovernmental commission")
        before = wait_for_feeds(
            servers, all_ok_and_alike, "both web servers did not serve the same feed"
        )
        assert summary(before[0], event) == "Meeting of the intergovernmental commission"
        etag = before[0].headers["etag"]

        first = servers[0]
        assert log_in(first, publisher.username, PASSWORD).status == 302
        change = reverse("admin:timeline_event_change", args=[event.pk])
        form = first.get(change)
        assert form.status == 200, form.status
        data = replaced(form_fields(form.text, id="event_form"), title_en="Commission postponed")
        saved = first.post(change, [*data, ("_save", "Save")])
        assert saved.status == 302, saved.text[:3000]
        assert Event.objects.get(pk=event.pk).title_en == "Commission postponed"

        after = wait_for_feeds(
            servers,
            lambda answers: all_ok_and_alike(answers) and answers[0].headers["etag"] != etag,
            "the edit did not reach both web servers alike",
        )
    assert summary(after[0], event) == "Commission postponed"
    assert after[0].body == after[1].body
    assert after[0].headers["etag"] == after[1].headers["etag"]


@pytest.fixture(scope="module")
def two_web_servers(django_db_setup, tmp_path_factory) -> Iterator[list[WebClient]]:
    """Two web servers with a lockout after 3 failed logins, and 2 sign-ups per client."""
    limits = {
        "AXES_FAILURE_LIMIT": "3",
        # A window of 30 days: the count never starts again halfway through a test.
        "RATE_LIMIT_FORM_CLIENT": "2/30d",
        # This run's counts only.
        "RATE_LIMIT_KEY_PREFIX": f"ratelimit-multihost-{uuid.uuid4().hex}",
    }
    with web_servers(tmp_path_factory.mktemp("web"), 2, **limits) as servers:
        yield servers


def test_a_lockout_on_one_web_server_holds_on_the_other(
    transactional_db, editor: User, two_web_servers
):
    first, second = two_web_servers
    answers = [log_in(first, editor.username, "wrong").status for _ in range(3)]
    assert answers == [200, 200, 429]
    refused = log_in(second, editor.username, PASSWORD)
    assert refused.status == 429
    assert "Login locked for now" in refused.text
    assert "Too many failed logins for “eddie”" in refused.text
    assert second.get("/admin/").status == 302  # to the login page: not let in


def test_a_form_limit_is_counted_across_web_servers(transactional_db, two_web_servers):
    topic = TopicFactory(name="Energy", in_use=True)
    servers = two_web_servers
    subscribe = "/en/subscribe/"
    statuses = []
    for n in range(4):
        server = servers[n % 2]
        page = server.get(subscribe)
        assert page.status == 200, page.status
        fields = dict(form_fields(page.text, action=subscribe))
        data = {
            "csrfmiddlewaretoken": fields["csrfmiddlewaretoken"],
            "email": f"reader{n}@example.com",
            "lead_times": ["1440"],
            "timezone": "UTC",
            "topics": [str(topic.pk)],
        }
        statuses.append(server.post(subscribe, data).status)
    assert statuses == [302, 302, 429, 429]
