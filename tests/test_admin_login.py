"""Admin login through the real form: lockout after repeated failures, and two-factor login.

TOTP is required of superusers (ADMIN_REQUIRE_2FA, on in production) and optional for other
staff: a code only once they have set up a device.
"""

import base64
import datetime as dt
import io
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from .two_factor import totp_code as token_for

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-123-staff"
LOCKED = "Login locked for now"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("eddie", "eddie@example.com", PASSWORD, is_staff=True)


def log_in(
    client: Client,
    password: str = PASSWORD,
    token: str | None = None,
    username: str = "eddie",
    **meta,
):
    data = {"username": username, "password": password}
    if token is not None:
        data["otp_token"] = token
    return client.post(LOGIN, data, **meta)


def in_admin(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def log_in_chief(client: Client, token: str | None = None):
    """Log in as the `superuser` fixture, with the right password."""
    return log_in(client, "pw-chief-123", token, username="chief")


def backup_codes(output: str) -> list[str]:
    """Return the backup codes printed by add_totp_device."""
    return re.findall(r"^ {2}([a-z2-7]{8})$", output, flags=re.MULTILINE)


# --- lockout (django-axes) ---------------------------------------------------------------------
def test_login_locks_after_five_failures_with_a_clear_message(client, staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response = log_in(client, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    response = log_in(client, "wrong")
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page and "Too many failed logins for “eddie”" in page
    assert "paused for 15 minutes" in page
    assert "Kazakhstan–Russia timeline" in page  # the admin's own header
    # Now even the right password is refused, from this address.
    response = log_in(client)
    assert response.status_code == 429
    assert not in_admin(client)


def test_lockout_is_per_client_address(client, staff):
    for _ in range(5):
        log_in(client, "wrong", REMOTE_ADDR="198.51.100.7")
    assert log_in(client, REMOTE_ADDR="198.51.100.7").status_code == 429
    assert log_in(client, REMOTE_ADDR="198.51.100.8").status_code == 302
    assert in_admin(client)


def test_behind_the_proxy_the_forwarded_client_address_counts(client, staff, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    for attempt in range(5):
        # A forged entry on the left changes nothing: the proxy's own entry is the client.
        forged = {**attacker, "HTTP_X_FORWARDED_FOR": f"192.0.2.{attempt}, 203.0.113.66"}
        log_in(client, "wrong", **forged)
    assert log_in(client, **attacker).status_code == 429
    # The editor, behind the same proxy but from their own address, is not locked out.
    editor = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.10"}
    assert log_in(client, **editor).status_code == 302


def test_lock_lifts_after_the_cool_off(client, staff, settings):
    for _ in range(5):
        log_in(client, "wrong")
    assert log_in(client).status_code == 429
    # Fifteen minutes and a second later.
    AccessAttempt.objects.update(
        attempt_time=dt.datetime.now(dt.UTC) - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )
    assert log_in(client).status_code == 302
    assert in_admin(client)


def test_an_administrator_can_lift_a_lock(client, staff):
    for _ in range(5):
        log_in(client, "wrong")
    assert log_in(client).status_code == 429
    call_command("axes_reset_username", "eddie", stdout=io.StringIO())
    assert log_in(client).status_code == 302


def test_a_successful_login_resets_the_count(client, staff):
    for _ in range(4):
        log_in(client, "wrong")
    assert log_in(client).status_code == 302
    client.post("/admin/logout/")
    for _ in range(4):
        assert log_in(client, "wrong").status_code == 200
    assert log_in(client).status_code == 302


# --- two-factor login (django-otp, TOTP) -------------------------------------------------------
def test_staff_without_a_device_log_in_with_the_password(client, staff):
    page = client.get(LOGIN).content.decode()
    assert "Authentication code" in page
    assert "Superusers always need one; other staff once they have set up two-factor login" in page
    assert log_in(client).status_code == 302
    assert in_admin(client)


def test_staff_with_a_device_need_the_current_code(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)

    response = log_in(client)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter the 6-digit code from your authenticator app, or a backup code." in page
    assert not in_admin(client)

    wrong = f"{(int(token_for(device)) + 1) % 10**6:06d}"
    response = log_in(client, token=wrong)
    assert response.status_code == 200
    assert not in_admin(client)

    # django-otp's own throttle: after a wrong code, the next try waits a second.
    response = log_in(client, token=token_for(device))
    assert "Verification temporarily disabled" in response.content.decode()
    time.sleep(1.1)
    response = log_in(client, token=token_for(device))
    assert response.status_code == 302
    assert in_admin(client)


def test_a_code_without_the_password_gets_nobody_in(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    assert log_in(client, "wrong", token=token_for(device)).status_code == 200
    assert not in_admin(client)


def test_an_unconfirmed_device_does_not_lock_its_owner_out(client, staff):
    TOTPDevice.objects.create(user=staff, name="half set up", confirmed=False)
    assert log_in(client).status_code == 302
    assert in_admin(client)


def test_add_totp_device_prints_a_uri_and_qr_that_an_app_can_use(client, staff):
    out = io.StringIO()
    call_command("add_totp_device", "eddie", stdout=out)
    output = out.getvalue()

    uri = next(line for line in output.splitlines() if line.startswith("otpauth://"))
    parts = urlsplit(uri)
    assert parts.netloc == "totp"
    assert parts.path == "/Kazakhstan-Russia%20timeline%3Aeddie"
    query = parse_qs(parts.query)
    assert query["issuer"] == ["Kazakhstan-Russia timeline"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    assert "█" in output or "▀" in output  # the QR code, drawn in the terminal

    # What an authenticator app does with the URI: derive codes from its secret.
    secret = base64.b32decode(query["secret"][0] + "=" * (-len(query["secret"][0]) % 8))
    code = f"{totp(secret, step=30, t0=0, digits=6):06d}"
    assert log_in(client).status_code == 200  # the password alone no longer does
    assert log_in(client, token=code).status_code == 302
    assert in_admin(client)


def test_add_totp_device_for_an_unknown_user_fails():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named"):
        call_command("add_totp_device", "nobody", stdout=io.StringIO())


# --- superusers: two-factor login required (ADMIN_REQUIRE_2FA) ---------------------------------
def test_superusers_need_two_factor_login_by_default(settings):
    assert settings.ADMIN_REQUIRE_2FA is True


def test_a_superuser_without_a_device_is_refused_until_they_have_one(client, superuser):
    response = log_in_chief(client)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Superusers must use two-factor login" in page
    assert "python manage.py add_totp_device chief" in page
    assert not in_admin(client)
    assert log_in_chief(client, token="123456").status_code == 200
    assert not in_admin(client)

    device = TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    assert log_in_chief(client).status_code == 200  # the password alone never does
    assert not in_admin(client)
    assert log_in_chief(client, token=token_for(device)).status_code == 302
    assert in_admin(client)


def test_a_superuser_session_not_verified_by_a_device_is_not_let_in(client, superuser):
    # A session from before two-factor login was required, or from a password-only login.
    client.force_login(superuser)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    assert not in_admin(client)


def test_a_backup_code_gets_a_superuser_in_once(client, superuser):
    out = io.StringIO()
    call_command("add_totp_device", "chief", "--no-qr", stdout=out)
    codes = backup_codes(out.getvalue())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "not shown again" in out.getvalue()

    assert log_in_chief(client, token=codes[0]).status_code == 302
    assert in_admin(client)
    client.post("/admin/logout/")
    # As typed from a printout: upper case, with a space.
    assert log_in_chief(client, token=f" {codes[1].upper()} ").status_code == 302
    assert in_admin(client)
    client.post("/admin/logout/")

    response = log_in_chief(client, token=codes[0])
    assert response.status_code == 200
    assert "That code is wrong or has expired" in response.content.decode()
    assert not in_admin(client)


def test_new_backup_codes_replace_the_old_ones(client, superuser):
    first = io.StringIO()
    call_command("add_totp_device", "chief", "--no-qr", stdout=first)
    second = io.StringIO()
    call_command("add_totp_device", "chief", "--backup-codes", stdout=second)
    assert "otpauth://" not in second.getvalue()  # no new authenticator device
    assert TOTPDevice.objects.filter(user=superuser).count() == 1
    old, new = backup_codes(first.getvalue()), backup_codes(second.getvalue())
    assert len(new) == 10 and not set(old) & set(new)

    assert log_in_chief(client, token=old[2]).status_code == 200
    assert not in_admin(client)
    time.sleep(1.1)  # django-otp's throttle after a wrong code
    assert log_in_chief(client, token=new[2]).status_code == 302
    assert in_admin(client)


def test_staff_who_are_not_superusers_still_log_in_with_the_password_alone(client, staff):
    assert not staff.is_superuser
    assert log_in(client).status_code == 302
    assert in_admin(client)


def test_without_the_requirement_a_superuser_logs_in_with_the_password(client, superuser, settings):
    settings.ADMIN_REQUIRE_2FA = False
    assert log_in_chief(client).status_code == 302
    assert in_admin(client)
