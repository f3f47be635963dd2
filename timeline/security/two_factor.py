"""Who must log in to the admin with a second factor, and their one-time backup codes."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

BACKUP_CODE_COUNT = 10
BACKUP_DEVICE_NAME = "Backup codes"


def requires_two_factor(user: AbstractBaseUser) -> bool:
    """Say whether *user* may enter the admin only after a TOTP or backup code."""
    return bool(settings.ADMIN_REQUIRE_2FA and getattr(user, "is_superuser", False))


def is_backup_code(token: str, totp_digits: int = 6) -> bool:
    """Tell a backup code from an authenticator app's code by its shape."""
    return not (token.isdigit() and len(token) == totp_digits)


@transaction.atomic
def issue_backup_codes(user: AbstractBaseUser, count: int = BACKUP_CODE_COUNT) -> list[str]:
    """Give *user* a new set of one-time backup codes; earlier ones stop working."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.confirmed = True
    device.save()
    device.token_set.all().delete()
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)
