"""Events as CSV, read and written alike: a file exported and imported again changes nothing.

COLUMNS, in this order, for good (new ones go at the end):

    uid, slug, kind, status, precision, start_date, start_time, end_date, end_time, timezone,
    place, track, part_of, countries, topics, participants, baseline_date, baseline_precision,
    published, title_kk, title_ru, title_en, summary_kk, summary_ru, summary_en,
    description_kk, description_ru, description_en

- kind, status, precision and baseline_precision are the stored codes ("visit", "tentative",
  "day"), never their labels.
- Dates are ISO (2025-11-11); the reader also takes 11.11.2025 and 1.2.2025 as Russian Excel
  writes them. Times are HH:MM, or HH:MM:SS when there are seconds.
- timezone is an IANA name (Asia/Almaty), or empty for the place's.
- place, track, topics and participants are slugs; part_of is the slug of the whole event
  (the reader also passes on a calendar UID there); countries are ISO 3166 codes. Lists are
  separated by commas: "KZ,RU".
- published is yes or no (the reader also takes true/false, 1/0, да/нет, иә/жоқ).

KEY: a row matches an event by `uid` (the event's calendar UID, `Event.calendar_uid`) when it
gives one, else by `slug`; a row with neither is refused, so that importing the file again
finds the same event.

An empty cell means an empty value (no time, no place, no text); only a column left out of the
file leaves that field of the events as it is. Files are written as UTF-8 with a BOM (so that
Excel opens them right), comma-separated; the reader takes UTF-8 with or without a BOM, UTF-16
with a BOM (Excel's "Unicode text") or Windows-1251, separated by commas, semicolons or tabs.
"""

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from django.core.validators import slug_re
from django.db import models
from django.utils.translation import gettext as _
from django_countries import countries as known_countries

from .. import languages, text, timing
from ..models import Event, Precision
from .rows import FileRefused, Incoming, Reading, ReadOptions, Refused, Row, max_rows

if TYPE_CHECKING:
    import _csv

FORMAT: Final = "csv"

COLUMNS: Final = (
    "uid",
    "slug",
    "kind",
    "status",
    "precision",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "timezone",
    "place",
    "track",
    "part_of",
    "countries",
    "topics",
    "participants",
    "baseline_date",
    "baseline_precision",
    "published",
    "title_kk",
    "title_ru",
    "title_en",
    "summary_kk",
    "summary_ru",
    "summary_en",
    "description_kk",
    "description_ru",
    "description_en",
)
KEY_COLUMNS: Final = ("uid", "slug")
DELIMITERS: Final = (",", ";", "\t")
YES: Final = frozenset({"yes", "true", "1", "да", "иә", "ия"})
NO: Final = frozenset({"no", "false", "0", "нет", "жоқ"})

ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?")


class BadCell(ValueError):
    """A cell the reader cannot take; the message says what to write instead."""


# --- reading ----------------------------------------------------------------------------------


def read_csv(data: bytes, options: ReadOptions) -> Reading:
    """Read a CSV file of events: one row each, refused rows saying what is wrong."""
    content = decode(data, options.encoding)
    if "\x00" in content:
        line = content.count("\n", 0, content.index("\x00")) + 1
        raise FileRefused(_("The file holds NUL characters: it is not a text file."), line=line)
    reader = csv.reader(
        io.StringIO(content, newline=""), delimiter=sniff_delimiter(content), strict=True
    )
    header: list[str] | None = None
    rows: list[Row] = []
    for number, record in records(reader):
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = read_header(record)
            continue
        if len(rows) >= max_rows():
            raise FileRefused(
                _("The file gives more than %(limit)d events; split it into smaller files.")
                % {"limit": max_rows()},
                line=number,
            )
        rows.append(read_row(number, header, record))
    if header is None:
        raise FileRefused(_("The file is empty: it has not even a header row."))
    return Reading(format=FORMAT, rows=rows)


def decode(data: bytes, encoding: str) -> str:
    """Return the file's text: in *encoding* if given, else UTF-8, UTF-16 (by BOM) or cp1251."""
    if encoding:
        tried = [encoding]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        tried = ["utf-16"]  # Excel's "Unicode text"
    else:
        tried = ["utf-8-sig", "cp1251"]
    for codec in tried:
        try:
            content = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        return content.removeprefix("\ufeff")
    raise FileRefused(
        _("The file is in no encoding the reader knows (%(tried)s); save it as UTF-8.")
        % {"tried": ", ".join(tried)}
    )


