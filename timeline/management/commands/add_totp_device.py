"""Give a staff user a TOTP device (authenticator app) and print how to add it to the app."""

import io

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Add a confirmed TOTP device for USERNAME, so the admin asks them for a code after "
        "the password. Prints the otpauth:// URI and its QR code to scan."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Authenticator app", help="Device name.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Remove the user's other TOTP devices (a lost or replaced phone).",
        )
        parser.add_argument("--no-qr", action="store_true", help="Print the URI only.")

    def handle(self, *args, username: str, name: str, replace: bool, no_qr: bool, **opts):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named “{username}”.")
        with transaction.atomic():
            if replace:
                TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        uri = device.config_url
        if not user.is_staff:
            self.stderr.write(f"Note: “{username}” is not staff; the admin is closed to them.")
        self.stdout.write(f"Added TOTP device “{name}” for “{username}”.")
        self.stdout.write("Add it to an authenticator app with this URI (keep it secret):")
        self.stdout.write(uri)
        if not no_qr:
            qr = io.StringIO()
            segno.make(uri, error="m").terminal(out=qr, compact=True)
            self.stdout.write("Or scan this QR code:")
            self.stdout.write(qr.getvalue())
        self.stdout.write("From now on the admin asks this user for the app's 6-digit code.")
