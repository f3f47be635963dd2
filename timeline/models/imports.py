"""Uploaded files waiting between their dry run and the editor's confirmation."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportBatch(models.Model):
    """One uploaded file, kept from its dry run until it is applied (and after, as a record)."""

    class Format(models.TextChoices):
        ICS = "ics", _("iCalendar (.ics)")
        CSV = "csv", _("CSV spreadsheet")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="import_batches",
        verbose_name=_("user"),
    )
    filename = models.CharField(_("file name"), max_length=255)
    format = models.CharField(_("format"), max_length=3, choices=Format.choices)
    content = models.BinaryField(_("content"))
    # What the editor chose on the form: language, time zone of floating times, CSV encoding.
    language = models.CharField(_("language"), max_length=8)
    timezone = models.CharField(_("time zone"), max_length=64)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    # The digest of the dry run the editor confirmed, and when it was written.
    applied_digest = models.CharField(_("applied dry run"), max_length=64, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename
