"""Production settings: `check --deploy` is clean, HTTPS is enforced, and a key is required."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
# What an operator might have set: none of it may leak into "production defaults".
SECURITY_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_REFERRER_POLICY",
    "SECURE_PROXY_SSL_HEADER",
    "TRUSTED_PROXIES",
    "DATABASE_URL",
    "REDIS_URL",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with the production environment plus *env*."""
    base = {k: v for k, v in os.environ.items() if k not in SECURITY_VARIABLES}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_in(*names: str, **env: str) -> list[str]:
    code = "from django.conf import settings; " + "; ".join(
        f"print(repr(settings.{name}))" for name in names
    )
    result = manage("shell", "--no-imports", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_production_settings_pass_check_deploy_without_warnings():
    key = secrets.token_urlsafe(50)
    result = manage("check", "--deploy", "--fail-level", "DEBUG", DEBUG="0", SECRET_KEY=key)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNINGS" not in output and "security.W" not in output


def test_production_defaults_are_https_only():
    values = settings_in(
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert values == [
        "True",
        "31536000",
        "True",
        "True",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO', 'https')",
        "'DENY'",
        "'same-origin'",
    ]


def test_https_settings_can_be_switched_off_for_plain_http_on_localhost():
    values = settings_in(
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        DEBUG="0",
        SECRET_KEY="k",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    assert values == ["False", "False", "False"]


def test_missing_secret_key_stops_production_with_a_clear_error():
    result = manage("check", DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "set the SECRET_KEY environment variable" in result.stderr


def test_development_needs_no_key_and_serves_plain_http():
    assert settings_in("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", DEBUG="1", SECRET_KEY="")[
        :2
    ] == ["False", "False"]


@pytest.fixture
def https_client(settings):
    """A client of a server with production's redirect (the suite itself serves plain http)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's address: our proxy here
    return Client()


@pytest.mark.django_db
def test_http_is_redirected_to_https_and_https_gets_hsts(https_client):
    response = https_client.get("/feeds/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/feeds/"

    # Behind the proxy: it tells Django the visitor used https.
    response = https_client.get("/feeds/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


@pytest.mark.django_db
def test_healthcheck_answers_over_plain_http(https_client):
    assert https_client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_http_only(https_client, superuser):
    login = https_client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert login.cookies["csrftoken"]["secure"] is True
    response = https_client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "chief",
            "password": "pw-chief-123",
            "csrfmiddlewaretoken": login.cookies["csrftoken"].value,
        },
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_REFERER="https://testserver/admin/login/",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
