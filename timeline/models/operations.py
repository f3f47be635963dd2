"""What the running service records about itself (not part of the record)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """The last time a background process proved it was alive (shown by /healthz)."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    beat_at = models.DateTimeField(_("beat at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return _("%(name)s at %(time)s") % {
            "name": self.name,
            "time": f"{self.beat_at:%Y-%m-%d %H:%M:%S}",
        }
