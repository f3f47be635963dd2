"""App configuration for the timeline."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimelineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "timeline"
    verbose_name = _("Timeline")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
