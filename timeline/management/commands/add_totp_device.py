"""Give a staff user a TOTP device (authenticator app) and backup codes, and print them once."""

import io
from argparse import ArgumentParser
from typing import Any

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from timeline.security.two_factor import BACKUP_CODE_COUNT, issue_backup_codes


class Command(BaseCommand):
    help = (
        "Add a confirmed TOTP device for USERNAME, so the admin asks them for a code after "
        "the password. Prints the otpauth:// URI and its QR code to scan, and "
        f"{BACKUP_CODE_COUNT} one-time backup codes (a new set: earlier ones stop working)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Authenticator app", help="Device name.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Remove the user's other TOTP devices (a lost or replaced phone).",
        )
        parser.add_argument("--no-qr", action="store_true", help="Print the URI only.")
        parser.add_argument(
            "--backup-codes",
            action="store_true",
            help="Only print a new set of backup codes (the old ones used up or lost).",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        name: str,
        replace: bool,
        no_qr: bool,
        backup_codes: bool,
        **opts: Any,
    ) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named “{username}”.")
        if not user.is_staff:
            self.stderr.write(f"Note: “{username}” is not staff; the admin is closed to them.")
        if backup_codes:
            self.write_codes(issue_backup_codes(user))
            return
        with transaction.atomic():
            if replace:
                TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
            codes = issue_backup_codes(user)
        uri = device.config_url
        self.stdout.write(f"Added TOTP device “{name}” for “{username}”.")
        self.stdout.write("Add it to an authenticator app with this URI (keep it secret):")
        self.stdout.write(uri)
        if not no_qr:
            qr = io.StringIO()
            segno.make(uri, error="m").terminal(out=qr, compact=True)
            self.stdout.write("Or scan this QR code:")
            self.stdout.write(qr.getvalue())
        self.stdout.write("From now on the admin asks this user for the app's 6-digit code.")
        self.write_codes(codes)

    def write_codes(self, codes: list[str]) -> None:
        """Print the backup codes, the only time anyone sees them."""
        self.stdout.write(
            "Backup codes, for when the phone is not at hand: type one in place of the app's "
            "code; each works once. Keep them somewhere safe: they are not shown again, and "
            "earlier backup codes no longer work."
        )
        for code in codes:
            self.stdout.write(f"  {code}")
