"""Secret links stay out of every log the project writes, and out of the Referer of the next page.

A private feed's token or a subscriber's link token in a log line is a working credential in the
hands of whoever reads the logs. The servers run as deployed: gunicorn with the Dockerfile's CMD,
and `manage.py runserver` as the Procfile (`make run`) starts it.
"""

import io
import logging
import re
import secrets
import urllib.error
import urllib.request

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from timeline.notifications import links
from timeline.security.log_redaction import redact_secrets

from .factories import EventFactory, PrivateFeedFactory, SubscriberFactory, TopicFactory
from .processes import (
    free_port,
    gunicorn_as_deployed,
    http_status,
    runserver_as_make_run,
    start_server,
    stop,
    wait_for,
)


def secret_links() -> dict[str, str]:
    """Return a working token of each kind, with what each is for."""
    topic = TopicFactory()
    EventFactory().topics.add(topic)
    feed = PrivateFeedFactory(topics=[topic])
    subscriber = SubscriberFactory(unconfirmed=True, follows=[topic])
    return {
        "feed": feed.token,
        "confirm": links.token_for(subscriber, links.CONFIRM_SALT),
        "manage": links.token_for(subscriber, links.MANAGE_SALT),
    }


def requests_to_make(tokens: dict[str, str]) -> list[tuple[str, str, int]]:
    """Return (method, path, status) of a visit through every kind of secret link."""
    unknown = secrets.token_urlsafe(32)
    tokens["unknown"] = unknown
    return [
        ("GET", f"/feeds/private/{tokens['feed']}.ics", 200),
        ("HEAD", f"/feeds/private/{tokens['feed']}.ics", 200),
        ("GET", f"/en/confirm/{tokens['confirm']}/", 200),
        ("GET", f"/en/subscriptions/{tokens['manage']}/", 200),
        ("GET", f"/en/unsubscribe/{tokens['manage']}/", 200),
        ("POST", f"/en/unsubscribe/{tokens['manage']}/", 200),
        ("GET", f"/feeds/private/{unknown}.ics", 404),
        ("GET", f"/en/confirm/{unknown}/", 404),
        ("GET", f"/en/subscriptions/{unknown}/?from=mail", 404),
        ("GET", f"/en/unsubscribe/{unknown}/", 404),
        ("GET", "/en/", 200),
    ]


def visit(base: str, method: str, path: str, referer: str) -> int:
    data = b"List-Unsubscribe=One-Click" if method == "POST" else None
    return http_status(
        urllib.request.Request(base + path, data=data, method=method, headers={"Referer": referer})
    )


SERVERS = {
    "gunicorn (Dockerfile)": (gunicorn_as_deployed, {"DEBUG": "0"}),
    "runserver (make run)": (runserver_as_make_run, {"DEBUG": "1"}),
}


@pytest.mark.parametrize("server", SERVERS)
def test_no_secret_token_reaches_the_server_logs(transactional_db, tmp_path, server):
    tokens = secret_links()
    visits = requests_to_make(tokens)
    command, environment = SERVERS[server]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    process = start_server(command(port), log_path, **environment)
    try:
        wait_for(lambda: http_status(f"{base}/healthz?scope=web") == 200, timeout=120)
        referers = [
            f"{base}/subscriptions/{tokens['manage']}/",
            f"{base}/confirm/{tokens['confirm']}/",
            f"{base}/feeds/private/{tokens['feed']}.ics",
        ]
        for n, (method, path, status) in enumerate(visits):
            assert visit(base, method, path, referers[n % len(referers)]) == status, path
    finally:
        stop(process)
    logs = log_path.read_text()

    for method, path, status in visits:
        before_token = min((path.split(token)[0] for token in tokens.values()), key=len)
        line = re.compile(rf'"{method} {re.escape(before_token)}[^"]*" {status} ')
        assert line.search(logs), f"no access log line for {method} {path}:\n{logs}"
    assert "Not Found: /feeds/private/" in logs  # django.request's 404 line, redacted
    for kind, token in tokens.items():
        for piece in (token, token[:16], token[-16:]):
            assert piece not in logs, f"the {kind} token is in the {server} log:\n{logs}"


