"""Forwarding headers are believed only from our own proxies: no dodging lockouts and limits."""

import http.client

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from timeline.security.client_ip import client_ip

from .factories import EventFactory, TopicFactory
from .processes import free_port, gunicorn_as_deployed, http_status, start_server, stop, wait_for
from .test_security_settings import PRODUCTION, manage, settings_in

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-123-staff"
PROXIES = ["10.0.0.0/8", "fd00::/8"]


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("eddie", "eddie@example.com", PASSWORD, is_staff=True)


def log_in(password: str, **meta):
    data = {"username": "eddie", "password": password}
    return Client().post(LOGIN, data, **meta)


def address(request_meta: dict) -> str:
    return client_ip(RequestFactory().get("/en/", **request_meta))


def test_no_proxy_is_trusted_by_default():
    assert settings_in("TRUSTED_PROXIES", **PRODUCTION) == ["[]"]


def test_a_malformed_proxy_network_is_refused_at_startup():
    result = manage("check", **PRODUCTION, TRUSTED_PROXIES="10.0.0.0/8,nginx")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr and "nginx" in result.stderr


def test_forwarded_for_from_anyone_else_is_ignored(settings):
    settings.TRUSTED_PROXIES = PROXIES
    forged = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}
    assert address(forged) == "198.51.100.7"
    settings.TRUSTED_PROXIES = []
    assert address({**forged, "REMOTE_ADDR": "10.0.0.2"}) == "10.0.0.2"


def test_behind_trusted_proxies_the_first_address_not_ours_is_the_client(settings):
    settings.TRUSTED_PROXIES = PROXIES
    # The client wrote 192.0.2.5; our outer proxy saw 203.0.113.66; our inner one saw 10.0.0.3.
    chain = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "192.0.2.5, 203.0.113.66, 10.0.0.3"}
    assert address(chain) == "203.0.113.66"
    assert address({"REMOTE_ADDR": "fd00::2", "HTTP_X_FORWARDED_FOR": "2001:db8::7"}) == (
        "2001:db8::7"
    )
    # A proxy of ours that forwarded no header: the proxy itself is all we know.
    assert address({"REMOTE_ADDR": "10.0.0.2"}) == "10.0.0.2"
    # Garbage to the left of our proxies' entries is the client's own writing.
    assert address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "nonsense, 10.0.0.9"}) == (
        "10.0.0.9"
    )


def test_rotating_forwarded_for_does_not_escape_the_lockout(staff):
    for n in range(5):
        log_in("wrong", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = log_in(PASSWORD, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429


def test_rotating_forwarded_for_does_not_escape_the_rate_limits(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "form-client": "3/h", "form-address": "50/h"}
    topic = TopicFactory(name="Energy")
    EventFactory().topics.add(topic)

    def signup(n: int):
        data = {"email": f"r{n}@example.com", "lead_times": ["1440"], "timezone": "UTC"}
        client = Client(REMOTE_ADDR="198.51.100.8", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        return client.post("/en/subscribe/", {**data, "topics": [topic.pk]})

    assert [signup(n).status_code for n in range(4)] == [302, 302, 302, 429]


def test_a_username_is_locked_when_guessed_from_many_addresses(staff, settings):
    limit = settings.AXES_USERNAME_FAILURE_LIMIT
    assert limit > settings.AXES_FAILURE_LIMIT
    for n in range(limit - 1):
        assert log_in("wrong", REMOTE_ADDR=f"198.51.100.{n + 1}").status_code == 200
    # One address's failures never lock the user out of another address …
    assert log_in(PASSWORD, REMOTE_ADDR="203.0.113.10").status_code == 302
    for n in range(limit):
        log_in("wrong", REMOTE_ADDR=f"192.0.2.{n + 1}")
    # … but a username guessed from everywhere is locked everywhere, the right password too.
    response = log_in(PASSWORD, REMOTE_ADDR="203.0.113.10")
    assert response.status_code == 429
    assert "Too many failed logins for “eddie”" in response.content.decode()


def test_forwarded_proto_is_believed_only_from_our_proxies(settings):
    settings.SECURE_SSL_REDIRECT = True
    says_https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    settings.TRUSTED_PROXIES = PROXIES
    assert Client().get("/en/", REMOTE_ADDR="10.0.0.2", **says_https).status_code == 200
    response = Client().get("/en/", REMOTE_ADDR="198.51.100.7", **says_https)
    assert response.status_code == 301 and response["Location"].startswith("https://")


@pytest.mark.slow
@pytest.mark.parametrize(("proxies", "status"), [("", 301), ("127.0.0.1", 200)])
def test_gunicorn_as_deployed_believes_forwarded_proto_only_from_our_proxies(
    transactional_db, tmp_path, proxies, status
):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    process = start_server(
        gunicorn_as_deployed(port),
        log,
        DEBUG="0",
        SECURE_SSL_REDIRECT="1",
        TRUSTED_PROXIES=proxies,
    )
    try:
        wait_for(
            lambda: http_status(f"http://127.0.0.1:{port}/healthz?scope=web") == 200, timeout=120
        )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/en/feeds/", headers={"X-Forwarded-Proto": "https"})
        # From 127.0.0.1: gunicorn's own default would believe the header from there.
        assert connection.getresponse().status == status
    finally:
        stop(process)
