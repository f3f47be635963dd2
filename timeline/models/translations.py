"""What an editor writes in three languages, and how far each language has got."""

from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .. import languages
from ..l10n import language_or_active


class TranslationState(models.TextChoices):
    """A language's text of one record, as its editors left it ("missing" is never stored)."""

    DRAFT = "draft", _("Draft")
    REVIEWED = "reviewed", _("Reviewed")


MISSING = "missing"


def state_field(language: str) -> str:
    """Return the name of the field that holds a record's state in *language*."""
    return f"translation_{language}"


def text_field(field: str, language: str) -> str:
    """Return the column that holds *field* in *language* ('title', 'ru' → 'title_ru')."""
    return f"{field}_{language.replace('-', '_')}"


class Translated(models.Model):
    """A record whose reader-facing texts exist in kk, ru and en, each draft or reviewed."""

    # The fields written for readers, one column per language (timeline/translation.py).
    translated_fields: ClassVar[tuple[str, ...]] = ()

    translation_kk = models.CharField(
        _("Kazakh text"),
        max_length=10,
        choices=TranslationState.choices,
        default=TranslationState.DRAFT,
    )
    translation_ru = models.CharField(
        _("Russian text"),
        max_length=10,
        choices=TranslationState.choices,
        default=TranslationState.DRAFT,
    )
    translation_en = models.CharField(
        _("English text"),
        max_length=10,
        choices=TranslationState.choices,
        default=TranslationState.DRAFT,
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        """Require the record's name or title in at least one language."""
        super().clean()
        first = self.translated_fields[0]
        if not any(self.text_in(first, code) for code in languages.CODES):
            raise ValidationError(
                {
                    text_field(first, code): _("Write this in at least one language.")
                    for code in languages.CODES
                }
            )

    def text_in(self, field: str, language: str) -> str:
        """Return *field* as written in *language*, without falling back ('' when missing)."""
        return getattr(self, text_field(field, language)) or ""

    def missing_in(self, language: str) -> list[str]:
        """Return the fields another language has that *language* lacks."""
        return [
            field
            for field in self.translated_fields
            if not self.text_in(field, language)
            and any(self.text_in(field, other) for other in languages.CODES)
        ]

    def translation_state(self, language: str) -> str:
        """Return 'missing', 'draft' or 'reviewed' for this record's text in *language*."""
        if self.missing_in(language) or not any(
            self.text_in(field, language) for field in self.translated_fields
        ):
            return MISSING
        return str(getattr(self, state_field(language)))


def needs_translation(language: str) -> models.Q:
    """Select records whose text in *language* is missing or not yet reviewed."""
    return ~models.Q(**{state_field(language): TranslationState.REVIEWED})


def needs_translation_of(fields: tuple[str, ...], language: str) -> models.Q:
    """Select records lacking *language* where another language has text, or not reviewed."""
    missing = models.Q()
    for field in fields:
        column = text_field(field, language)
        empty = models.Q(**{f"{column}__isnull": True}) | models.Q(**{column: ""})
        elsewhere = models.Q()
        for other in languages.CODES:
            if other != language:
                other_column = text_field(field, other)
                elsewhere |= models.Q(**{f"{other_column}__gt": ""})
        missing |= empty & elsewhere
    return missing | needs_translation(language)


@dataclass(frozen=True)
class Shown:
    """A text as a reader is shown it, and the language it is actually in."""

    text: str
    language: str
    page_language: str

    def __str__(self) -> str:
        return self.text

    @property
    def lang_attribute(self) -> SafeString:
        """Return ' lang="ru"' when the text is not in the page's language, else nothing."""
        if self.language == self.page_language or not self.text:
            return SafeString("")
        return format_html(' lang="{}"', self.language)

    @property
    def is_fallback(self) -> bool:
        """Tell whether the reader asked for another language than the text is in."""
        return bool(self.text) and self.language != self.page_language


def shown(record: Any, field: str, language: str | None = None) -> Shown:
    """Return *field* of *record* in the reader's language, else in its next fallback."""
    wanted = language_or_active(language)
    for candidate in languages.reading_order(wanted):
        text = getattr(record, text_field(field, candidate), None)
        if text:
            return Shown(str(text), candidate, wanted)
    return Shown("", wanted, wanted)
