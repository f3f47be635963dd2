"""Production settings: `check --deploy` is clean, HTTPS is enforced, nothing fails open."""

import ast
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from .two_factor import totp_code

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
    "EMAIL_URL",
    "SITE_URL",
    "ADMIN_REQUIRE_2FA",
)
# The least a production environment must set.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "EMAIL_URL": "smtp://mailer:secret@mail.example.com:587",
    "SITE_URL": "https://timeline.example.com",
}


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
    result = manage("check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION)
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
        **PRODUCTION,
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
        **PRODUCTION,
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    assert values == ["False", "False", "False"]


def test_missing_secret_key_stops_production_with_a_clear_error():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "set the SECRET_KEY environment variable" in result.stderr


def test_development_needs_no_key_and_serves_plain_http():
    assert settings_in("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", DEBUG="1", SECRET_KEY="")[
        :2
    ] == ["False", "False"]


def refusal(**env: str) -> str:
    """Start production with *env* over its least settings; return the error it stops with."""
    result = manage("check", **{**PRODUCTION, **env})
    assert result.returncode != 0, "started anyway: " + result.stdout
    assert "ImproperlyConfigured" in result.stderr, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


def test_production_refuses_to_start_without_email_url():
    message = refusal(EMAIL_URL="")
    assert "EMAIL_URL is not set" in message
    assert "EMAIL_URL=smtp" in message  # what to set it to


@pytest.mark.parametrize(
    "url", ["consolemail://", "dummymail://", "memorymail://", "filemail:///tmp/mail"]
)
def test_production_refuses_a_mail_backend_that_never_delivers(url):
    message = refusal(EMAIL_URL=url)
    assert "EMAIL_URL" in message and url.split(":")[0] in message
    assert "never delivers" in message


@pytest.mark.parametrize(
    "url", ["", "http://timeline.example.com", "timeline.example.com", "https://"]
)
def test_production_refuses_a_site_url_that_is_not_https(url):
    message = refusal(SITE_URL=url)
    assert "SITE_URL" in message and "https://" in message


@pytest.mark.parametrize("address", ["bounces+x@timeline.example.com", "bounces", "two@at@x.org"])
def test_production_refuses_a_bounce_address_it_cannot_make_return_paths_of(address):
    message = refusal(BOUNCE_ADDRESS=address)
    assert "BOUNCE_ADDRESS" in message and "BOUNCE_ADDRESS=bounces@" in message


def test_production_settings_hold_their_safe_defaults():
    validators, require_2fa = settings_in(
        "AUTH_PASSWORD_VALIDATORS", "ADMIN_REQUIRE_2FA", **PRODUCTION
    )
    assert [validator["NAME"] for validator in ast.literal_eval(validators)] == (
        [
            "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
            "django.contrib.auth.password_validation.MinimumLengthValidator",
            "django.contrib.auth.password_validation.CommonPasswordValidator",
            "django.contrib.auth.password_validation.NumericPasswordValidator",
        ]
    )
    assert require_2fa == "True"


def test_development_mails_to_the_console_on_localhost_without_2fa():
    assert settings_in(
        "EMAIL_BACKEND", "SITE_URL", "ADMIN_REQUIRE_2FA", DEBUG="1", SECRET_KEY=""
    ) == ["'django.core.mail.backends.console.EmailBackend'", "'http://localhost:8000'", "False"]


@pytest.mark.django_db
def test_weak_passwords_are_refused(superuser):
    for weak in ("password1", "12345678901", "chief1234", "Zx9!"):
        with pytest.raises(ValidationError):
            validate_password(weak, superuser)
    validate_password("correct horse battery staple", superuser)


@pytest.fixture
def https_client(settings):
    """A client of a server with production's redirect (the suite itself serves plain http)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's address: our proxy here
    return Client()


@pytest.mark.django_db
def test_http_is_redirected_to_https_and_https_gets_hsts(https_client):
    response = https_client.get("/en/feeds/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/en/feeds/"

    # Behind the proxy: it tells Django the visitor used https.
    response = https_client.get("/en/feeds/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


@pytest.mark.django_db
def test_healthcheck_answers_over_plain_http(https_client):
    # As the web container's healthcheck asks; the whole service's answer is not redirected
    # either (503 here: no worker has been seen).
    assert https_client.get("/healthz?scope=web").status_code == 200
    assert https_client.get("/healthz").status_code == 503


@pytest.mark.django_db
def test_metrics_travel_over_https_only(https_client, settings):
    # The bearer token and the numbers: plain http is redirected before the token is looked at.
    settings.METRICS_TOKEN = "metrics-test-token-not-secret"
    auth = {"HTTP_AUTHORIZATION": "Bearer metrics-test-token-not-secret"}
    response = https_client.get("/metrics", **auth)
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/metrics"
    assert https_client.get("/metrics", HTTP_X_FORWARDED_PROTO="https", **auth).status_code == 200


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_http_only(https_client, superuser):
    device = TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    login = https_client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert login.cookies["csrftoken"]["secure"] is True
    response = https_client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "chief",
            "password": "pw-chief-123",
            "otp_token": totp_code(device),
            "csrfmiddlewaretoken": login.cookies["csrftoken"].value,
        },
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_REFERER="https://testserver/admin/login/",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
