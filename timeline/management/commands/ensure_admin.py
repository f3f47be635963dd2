"""Create an admin account with a fresh random password if no superuser exists yet."""

import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser with a random password (printed once) unless one exists."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args: Any, username: str, email: str, **options: Any) -> None:
        users = get_user_model()
        existing = users.objects.filter(is_superuser=True).first()
        if existing:
            self.stdout.write(
                f"Admin account exists: log in as “{existing.get_username()}”. "
                f"Forgot the password? python manage.py changepassword {existing.get_username()}"
            )
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin account. Log in at /admin/ as “{username}” "
                f"with password: {password}  (shown once; change it in the admin)"
            )
        )
