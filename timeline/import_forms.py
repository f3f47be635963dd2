"""The import form: the file and what the reader should assume of it."""

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from . import languages
from .imports import rows
from .models import validate_iana_zone

DEFAULT_ZONE = "Asia/Almaty"

ENCODINGS = (
    ("", _("Detect (UTF-8 or Windows-1251)")),
    ("utf-8", _("UTF-8")),
    ("cp1251", _("Windows-1251")),
)


def megabytes(size: int) -> str:
    """Return *size* bytes in megabytes, as the limit is shown to editors ("5", "2.5")."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


class UploadForm(forms.Form):
    """Choose an .ics or CSV file and say how to read what it leaves unsaid."""

    file = forms.FileField(
        label=_("File"),
        help_text=_("An iCalendar (.ics) file or a CSV spreadsheet."),
    )
    language = forms.ChoiceField(
        label=_("Language of untagged texts"),
        choices=[(code, languages.NAMES[code]) for code in languages.CODES],
        help_text=_("Texts the file does not mark with a language are read as this one."),
    )
    timezone = forms.CharField(
        label=_("Time zone of floating times"),
        max_length=64,
        initial=DEFAULT_ZONE,
        validators=[validate_iana_zone],
        help_text=_("IANA name, such as Asia/Almaty; used for times given without a zone."),
    )
    encoding = forms.ChoiceField(
        label=_("CSV encoding"),
        choices=ENCODINGS,
        required=False,
        help_text=_("Only for CSV files; .ics files are always UTF-8."),
    )

    def __init__(self, *args: Any, language: str = languages.DEFAULT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].initial = languages.supported(language) or languages.DEFAULT

    def clean_file(self) -> UploadedFile:
        """Refuse a file over the size limit before reading a byte of it."""
        upload: UploadedFile = self.cleaned_data["file"]
        limit = rows.max_bytes()
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than the limit of %(limit)s MB."),
                code="too_large",
                params={"limit": megabytes(limit)},
            )
        return upload

    def options(self) -> rows.ReadOptions:
        """Return the reading options the editor chose."""
        data = self.cleaned_data
        return rows.ReadOptions(
            language=data["language"], timezone=data["timezone"], encoding=data["encoding"]
        )
