"""The admin site: password, then a TOTP code (or a one-time backup code).

Superusers always need the code when ADMIN_REQUIRE_2FA is on (production's default), and
cannot get in before they have a device. Other staff need it once they have a confirmed device;
without one they log in with their password alone.
"""

import math
from typing import Any, cast

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy
from django_otp import devices_for_user, user_has_device
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.forms import BLANK_CHOICE_DASH
from django_otp.plugins.otp_static.models import StaticDevice

from ..metrics import counters
from .two_factor import is_backup_code, requires_two_factor


class OptionalOTPAuthenticationForm(OTPAdminAuthenticationForm):  # type: ignore[misc]  # django-otp ships no types
    """Ask for a code from superusers and from staff who have a confirmed device."""

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": gettext_lazy(
            "Enter the 6-digit code from your authenticator app, or a backup code."
        ),
        "invalid_token": gettext_lazy("That code is wrong or has expired: enter the current one."),
        # django-otp's own words, here so that our catalogue gives them in Russian and Kazakh.
        "n_failed_attempts": ngettext_lazy(
            "Verification temporarily disabled because of %(failure_count)d failed attempt, "
            "please try again soon.",
            "Verification temporarily disabled because of %(failure_count)d failed attempts, "
            "please try again soon.",
            "failure_count",
        ),
        "verification_not_allowed": gettext_lazy("Verification of the token is currently disabled"),
        "device_required": gettext_lazy("Please select a device."),
        "device_missing": gettext_lazy(
            "Superusers must use two-factor login, and “%(username)s” has no authenticator "
            "device yet. Ask someone with access to the server to run "
            "“python manage.py add_totp_device %(username)s”, add the device it prints to your "
            "authenticator app, keep the backup codes it prints, then log in with the app's code."
        ),
    }

    def clean_otp(self, user: AbstractBaseUser | None) -> None:
        if user is None:
            return
        # Backup codes are read off paper: any case, spaces allowed.
        token = self.cleaned_data.get("otp_token") or ""
        self.cleaned_data["otp_token"] = "".join(token.split()).lower()
        if not user_has_device(user):
            if requires_two_factor(user):
                raise forms.ValidationError(
                    self.otp_error_messages["device_missing"],
                    code="device_missing",
                    params={"username": user.get_username()},
                )
            return
        super().clean_otp(user)

    def _chosen_device(self, user: AbstractBaseUser) -> Any:
        """Pick the device the code is for: backup codes by their shape, else the one app."""
        devices = list(devices_for_user(user, for_verify=True))
        backup = [device for device in devices if isinstance(device, StaticDevice)]
        apps = [device for device in devices if not isinstance(device, StaticDevice)]
        token = self.cleaned_data.get("otp_token")
        if token and backup and is_backup_code(token):
            return backup[0]
        device = super()._chosen_device(user)
        if device is None and len(apps or backup) == 1:
            device = (apps or backup)[0]
        return device

    @staticmethod
    def device_choices(user: AbstractBaseUser) -> list[tuple[str, str]]:
        """Offer a choice between authenticator apps only: backup codes are recognised."""
        choices = BLANK_CHOICE_DASH + [
            (device.persistent_id, device.name)
            for device in devices_for_user(user)
            if not isinstance(device, StaticDevice)
        ]
        return cast(list[tuple[str, str]], choices)


class TimelineAdminSite(OTPAdminSite):  # type: ignore[misc]  # django-otp ships no types
    login_form = OptionalOTPAuthenticationForm
    login_template = "admin/otp_login.html"
    site_title = gettext_lazy("Timeline admin")
    index_title = gettext_lazy("The record")

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    @property
    def site_header(self) -> str:
        return str(settings.SITE_NAME)

    def has_permission(self, request: HttpRequest) -> bool:
        """Let staff in once verified by a device, or by password if none is needed or set up."""
        user: Any = request.user  # OTPMiddleware gave it is_verified()
        if not AdminSite.has_permission(self, request):
            return False
        if user.is_verified():
            return True
        return not requires_two_factor(user) and not user_has_device(user)


class AddressAndUsernameLockout(AxesDatabaseHandler):  # type: ignore[misc]  # django-axes ships no types
    """Lock a username from one address after AXES_FAILURE_LIMIT failures, and from every
    address after AXES_USERNAME_FAILURE_LIMIT, so a guesser who rotates addresses is stopped
    too, while one address's failures alone cannot lock the user out everywhere.
    """

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """Count the failures that matter against the one limit django-axes compares with."""
        from_this_address: int
        from_anywhere: int
        from_this_address, from_anywhere = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if from_anywhere >= settings.AXES_USERNAME_FAILURE_LIMIT:
            limit: int = get_failure_limit(request, credentials)
            return max(from_this_address, limit)
        return from_this_address

    def user_login_failed(
        self,
        sender: Any,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        """Record the failure as django-axes does, and count a lockout if this one began it."""
        # Asked before: failures during a lockout are recorded as well (and lock out again).
        already = request is not None and self.is_locked(request, credentials)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if not already and getattr(request, "axes_locked_out", False):
            counters.increment(counters.ADMIN_LOCKOUTS)


def locked_out(
    request: HttpRequest,
    response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """Answer a locked login (django-axes) with a 429 page in the admin's own look."""
    counters.increment(counters.ADMIN_LOCKED_OUT)
    cool_off = get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Login locked"),
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "username_failure_limit": settings.AXES_USERNAME_FAILURE_LIMIT,
        "cooloff_minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "admin/locked_out.html", context, status=429)
