"""The .ics reader of the admin import, and the export it reads back unchanged.

Every instant is checked against zoneinfo (or, for the icalendar test corpus, against what the
icalendar library itself reports), not against the reader's own arithmetic.
"""

import datetime as dt
import importlib.resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.utils import translation

from tests.factories import EventFactory, PlaceFactory
from timeline.imports.ics_export import events_ics
from timeline.imports.ics_reader import read_ics
from timeline.imports.rows import FileRefused, Incoming, Reading, ReadOptions, Refused

UTC = dt.UTC
ALMATY = ReadOptions(language="en", timezone="Asia/Almaty")
CORPUS = Path(str(importlib.resources.files("icalendar"))) / "tests" / "calendars"


# --- helpers ---------------------------------------------------------------------------------
def ics(text: str, *, bom: bool = False, crlf: bool = True) -> bytes:
    """Return calendar text as a file: long lines folded at 74 characters, CRLF or LF ends."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        line = line.strip()
        while len(line) > 74:
            lines.append(line[:74])
            line = " " + line[74:]
        lines.append(line)
    body = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
    return ("\ufeff" if bom else "").encode() + body.encode()


def calendar(*events: str, head: str = "") -> bytes:
    return ics(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test//Test//EN\n"
        + head
        + "\n".join(events)
        + "\nEND:VCALENDAR"
    )


def vevent(uid: str, *lines: str) -> str:
    return "\n".join(
        ("BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20251101T090000Z", *lines, "END:VEVENT")
    )


def by_uid(reading: Reading) -> dict[str, Incoming]:
    return {row.uid: row for row in reading.incoming}


def refused(reading: Reading) -> list[Refused]:
    return [row for row in reading.rows if isinstance(row, Refused)]


def start_instant(values: Any) -> dt.datetime:
    """Return the UTC start of read values, computed with zoneinfo."""
    local = dt.datetime.combine(values["start_date"], values["start_time"])
    return local.replace(tzinfo=ZoneInfo(values["timezone"])).astimezone(UTC)


def end_instant(values: Any) -> dt.datetime:
    local = dt.datetime.combine(values["end_date"], values["end_time"])
    return local.replace(tzinfo=ZoneInfo(values["timezone"])).astimezone(UTC)


def at(zone: str, *args: int) -> dt.datetime:
    """Return the UTC instant of a wall time in a zone, by zoneinfo."""
    return dt.datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)


# --- the icalendar library's own test files ------------------------------------------------
CORPUS_FILES = sorted(CORPUS.glob("*.ics"))


def test_the_corpus_is_there():
    assert len(CORPUS_FILES) > 50


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[path.name for path in CORPUS_FILES])
def test_corpus_file_is_read_or_refused_and_instants_agree_with_icalendar(path):
    try:
        reading = read_ics(path.read_bytes(), ALMATY)
    except FileRefused as refusal:
        assert refusal.reason
        return
    assert reading.format == "ics"
    components = icalendar.Calendar.from_ical(path.read_bytes(), multiple=True)
    first_with_uid: dict[str, icalendar.Event] = {}
    for component in components:
        for event in component.walk("VEVENT"):
            first_with_uid.setdefault(str(event.get("UID", "")), event)
    for row in reading.incoming:
        assert row.line > 0
        values = row.values
        if values["precision"] != "minute":
            continue
        start = first_with_uid[row.uid].DTSTART
        if not isinstance(start, dt.datetime) or start.tzinfo is None:
            continue  # a floating time: no instant to compare
        assert start_instant(values) == start.astimezone(UTC), row


# --- real-world producers ---------------------------------------------------------------------
# Outlook's UIDs are long: folded in the file.
OUTLOOK_UID = (
    "040000008200E00074C5B7101A82E00800000000D0F4C6A2E752DC01"
    "000000000000000010000000B1E9A0B4F34A7D4C8D41A0F7E5C3A21"
)
OUTLOOK = r"""
BEGIN:VCALENDAR
METHOD:PUBLISH
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
X-WR-CALNAME:Calendar
BEGIN:VTIMEZONE
TZID:Central Asia Standard Time
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0600
TZOFFSETTO:+0600
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T000000
TZOFFSETFROM:+0600
TZOFFSETTO:+0600
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Russian Standard Time
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
DESCRIPTION;LANGUAGE=ru-RU:Повестка: согласование протокола\, рабочие вопросы\n\nВидеосвязь.\n
UID:{uid}1
SUMMARY;LANGUAGE=ru-RU:Рабочая встреча
DTSTART;TZID=Russian Standard Time:20251111T123000
DTEND;TZID=Russian Standard Time:20251111T140000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20251101T090000Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:0
LOCATION;LANGUAGE=ru-RU:Переговорная 3
X-MICROSOFT-CDO-APPT-SEQUENCE:0
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:0
X-MICROSOFT-DONOTFORWARDMEETING:FALSE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
END:VEVENT
BEGIN:VEVENT
DESCRIPTION:\n
UID:{uid}2
SUMMARY;LANGUAGE=kk-KZ:Жұмыс кездесуі
DTSTART;TZID=Central Asia Standard Time:20251112T100000
DTEND;TZID=Central Asia Standard Time:20251112T113000
STATUS:TENTATIVE
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
END:VEVENT
BEGIN:VEVENT
UID:outlook-spring-before
SUMMARY;LANGUAGE=en-GB:Before the spring change
DTSTART;TZID=W. Europe Standard Time:20250328T100000
DTEND;TZID=W. Europe Standard Time:20250328T110000
END:VEVENT
BEGIN:VEVENT
UID:outlook-spring-across
SUMMARY;LANGUAGE=en-GB:Across the spring change
DTSTART;TZID=W. Europe Standard Time:20250329T230000
DTEND;TZID=W. Europe Standard Time:20250330T040000
END:VEVENT
BEGIN:VEVENT
UID:outlook-spring-after
SUMMARY;LANGUAGE=en-GB:After the spring change
DTSTART;TZID=W. Europe Standard Time:20250331T100000
DTEND;TZID=W. Europe Standard Time:20250331T110000
END:VEVENT
BEGIN:VEVENT
UID:outlook-autumn-across
SUMMARY;LANGUAGE=en-GB:Across the autumn change
DTSTART;TZID=W. Europe Standard Time:20251025T230000
DTEND;TZID=W. Europe Standard Time:20251026T040000
END:VEVENT
BEGIN:VEVENT
UID:outlook-all-day
SUMMARY:Two days
DTSTART;VALUE=DATE:20251111
DTEND;VALUE=DATE:20251113
X-MICROSOFT-CDO-ALLDAYEVENT:TRUE
END:VEVENT
END:VCALENDAR
""".replace("{uid}", OUTLOOK_UID)


def test_outlook_file_lands_at_the_right_instants():
    data = ics(OUTLOOK, bom=True)
    assert b"\r\n " in data  # folded
    reading = read_ics(data, ALMATY)
    assert not refused(reading)
    rows = by_uid(reading)
    uid = OUTLOOK_UID + "1"
    moscow = rows[uid].values
    assert moscow["title_ru"] == "Рабочая встреча"
    assert moscow["description_ru"].startswith("Повестка: согласование протокола, рабочие")
    assert moscow["status"] == "confirmed"
    assert moscow["timezone"] == "Europe/Moscow"
    assert (moscow["start_time"], moscow["end_time"]) == (dt.time(12, 30), dt.time(14, 0))
    assert start_instant(moscow) == at("Europe/Moscow", 2025, 11, 11, 12, 30)
    assert end_instant(moscow) == at("Europe/Moscow", 2025, 11, 11, 14, 0)
    notes = " ".join(rows[uid].notes)
    assert "Windows zone “Russian Standard Time” read as Europe/Moscow" in notes
    assert "Location not imported: Переговорная 3" in notes

    central = rows[uid[:-1] + "2"]
    assert central.values["title_kk"] == "Жұмыс кездесуі"
    assert "description_en" not in central.values  # Outlook's empty "\n"
    assert central.values["status"] == "tentative"
    assert start_instant(central.values) == dt.datetime(2025, 11, 12, 4, 0, tzinfo=UTC)
    assert "Central Asia Standard Time" in central.notes[0]


def test_outlook_file_keeps_berlin_wall_times_across_daylight_saving():
    rows = by_uid(read_ics(ics(OUTLOOK, bom=True), ALMATY))
    for uid, start, end in (
        ("outlook-spring-before", (2025, 3, 28, 10), (2025, 3, 28, 11)),
        ("outlook-spring-across", (2025, 3, 29, 23), (2025, 3, 30, 4)),
        ("outlook-spring-after", (2025, 3, 31, 10), (2025, 3, 31, 11)),
        ("outlook-autumn-across", (2025, 10, 25, 23), (2025, 10, 26, 4)),
    ):
        values = rows[uid].values
        assert values["title_en"]
        assert values["timezone"] == "Europe/Berlin"
        assert start_instant(values) == at("Europe/Berlin", *start)
        assert end_instant(values) == at("Europe/Berlin", *end)
    across = rows["outlook-spring-across"].values
    assert end_instant(across) - start_instant(across) == dt.timedelta(hours=4)
    autumn = rows["outlook-autumn-across"].values
    assert end_instant(autumn) - start_instant(autumn) == dt.timedelta(hours=6)


def test_outlook_file_all_day_event_over_two_days():
    values = by_uid(read_ics(ics(OUTLOOK), ALMATY))["outlook-all-day"].values
    assert values["precision"] == "day"
    assert (values["start_date"], values["end_date"]) == (
        dt.date(2025, 11, 11),
        dt.date(2025, 11, 12),
    )
    assert values["start_time"] is None and values["end_time"] is None
    assert "timezone" not in values


def test_line_is_the_physical_line_of_begin_vevent():
    data = ics(OUTLOOK, bom=True)
    physical = data.decode("utf-8-sig").split("\r\n")
    for row in read_ics(data, ALMATY).rows:
        assert physical[row.line - 1] == "BEGIN:VEVENT"
    lf = ics(OUTLOOK, crlf=False)
    assert [row.line for row in read_ics(lf, ALMATY).rows] == [
        row.line for row in read_ics(data, ALMATY).rows
    ]


GOOGLE = """
BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:Test
X-WR-TIMEZONE:Europe/Moscow
BEGIN:VTIMEZONE
TZID:Europe/Moscow
X-LIC-LOCATION:Europe/Moscow
BEGIN:STANDARD
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
TZNAME:MSK
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=Europe/Moscow:20251111T150000
DTEND;TZID=Europe/Moscow:20251111T163000
DTSTAMP:20251101T090000Z
UID:1a2b3c4d5e6f7g8h9i0j@google.com
CREATED:20251101T080000Z
DESCRIPTION:
LAST-MODIFIED:20251101T080000Z
LOCATION:
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Moscow time
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART:20251112T090000Z
DTEND:20251112T103015Z
DTSTAMP:20251101T090000Z
UID:0j9i8h7g6f5e4d3c2b1a@google.com
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:UTC time
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
"""


def test_google_file_zoned_and_utc_times():
    rows = by_uid(read_ics(ics(GOOGLE, crlf=False), ALMATY))
    moscow = rows["1a2b3c4d5e6f7g8h9i0j@google.com"]
    assert moscow.values["timezone"] == "Europe/Moscow"
    assert start_instant(moscow.values) == at("Europe/Moscow", 2025, 11, 11, 15, 0)
    assert "description_en" not in moscow.values
    assert moscow.notes == ()
    utc = rows["0j9i8h7g6f5e4d3c2b1a@google.com"]
    # The instant is kept and shown in the zone the editor chose (Almaty, UTC+5).
    assert utc.values["timezone"] == "Asia/Almaty"
    assert (utc.values["start_time"], utc.values["end_time"]) == (
        dt.time(14, 0),
        dt.time(15, 30, 15),
    )
    assert start_instant(utc.values) == dt.datetime(2025, 11, 12, 9, 0, tzinfo=UTC)
    assert end_instant(utc.values) == dt.datetime(2025, 11, 12, 10, 30, 15, tzinfo=UTC)
    assert any("UTC" in note for note in utc.notes)


# --- times -------------------------------------------------------------------------------------
def test_floating_time_is_read_in_the_chosen_zone():
    data = calendar(
        vevent("f", "SUMMARY:Floating", "DTSTART:20251111T100000", "DTEND:20251111T110000")
    )
    row = by_uid(read_ics(data, ReadOptions("ru", "Europe/Moscow")))["f"]
    assert row.values["title_ru"] == "Floating"
    assert row.values["timezone"] == "Europe/Moscow"
    assert start_instant(row.values) == at("Europe/Moscow", 2025, 11, 11, 10, 0)
    assert any("floating" in note for note in row.notes)


def test_single_all_day_event_has_no_end_date():
    data = calendar(
        vevent("d", "SUMMARY:Day", "DTSTART;VALUE=DATE:20251111", "DTEND;VALUE=DATE:20251112")
    )
    values = by_uid(read_ics(data, ALMATY))["d"].values
    assert (values["precision"], values["start_date"], values["end_date"]) == (
        "day",
        dt.date(2025, 11, 11),
        None,
    )


def test_duration_instead_of_end():
    data = calendar(
        vevent("hours", "DTSTART;TZID=Europe/Berlin:20250329T220000", "DURATION:PT6H"),
        vevent("day", "DTSTART;TZID=Europe/Berlin:20250329T120000", "DURATION:P1D"),
        vevent("all-day", "DTSTART;VALUE=DATE:20251111", "DURATION:P2D"),
    )
    rows = by_uid(read_ics(data, ALMATY))
    hours = rows["hours"].values
    # Six real hours over the spring change: 22:00 CET to 05:00 CEST.
    assert end_instant(hours) - start_instant(hours) == dt.timedelta(hours=6)
    assert (hours["end_date"], hours["end_time"]) == (dt.date(2025, 3, 30), dt.time(5, 0))
    day = rows["day"].values  # a calendar day: noon to noon, 23 real hours
    assert (day["end_date"], day["end_time"]) == (dt.date(2025, 3, 30), dt.time(12, 0))
    assert rows["all-day"].values["end_date"] == dt.date(2025, 11, 12)


def test_seconds_are_kept():
    data = calendar(vevent("s", "DTSTART;TZID=Asia/Almaty:20251111T100005"))
    values = by_uid(read_ics(data, ALMATY))["s"].values
    assert values["start_time"] == dt.time(10, 0, 5)
    assert values["end_date"] is None and values["end_time"] is None


@pytest.mark.parametrize(
    "tzid",
    ["/mozilla.org/20050126_1/Europe/Berlin", '"W. Europe Standard Time"', '"Europe/Berlin"'],
    ids=["mozilla", "quoted-windows", "quoted-iana"],
)
def test_prefixed_and_quoted_zones_are_resolved(tzid):
    data = calendar(vevent("m", f"DTSTART;TZID={tzid}:20250701T100000"))
    row = by_uid(read_ics(data, ALMATY))["m"]
    assert row.values["timezone"] == "Europe/Berlin"
    assert start_instant(row.values) == at("Europe/Berlin", 2025, 7, 1, 10, 0)


CUSTOM_ZONE = """
BEGIN:VTIMEZONE
TZID:Office time (made up)
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
END:VTIMEZONE
"""


def test_custom_vtimezone_gives_the_true_instant_in_the_chosen_zone():
    data = calendar(
        vevent("winter", "DTSTART;TZID=Office time (made up):20250115T100000"),
        vevent("summer", "DTSTART;TZID=Office time (made up):20250715T100000"),
        head=CUSTOM_ZONE.strip() + "\n",
    )
    rows = by_uid(read_ics(data, ALMATY))
    assert start_instant(rows["winter"].values) == dt.datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    assert start_instant(rows["summer"].values) == dt.datetime(2025, 7, 15, 8, 0, tzinfo=UTC)
    assert rows["summer"].values["timezone"] == "Asia/Almaty"
    assert rows["summer"].values["start_time"] == dt.time(13, 0)
    assert any("Office time (made up)" in note for note in rows["summer"].notes)


def test_each_file_uses_its_own_definition_of_a_zone_name():
    summer = vevent("summer", "DTSTART;TZID=Office time (made up):20250715T100000")
    read_ics(calendar(summer, head=CUSTOM_ZONE.strip() + "\n"), ALMATY)
    fixed = CUSTOM_ZONE.replace("+0200", "+0500").replace("+0100", "+0500")
    rows = by_uid(read_ics(calendar(summer, head=fixed.strip() + "\n"), ALMATY))
    assert start_instant(rows["summer"].values) == dt.datetime(2025, 7, 15, 5, 0, tzinfo=UTC)


def test_unknown_zone_without_definition_is_refused():
    data = calendar(vevent("x", "DTSTART;TZID=Nowhere Standard Time:20250115T100000"))
    (row,) = read_ics(data, ALMATY).rows
    assert isinstance(row, Refused)
    assert "Nowhere Standard Time" in row.reason


# --- texts and statuses ---------------------------------------------------------------------------
def test_language_parameter_decides_the_language():
    data = calendar(
        vevent(
            "k",
            "SUMMARY;LANGUAGE=kk-KZ:Кездесу",
            "DESCRIPTION;LANGUAGE=en-GB:Text",
            "DTSTART;VALUE=DATE:20251111",
        ),
        vevent("d", "SUMMARY;LANGUAGE=de:Treffen", "DTSTART;VALUE=DATE:20251111"),
    )
    rows = by_uid(read_ics(data, ReadOptions("ru", "Asia/Almaty")))
    assert rows["k"].values["title_kk"] == "Кездесу"
    assert rows["k"].values["description_en"] == "Text"
    assert rows["d"].values["title_ru"] == "Treffen"
    assert any("“de”" in note for note in rows["d"].notes)


def test_cancelled_by_status_and_by_method():
    by_status = calendar(vevent("c", "STATUS:CANCELLED", "DTSTART;VALUE=DATE:20251111"))
    assert by_uid(read_ics(by_status, ALMATY))["c"].values["status"] == "cancelled"
    by_method = calendar(vevent("c", "DTSTART;VALUE=DATE:20251111"), head="METHOD:CANCEL\n")
    assert by_uid(read_ics(by_method, ALMATY))["c"].values["status"] == "cancelled"
    no_status = calendar(vevent("n", "DTSTART;VALUE=DATE:20251111"))
    assert "status" not in by_uid(read_ics(no_status, ALMATY))["n"].values


# --- refusals ---------------------------------------------------------------------------------
def test_recurring_events_and_overrides_are_refused_not_cut_to_one():
    data = calendar(
        vevent(
            "r",
            "SUMMARY:Weekly",
            "DTSTART;TZID=Asia/Almaty:20251103T100000",
            "RRULE:FREQ=WEEKLY;COUNT=4",
        ),
        vevent(
            "r",
            "SUMMARY:Moved",
            "RECURRENCE-ID;TZID=Asia/Almaty:20251110T100000",
            "DTSTART;TZID=Asia/Almaty:20251111T100000",
        ),
        vevent("rd", "DTSTART;VALUE=DATE:20251111", "RDATE;VALUE=DATE:20251118,20251125"),
        vevent("ok", "DTSTART;VALUE=DATE:20251111"),
    )
    reading = read_ics(data, ALMATY)
    assert [row.uid for row in reading.incoming] == ["ok"]
    weekly, moved, dated = refused(reading)
    assert "recurring event (RRULE" in weekly.reason and "one by one" in weekly.reason
    assert "FREQ=WEEKLY" in weekly.value
    assert "RECURRENCE-ID" in moved.reason
    assert "RDATE" in dated.reason


def test_missing_uid_and_start_are_refused():
    data = calendar(
        "BEGIN:VEVENT\nSUMMARY:No UID\nDTSTART;VALUE=DATE:20251111\nEND:VEVENT",
        vevent("nostart", "SUMMARY:No start"),
    )
    no_uid, no_start = read_ics(data, ALMATY).rows
    assert isinstance(no_uid, Refused) and "UID" in no_uid.reason
    assert isinstance(no_start, Refused) and "DTSTART" in no_start.reason


def test_duplicate_uid_refuses_the_later_one():
    data = calendar(
        vevent("same", "SUMMARY:First", "DTSTART;VALUE=DATE:20251111"),
        vevent("same", "SUMMARY:Second", "DTSTART;VALUE=DATE:20251112"),
    )
    first, second = read_ics(data, ALMATY).rows
    assert isinstance(first, Incoming) and first.values["title_en"] == "First"
    assert isinstance(second, Refused)
    assert second.reason == f"UID already given on line {first.line}."
    assert second.value == "same"


def test_date_out_of_range_is_refused_with_the_value():
    data = calendar(vevent("old", "DTSTART;VALUE=DATE:16500101"))
    (row,) = read_ics(data, ALMATY).rows
    assert isinstance(row, Refused) and row.value == "1650-01-01"


def test_too_many_events_refuse_the_file(settings):
    settings.IMPORT_MAX_ROWS = 2
    data = calendar(*(vevent(f"e{n}", "DTSTART;VALUE=DATE:20251111") for n in range(3)))
    with pytest.raises(FileRefused, match="3 events"):
        read_ics(data, ALMATY)
    settings.IMPORT_MAX_ROWS = 3
    assert len(read_ics(data, ALMATY).incoming) == 3


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"hello, world",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n",
        b"BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20251111T100000\r\nEND:VEVENT\r\n",
        "Тема,Дата\nВстреча,2025-11-11\n".encode("cp1251"),
    ],
    ids=["empty", "binary", "text", "unclosed", "bare-vevent", "csv"],
)
def test_not_a_calendar_refuses_the_file(data):
    with pytest.raises(FileRefused):
        read_ics(data, ALMATY)


# --- export ------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_export_reads_back_unchanged(language, settings):
    moscow = PlaceFactory(timezone="Europe/Moscow")
    events = [
        EventFactory(title_kk="Сапар", title_ru="Визит", description_kk="Сипаттама; бір, екі"),
        EventFactory(
            title_ru="Переговоры",
            description_ru="Первая строка\nвторая строка",
            precision="day",
            start_date=dt.date(2025, 11, 11),
            end_date=dt.date(2025, 11, 12),
            status="tentative",
        ),
        EventFactory(
            precision="minute",
            place=moscow,
            start_date=dt.date(2025, 11, 11),
            start_time=dt.time(12, 30, 15),
            end_time=dt.time(14, 0),
            status="cancelled",
        ),
        EventFactory(
            precision="minute",
            timezone="Europe/Berlin",
            start_date=dt.date(2025, 3, 29),
            start_time=dt.time(23, 0),
            end_date=dt.date(2025, 3, 30),
            end_time=dt.time(4, 0),
        ),
        EventFactory(
            precision="minute", start_date=dt.date(2025, 11, 11), start_time=dt.time(10, 0)
        ),
    ]
    coarse = EventFactory(precision="year", start_date=dt.date(2026, 1, 1))
    data = events_ics([*events, coarse], language)
    parsed = icalendar.Calendar.from_ical(data)
    assert len(parsed.walk("VEVENT")) == len(events)
    assert {str(zone["TZID"]) for zone in parsed.walk("VTIMEZONE")} == {
        "Asia/Almaty",
        "Europe/Moscow",
        "Europe/Berlin",
    }
    assert b"Cancelled" not in data
    reading = read_ics(data, ReadOptions(language, "UTC"))
    assert not refused(reading)
    rows = by_uid(reading)
    assert coarse.calendar_uid not in rows
    for event in events:
        row = rows[event.calendar_uid]
        expected: dict[str, Any] = {
            "status": event.status,
            "precision": event.precision,
            "start_date": event.start_date,
            "start_time": event.start_time,
            "end_date": event.end_date,
            "end_time": event.end_time,
        }
        if event.precision == "minute":
            expected["timezone"] = event.effective_timezone
        for field in ("title", "description"):
            text = _shown(event, field, language)
            if text:
                expected[f"{field}_{text[0]}"] = text[1]
        assert dict(row.values) == expected, event.slug
        assert row.notes == ()
        with translation.override(language):
            page = settings.SITE_URL + event.get_absolute_url()
        assert str(parsed.walk("VEVENT")[events.index(event)]["URL"]) == page


def _shown(event: Any, field: str, language: str) -> tuple[str, str] | None:
    """Return (language, text) the export should give: the language's, else the fallback's."""
    order = {"kk": ("kk", "ru", "en"), "ru": ("ru", "en", "kk"), "en": ("en", "ru", "kk")}
    for code in order[language]:
        text = getattr(event, f"{field}_{code}")
        if text:
            return code, text
    return None


def test_a_windows_zone_the_file_defines_otherwise_is_read_by_the_files_definition():
    """CLDR maps the name to one IANA zone; the sender's calendar meant its own definition."""
    astana_plus_five = (
        "BEGIN:VTIMEZONE\nTZID:Central Asia Standard Time\nBEGIN:STANDARD\n"
        "DTSTART:16010101T000000\nTZOFFSETFROM:+0500\nTZOFFSETTO:+0500\nEND:STANDARD\n"
        "END:VTIMEZONE\n"
    )
    data = calendar(
        vevent(
            "astana-plus-five",
            "SUMMARY:Talks",
            "DTSTART;TZID=Central Asia Standard Time:20260312T100000",
            "DTEND;TZID=Central Asia Standard Time:20260312T113000",
        ),
        head=astana_plus_five,
    )
    row = by_uid(read_ics(data, ALMATY))["astana-plus-five"]
    assert start_instant(row.values) == dt.datetime(2026, 3, 12, 5, 0, tzinfo=UTC)
    assert end_instant(row.values) == dt.datetime(2026, 3, 12, 6, 30, tzinfo=UTC)
    assert row.values["timezone"] == "Asia/Almaty"
    assert any("defined only in the file" in note or "definition" in note for note in row.notes)
