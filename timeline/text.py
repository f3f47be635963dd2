"""Rules for text that people type: one-line and multi-line fields, their limits and checks.

Everything typed is stored in Unicode NFC (so "é" typed as e + U+0301 and as U+00E9 are the same
text), may hold any script in either direction, and is escaped where it is shown. What is refused:
line breaks in one-line fields (they would end up in iCalendar properties and mail headers), and
control characters (C0, DEL and C1) anywhere, except tab and newline in multi-line text.
"""

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# Long enough for any description an editor writes; a megabyte pasted by mistake is refused.
TEXT_MAX_LENGTH = 20_000
SUMMARY_MAX_LENGTH = 2_000

# Characters that break a line, in any of the ways parsers recognise.
LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Control characters other than the line breaks above (those get their own message).
CONTROLS = re.compile("[\x00-\x09\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
MULTILINE_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def normalise(value: str, multiline: bool = False) -> str:
    """Return *value* in NFC, with every CR LF or lone CR of multi-line text made a LF."""
    value = unicodedata.normalize("NFC", value)
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def validate_single_line(value: str) -> None:
    """Refuse a line break in a one-line field."""
    if value and LINE_BREAKS.search(value):
        raise ValidationError(_("Keep this on one line: remove the line break."), code="line_break")


def validate_no_controls(value: str) -> None:
    """Refuse control characters (C0, DEL, C1) in one-line text."""
    _refuse(CONTROLS, value)


def validate_no_multiline_controls(value: str) -> None:
    """Refuse control characters other than tab and newline in multi-line text."""
    _refuse(MULTILINE_CONTROLS, value)


def _refuse(pattern: re.Pattern[str], value: str) -> None:
    found = pattern.search(value or "")
    if found:
        raise ValidationError(
            _("Remove the invisible control character %(char)s (character %(position)d)."),
            code="control_character",
            params={"char": _describe(found.group()), "position": found.start() + 1},
        )


# RFC 5321: a path holds at most 256 octets with its angle brackets, a local part at most 64.
EMAIL_MAX_LENGTH, EMAIL_LOCAL_MAX_LENGTH = 254, 64


def validate_email_local_part(value: str) -> None:
    """Refuse an address whose part before the @ is longer than RFC 5321 allows."""
    local, _at, _domain = (value or "").rpartition("@")
    # An address over the whole limit gets that one message, not two.
    if len(local) > EMAIL_LOCAL_MAX_LENGTH and len(value) <= EMAIL_MAX_LENGTH:
        raise ValidationError(
            _("The part before the @ can be at most %(limit)d characters long."),
            code="local_part_too_long",
            params={"limit": EMAIL_LOCAL_MAX_LENGTH},
        )


class OneLineField(models.CharField[str, str]):
    """A CharField stored in NFC that refuses line breaks and control characters."""

    default_validators = [validate_single_line, validate_no_controls]

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return normalise(value) if isinstance(value, str) else value


class LongTextField(models.TextField[str, str]):
    """A TextField stored in NFC with a length limit, refusing controls but tab and newline."""

    def __init__(self, *args: Any, max_length: int = TEXT_MAX_LENGTH, **kwargs: Any) -> None:
        kwargs["max_length"] = max_length
        super().__init__(*args, **kwargs)

    @property
    def validators(self) -> list[Callable[[Any], None]]:
        # TextField leaves max_length to forms; enforce it here too, with words a person reads.
        limit = MaxLengthValidator(
            self.max_length,
            message=_("Keep this to at most %(limit_value)d characters (it has %(show_value)d)."),
        )
        return [*super().validators, limit, validate_no_multiline_controls]

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return normalise(value, multiline=True) if isinstance(value, str) else value
