"""The admin site: password, then a TOTP code for staff who have set up a device.

Two-factor login is optional: staff without a confirmed device log in with their password
alone; staff with one cannot get in without a current code.
"""

import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_otp import devices_for_user, user_has_device
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class OptionalOTPAuthenticationForm(OTPAdminAuthenticationForm):
    """Ask for a code only from users who have a confirmed device."""

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "Enter the 6-digit code from your authenticator app.",
        "invalid_token": "That code is wrong or has expired: enter the current one.",
    }

    def clean_otp(self, user) -> None:
        if user is None or not user_has_device(user):
            return
        super().clean_otp(user)

    def _chosen_device(self, user):
        """Use the user's one device when none was picked (the usual case: one phone)."""
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, for_verify=True))
            if len(devices) == 1:
                device = devices[0]
        return device


class TimelineAdminSite(OTPAdminSite):
    login_form = OptionalOTPAuthenticationForm
    login_template = "admin/otp_login.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def has_permission(self, request: HttpRequest) -> bool:
        """Let staff in once verified by their device, or by password if they have none."""
        user = request.user
        return AdminSite.has_permission(self, request) and (
            user.is_verified() or not user_has_device(user)
        )


class AddressAndUsernameLockout(AxesDatabaseHandler):
    """Lock a username from one address after AXES_FAILURE_LIMIT failures, and from every
    address after AXES_USERNAME_FAILURE_LIMIT, so a guesser who rotates addresses is stopped
    too, while one address's failures alone cannot lock the user out everywhere.
    """

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """Count the failures that matter against the one limit django-axes compares with."""
        from_this_address, from_anywhere = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if from_anywhere >= settings.AXES_USERNAME_FAILURE_LIMIT:
            return max(from_this_address, get_failure_limit(request, credentials))
        return from_this_address


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """Answer a locked login (django-axes) with a 429 page in the admin's own look."""
    cool_off = get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": "Login locked",
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "username_failure_limit": settings.AXES_USERNAME_FAILURE_LIMIT,
        "cooloff_minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "admin/locked_out.html", context, status=429)
