"""Re-publish every calendar feed, after recomputing UTC times (for a tzdata update or a deploy)."""

from typing import Any

from django.core.management.base import BaseCommand

from timeline.feeds import publishing as feeds


class Command(BaseCommand):
    help = "Recompute every event's UTC times with the installed tzdata and re-publish all feeds."

    def handle(self, *args: Any, **options: Any) -> None:
        keys = feeds.publish_everything()
        self.stdout.write(self.style.SUCCESS(f"Published {len(keys)} feed(s)."))