def sniff_delimiter(content: str) -> str:
    """Return the delimiter the header line uses most: comma, semicolon or tab."""
    first = next((line for line in io.StringIO(content, newline="") if line.strip()), "")
    return max(DELIMITERS, key=first.count)


def records(reader: "_csv._reader") -> Iterator[tuple[int, list[str]]]:
    """Yield each record with its row number (the first is 1), refusing a malformed file."""
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRefused(
                _("The file is not well-formed CSV near line %(line)d: %(error)s")
                % {"line": reader.line_num, "error": exc},
                line=reader.line_num,
            ) from exc
        number += 1
        yield number, record


def column_name(cell: str) -> str:
    """Return a header cell as a column name: 'Start Date ' -> 'start_date'."""
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def read_header(record: Sequence[str]) -> list[str]:
    """Return the column of each header cell ('' for unnamed ones), refusing unknown names."""
    names = [column_name(cell) for cell in record]
    unknown = [
        cell.strip()
        for cell, name in zip(record, names, strict=True)
        if name and name not in COLUMNS
    ]
    if unknown:
        raise FileRefused(
            _("Unknown columns: %(names)s. Known columns: %(known)s.")
            % {"names": ", ".join(unknown), "known": ", ".join(COLUMNS)},
            line=1,
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise FileRefused(
            _("Columns given twice: %(names)s.") % {"names": ", ".join(repeated)}, line=1
        )
    if not any(name in names for name in KEY_COLUMNS):
        raise FileRefused(
            _(
                "The file has neither a uid nor a slug column: give one, so that importing "
                "the file again finds the same events."
            ),
            line=1,
        )
    return names


def read_row(number: int, header: Sequence[str], record: Sequence[str]) -> Row:
    """Return the event a data row gives, or why it is refused."""
    cells = dict.fromkeys((name for name in header if name), "")
    for position, cell in enumerate(record):
        name = header[position] if position < len(header) else ""
        if name:
            cells[name] = cell
        elif cell.strip():
            return Refused(
                number, _("A value stands in a column without a name in the header."), cell
            )
    uid = cells.pop("uid", "").strip()
    values: dict[str, Any] = {}
    for name, cell in cells.items():
        try:
            values[name] = PARSERS[name](cell)
        except BadCell as exc:
            reason = _("Column “%(column)s”: %(problem)s") % {"column": name, "problem": exc}
            return Refused(number, reason, cell)
    if not uid and not values.get("slug"):
        return Refused(
            number,
            _("Give a uid or a slug, so that importing the file again finds the same event."),
        )
    return Incoming(line=number, uid=uid, values=values)


def parse_date(cell: str) -> dt.date | None:
    """Return the date of 2025-11-11 or 11.11.2025 (None for an empty cell)."""
    cell = cell.strip()
    if not cell:
        return None
    if found := ISO_DATE.fullmatch(cell):
        year, month, day = found.groups()
    elif found := DOTTED_DATE.fullmatch(cell):
        day, month, year = found.groups()
    else:
        raise BadCell(_("write a date as 2025-11-11 or 11.11.2025."))
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise BadCell(_("there is no such day.")) from None


def parse_required_date(cell: str) -> dt.date:
    """Return the date of a cell that must give one."""
    day = parse_date(cell)
    if day is None:
        raise BadCell(_("give a date, such as 2025-11-11."))
    return day


def parse_time(cell: str) -> dt.time | None:
    """Return the time of 09:30 or 09:30:15 (None for an empty cell)."""
    cell = cell.strip()
    if not cell:
        return None
    found = TIME.fullmatch(cell)
    if not found:
        raise BadCell(_("write a time as 09:30 or 09:30:15."))
    hour, minute, second, fraction = found.groups()
    try:
        return dt.time(
            int(hour), int(minute), int(second or 0), int((fraction or "0").ljust(6, "0"))
        )
    except ValueError:
        raise BadCell(_("there is no such time of day.")) from None


def choice(codes: Sequence[str], *, required: bool) -> Callable[[str], str]:
    """Return a parser of one of *codes* (or of an empty cell, unless *required*)."""

    def parse(cell: str) -> str:
        code = cell.strip().lower()
        if code in codes or (not code and not required):
            return code
        raise BadCell(
            _("give one of the codes %(codes)s (not their names).") % {"codes": ", ".join(codes)}
        )

    return parse


def parse_slug(cell: str) -> str:
    """Return a slug ('' for an empty cell)."""
    slug = cell.strip()
    if slug and not slug_re.fullmatch(slug):
        raise BadCell(_("a slug has only Latin letters, digits, hyphens and underscores."))
    return slug


def parse_reference(cell: str) -> str:
    """Return the slug or calendar UID of another event ('' for an empty cell)."""
    return cell.strip()


def items(cell: str) -> tuple[str, ...]:
    """Return the comma-separated items of a cell, each once, in the order given."""
    return tuple(dict.fromkeys(part.strip() for part in cell.split(",") if part.strip()))


def parse_slugs(cell: str) -> tuple[str, ...]:
    """Return the slugs of a list cell."""
    return tuple(parse_slug(slug) for slug in items(cell))


def parse_countries(cell: str) -> tuple[str, ...]:
    """Return the ISO codes of a list cell, upper-case."""
    codes = tuple(code.upper() for code in items(cell))
    for code in codes:
        if len(code) != 2 or known_countries.alpha2(code) != code:
            raise BadCell(
                _("“%(code)s” is not an ISO country code; write codes such as KZ,RU.")
                % {"code": code}
            )
    return codes


def parse_zone(cell: str) -> str:
    """Return an IANA zone name ('' for the place's)."""
    name = cell.strip()
    if name and not timing.is_iana_zone(name):
        raise BadCell(_("give an IANA time zone name such as Asia/Almaty, or leave it empty."))
    return name


def parse_published(cell: str) -> bool:
    """Return whether the cell says yes (an empty cell says no)."""
    word = cell.strip().casefold()
    if word in YES:
        return True
    if not word or word in NO:
        return False
    raise BadCell(_("write yes or no."))


def text_parser(multiline: bool) -> Callable[[str], str]:
    """Return a parser of text as the model stores it (NFC; LF line ends in long text)."""

    def parse(cell: str) -> str:
        return text.normalise(cell, multiline=multiline)

    return parse


PARSERS: Final[dict[str, Callable[[str], Any]]] = {
    "slug": parse_slug,
    "kind": choice(Event.Kind.values, required=True),
    "status": choice(Event.Status.values, required=True),
    "precision": choice(Precision.values, required=True),
    "start_date": parse_required_date,
    "start_time": parse_time,
    "end_date": parse_date,
    "end_time": parse_time,
    "timezone": parse_zone,
    "place": parse_slug,
    "track": parse_slug,
    "part_of": parse_reference,
    "countries": parse_countries,
    "topics": parse_slugs,
    "participants": parse_slugs,
    "baseline_date": parse_date,
    "baseline_precision": choice(Precision.values, required=False),
    "published": parse_published,
    **{
        f"{field}_{code}": text_parser(multiline=field != "title")
        for field in ("title", "summary", "description")
        for code in languages.CODES
    },
}


# --- writing ----------------------------------------------------------------------------------


def write_csv(events: Iterable[Event]) -> bytes:
    """Return the events as CSV: UTF-8 with a BOM, a header, then one row each."""
    if isinstance(events, models.QuerySet):
        events = events.select_related("place", "track", "part_of").prefetch_related(
            "topics", "participants"
        )
    return write_rows(event_cells(event) for event in events)


def write_rows(rows: Iterable[Sequence[str]]) -> bytes:
    """Return the header and *rows* as CSV bytes."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def event_cells(event: Event) -> list[str]:
    """Return an event's cells, in the order of COLUMNS."""
    return [
        event.calendar_uid,
        event.slug,
        event.kind,
        event.status,
        event.precision,
        format_date(event.start_date),
        format_time(event.start_time),
        format_date(event.end_date),
        format_time(event.end_time),
        event.timezone,
        event.place.slug if event.place else "",
        event.track.slug if event.track else "",
        event.part_of.slug if event.part_of else "",
        ",".join(country.code for country in event.countries),
        ",".join(sorted(topic.slug for topic in event.topics.all())),
        ",".join(sorted(actor.slug for actor in event.participants.all())),
        format_date(event.baseline_date),
        event.baseline_precision,
        "yes" if event.published else "no",
        *(
            event.text_in(field, code)
            for field in ("title", "summary", "description")
            for code in languages.CODES
        ),
    ]


def format_date(day: dt.date | None) -> str:
    """Return a date as ISO 8601, or '' for none."""
    return day.isoformat() if day else ""


def format_time(moment: dt.time | None) -> str:
    """Return a time as HH:MM, or HH:MM:SS when it has seconds ('' for none)."""
    if moment is None:
        return ""
    if moment.microsecond:
        return moment.isoformat()
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


# --- the published template -------------------------------------------------------------------

_EXAMPLE_NOTE: Final = {
    languages.KAZAKH: "Үлгі жол: ауыстырыңыз немесе жойыңыз.",
    languages.RUSSIAN: "Пример строки: замените или удалите.",
    languages.ENGLISH: "Example row: replace or delete.",
}
_TRACK_NOTE: Final = {
    languages.KAZAKH: "Кезеңге track бағанында өз жобасының slug-ы керек.",
    languages.RUSSIAN: "Этапу нужен slug его проекта в столбце track.",
    languages.ENGLISH: "A milestone needs the slug of its track in the track column.",
}
_EXAMPLE_PREFIX: Final = {
    languages.KAZAKH: "Мысал: ",
    languages.RUSSIAN: "Пример: ",
    languages.ENGLISH: "Example: ",
}
# kind: (kk, ru, en) title after the prefix, then the fields that show each column's format.
_EXAMPLES: Final[tuple[tuple[str, tuple[str, str, str], dict[str, str]], ...]] = (
    (
        Event.Kind.VISIT,
        ("сапар", "визит", "a visit"),
        {"start_date": "2030-03-11", "end_date": "2030-03-12", "countries": "KZ,RU"},
    ),
    (Event.Kind.MEETING, ("кездесу", "встреча", "a meeting"), {"start_date": "2030-04-15"}),
    (
        Event.Kind.TALKS,
        ("келіссөздер", "переговоры", "talks"),
        {
            "precision": Precision.MINUTE,
            "start_date": "2030-05-20",
            "start_time": "10:00",
            "end_date": "2030-05-20",
            "end_time": "12:30",
            "timezone": "Asia/Almaty",
        },
    ),
    (Event.Kind.SIGNING, ("қол қою", "подписание", "a signing"), {"start_date": "2030-06-10"}),
    (Event.Kind.SUMMIT, ("саммит", "саммит", "a summit"), {"start_date": "2030-09-16"}),
    (Event.Kind.OPENING, ("ашылу", "открытие", "an opening"), {"start_date": "2030-10-01"}),
    (
        Event.Kind.MILESTONE,
        ("кезең", "этап", "a milestone"),
        {
            "precision": Precision.MONTH,
            "start_date": "2030-12-01",
            "baseline_date": "2030-06-01",
            "baseline_precision": Precision.MONTH,
        },
    ),
    (
        Event.Kind.STATEMENT,
        ("мәлімдеме", "заявление", "a statement"),
        {"start_date": "2030-11-20"},
    ),
)


def template_cells(kind: str, titles: tuple[str, str, str], fields: dict[str, str]) -> list[str]:
    """Return one example row of the template, in the order of COLUMNS."""
    cells = dict.fromkeys(COLUMNS, "")
    cells.update(
        slug=f"example-{kind}",
        kind=kind,
        status=Event.Status.TENTATIVE,
        precision=Precision.DAY,
        published="no",
    )
    cells.update(fields)
    for code, title in zip(languages.CODES, titles, strict=True):
        cells[f"title_{code}"] = _EXAMPLE_PREFIX[code] + title
        cells[f"description_{code}"] = _EXAMPLE_NOTE[code]
        if kind == Event.Kind.MILESTONE:
            cells[f"summary_{code}"] = _TRACK_NOTE[code]
    return [cells[column] for column in COLUMNS]


def template_csv() -> bytes:
    """Return the template editors fill in: the header and one example row per kind of event."""
    return write_rows(template_cells(kind, titles, fields) for kind, titles, fields in _EXAMPLES)
