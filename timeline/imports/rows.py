"""What a reader makes of a file: the events it gives and the rows it refuses."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.conf import settings

# The values an `Incoming` may carry, by key. Texts are per language ("title_kk", "title_ru",
# "title_en", and so for summary and description); references are by slug (place, track,
# topics, participants) or, for part_of, by the whole's UID or slug; countries are ISO codes.
TEXT_FIELDS: Final = ("title", "summary", "description")
SCALAR_FIELDS: Final = (
    "slug",
    "kind",
    "status",
    "precision",
    "start_date",  # datetime.date
    "start_time",  # datetime.time | None
    "end_date",  # datetime.date | None
    "end_time",  # datetime.time | None
    "timezone",  # an IANA name, or "" for the place's
    "place",  # a place's slug, or ""
    "track",  # a track's slug, or ""
    "part_of",  # the UID or slug of the event this one is part of, or ""
    "baseline_date",  # datetime.date | None
    "baseline_precision",  # a precision code, or ""
    "published",  # bool
)
LIST_FIELDS: Final = ("countries", "topics", "participants")  # tuples of codes or slugs


@dataclass(frozen=True)
class Incoming:
    """One event as a file gives it, before it is matched to the record."""

    # Where it is in the file: the line of its BEGIN:VEVENT, or its CSV row (the header is 1).
    line: int
    # The calendar UID the file gives it ("" when the file gives none: CSV rows may match by
    # their "slug" value instead).
    uid: str
    # Only the fields the file gives: a field it does not carry is left as it is.
    values: Mapping[str, Any]
    # What the reader decided that the editor should know, e.g. which zone a Windows name
    # was read as; shown beside the row in the dry run.
    notes: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Refused:
    """A row the reader could not take, with the reason and the offending value."""

    line: int
    reason: str
    value: str = ""


Row = Incoming | Refused


@dataclass(frozen=True)
class ReadOptions:
    """What the editor tells the reader on the import form."""

    # The language of texts the file does not label (iCalendar's LANGUAGE parameter wins).
    language: str
    # The IANA zone of floating times (iCalendar times with neither TZID nor Z).
    timezone: str
    # CSV only: a Python codec name, or "" to detect UTF-8 (with or without BOM) or cp1251.
    encoding: str = ""


@dataclass(frozen=True)
class Reading:
    """A whole file read: its rows in file order."""

    format: str  # "ics" or "csv"
    rows: Sequence[Row]

    @property
    def incoming(self) -> list[Incoming]:
        """Return the rows that were read."""
        return [row for row in self.rows if isinstance(row, Incoming)]


class FileRefused(Exception):
    """The whole file is refused: nothing from it is imported."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def max_rows() -> int:
    """Return how many events one file may give (IMPORT_MAX_ROWS)."""
    return int(settings.IMPORT_MAX_ROWS)


def max_bytes() -> int:
    """Return how large an uploaded file may be (IMPORT_MAX_BYTES)."""
    return int(settings.IMPORT_MAX_BYTES)