@pytest.fixture
def console_output():
    """Return what the console handler configured in LOGGING writes, as it writes it."""
    (handler,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_django_logs_secret_paths_without_their_token(client, console_output):
    token = secrets.token_urlsafe(32)
    paths = [
        f"/feeds/private/{token}.ics",
        f"/en/confirm/{token}/",
        f"/en/subscriptions/{token}/",
        f"/en/unsubscribe/{token}/",
    ]
    for path in paths:
        assert client.get(path).status_code == 404
    try:
        raise ValueError(f"no subscriber for /unsubscribe/{token}/")
    except ValueError:
        logging.getLogger("timeline").exception("Failed on %s", f"/en/confirm/{token}/")

    output = console_output.getvalue()
    for path in paths:
        before_token = re.escape(path.split(token)[0])
        assert re.search(rf"^Not Found: {before_token}\S", output, re.M), output
    assert "Failed on /en/confirm/" in output and "ValueError: no subscriber" in output
    assert token not in output and token[:16] not in output, output


def token_patterns(resolver: URLResolver | None = None, prefix: str = ""):
    """Yield (namespaced name, pattern) of every URL whose route carries a `token`."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{entry.namespace}:" if entry.namespace else ""
            yield from token_patterns(entry, prefix + namespace)
        elif isinstance(entry, URLPattern) and "token" in entry.pattern.converters:
            yield prefix + entry.name, entry


def test_every_secret_url_is_redacted():
    names = [name for name, _ in token_patterns()]
    assert {
        "timeline:feed-private",
        "timeline:confirm",
        "timeline:subscription",
        "timeline:unsubscribe",
    } <= set(names)
    for name in names:
        token = secrets.token_urlsafe(32)
        path = reverse(name, kwargs={"token": token})
        for text in (
            f'127.0.0.1 - - "GET {path} HTTP/1.1" 200 5 "-" "curl"',
            f'"GET /x HTTP/1.1" 200 5 "https://timeline.example{path}?a=b" "Mozilla"',
            f"Not Found: {path}",
        ):
            redacted = redact_secrets(text)
            assert token not in redacted, (name, redacted)
            assert redacted == text.replace(token, "[redacted]"), (name, redacted)
    assert (
        redact_secrets('"GET /feeds/all.ics HTTP/1.1" 200') == '"GET /feeds/all.ics HTTP/1.1" 200'
    )


@pytest.mark.django_db
def test_pages_reached_by_a_secret_link_send_no_referrer(client):
    tokens = secret_links()
    secret_pages = [
        f"/feeds/private/{tokens['feed']}.ics",
        f"/en/confirm/{tokens['confirm']}/",
        f"/en/subscriptions/{tokens['manage']}/",
        f"/en/unsubscribe/{tokens['manage']}/",
        f"/feeds/private/{secrets.token_urlsafe(32)}.ics",
        f"/en/confirm/{secrets.token_urlsafe(32)}/",
        f"/en/subscriptions/{secrets.token_urlsafe(32)}/",
    ]
    for path in secret_pages:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert response["Referrer-Policy"] == "no-referrer", path
    leave = client.post(f"/en/subscriptions/{tokens['manage']}/", {"leave": "1"})
    assert leave.status_code == 302 and leave["Referrer-Policy"] == "no-referrer"
    one_click = client.post(f"/en/unsubscribe/{tokens['manage']}/")
    assert one_click.status_code == 200 and one_click["Referrer-Policy"] == "no-referrer"
    for path in ("/en/", "/en/feeds/", "/feeds/all.ics", "/en/subscribe/", "/no-such-page/"):
        assert client.get(path)["Referrer-Policy"] == "same-origin", path
