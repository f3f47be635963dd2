"""The iCalendar renderer, read back by three independent parsers (no database).

Every feed is parsed with icalendar, vobject and ical.js (Thunderbird's parser, through node),
and each parser must return exactly the events the test expects, computed here from the
CalendarEvents with zoneinfo: agreeing with each other is not enough.
"""

import dataclasses
import datetime as dt
import random
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.parsers import PARSERS, assert_lines_well_formed, parse_with_icaljs
from timeline.feeds import ical

UTC = dt.UTC
ZONES = ("Asia/Almaty", "Europe/Moscow", "Asia/Omsk", "Europe/Berlin", "UTC")
SEED = 20251112
RANDOM_EVENTS = 360
CREATED = dt.datetime(2024, 1, 10, 9, 30, tzinfo=UTC)
META = ical.CalendarMeta(
    name="Қазақстан — Россия: хронология",
    description="Визиты, переговоры; соглашения, форумы: the whole timeline.",
    url="https://timeline.example.kz/",
    source="https://timeline.example.kz/feeds/all.ics",
)

KAZAKH_TITLES = (
    "Үкіметаралық комиссияның отырысы: Астана",
    "Келіссөздер, екінші кезең; қорытынды",
    "Бірлескен мәлімдеме \\ жоба",
    "Мемлекеттік сапар: Алматы шаһары, Мәскеу",
    "«Байқоңыр» ғарыш айлағы туралы хаттама; шекара",
    "Экономикалық форум: энергетика, көлік, цифрландыру және ауыл шаруашылығы "
    "саласындағы ынтымақтастық, ұзақ атау",
    "Брифинг\nкездесуден кейін",
)
RUSSIAN_TITLES = (
    "Заседание межправкомиссии: Казахстан и Россия",
    "Переговоры в Москве, раунд 2; итоги",
    "Совместное заявление \\ проект",
    "Визит в Омск: приграничное сотрудничество",
    "Форум регионов; Омск, Павлодар, Петропавловск",
    'Подписание соглашения о "Байконуре": аренда, экология, финансирование, '
    "таможня и транзит — очень длинное название",
    "Пресс-подход\nпосле встречи",
)
FRAGMENTS = (
    "Повестка: энергетика, транзит; водные ресурсы",
    "Күн тәртібі: энергетика, транзит; су ресурстары",
    "путь C:\\docs\\соглашение.pdf",
    "жол C:\\құжаттар\\келісім.pdf",
    "ссылка: https://example.kz/a?b=1;c=2,d=3",
    "Ескерту: уақыты өзгеруі мүмкін",
    "Примечание — время может измениться",
    "🇰🇿🇷🇺 делегации; 🇰🇿 делегациясы",
    "Ұлттық экономика министрлігі, Сыртқы істер министрлігі, Энергетика министрлігі",
    "Министерство экономического развития, МИД, Минэнерго, Минтранс, Росатом",
)
SEPARATORS = (", ", "; ", "\n", " \\ ", ": ", " ", "\n\n", ",;\\:")


def local(zone: str, *args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, fold=fold, tzinfo=ZoneInfo(zone))


def unambiguous(moment: dt.datetime) -> bool:
    """True if the wall time exists once: not in a gap, not repeated (an iCalendar local time
    with a TZID cannot say which of two repeated wall times it means)."""
    return moment.replace(fold=0).utcoffset() == moment.replace(fold=1).utcoffset()


def event(uid: str, summary: str, start, end=None, zone="UTC", status="CONFIRMED", **more):
    return ical.CalendarEvent(
        uid=uid,
        sequence=more.pop("sequence", 0),
        summary=summary,
        status=status,
        start=start,
        end=end,
        timezone=zone,
        created=CREATED,
        last_modified=more.pop("last_modified", CREATED),
        **more,
    )


def random_text(rng: random.Random, parts: int) -> str:
    text = rng.choice(FRAGMENTS)
    for _ in range(parts - 1):
        text += rng.choice(SEPARATORS) + rng.choice(FRAGMENTS)
    return text


def random_day(rng: random.Random) -> dt.date:
    """A day in 2024-2041, often one where a zone changes or Berlin is on summer time."""
    year = rng.randint(2024, 2041)
    kind = rng.random()
    if kind < 0.15:  # around Almaty's +06 -> +05 change on 2024-03-01
        return dt.date(2024, 2, 26) + dt.timedelta(days=rng.randint(0, 6))
    if kind < 0.40:  # Berlin summer time
        return dt.date(year, rng.randint(4, 9), rng.randint(1, 28))
    if kind < 0.50:  # the days around the last Sunday of March or October
        month = rng.choice((3, 10))
        last_sunday = max(day for day in range(25, 32) if dt.date(year, month, day).weekday() == 6)
        return dt.date(year, month, last_sunday) + dt.timedelta(days=rng.randint(-1, 1))
    return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 18 * 365 + 3))


def random_event(rng: random.Random, number: int) -> ical.CalendarEvent:
    zone = rng.choice(ZONES)
    day = random_day(rng)
    kind = rng.choice(("one day", "several days", "timed", "timed without end"))
    title = rng.choice(rng.choice((KAZAKH_TITLES, RUSSIAN_TITLES)))
    status = rng.choice(("CONFIRMED", "CONFIRMED", "TENTATIVE", "CANCELLED"))
    if status == "CANCELLED":
        title = f"Cancelled: {title}"
    if kind == "one day":
        start, end = day, rng.choice((None, day + dt.timedelta(days=1)))
    elif kind == "several days":
        start, end = day, day + dt.timedelta(days=rng.randint(2, 6))
    else:
        tzinfo = UTC if zone == "UTC" and rng.random() < 0.5 else ZoneInfo(zone)
        while True:
            start = dt.datetime.combine(
                day, dt.time(rng.randint(0, 23), rng.choice((0, 15, 30, 45))), tzinfo
            )
            if kind == "timed without end":
                end = None
            else:
                length = rng.choice((15, 60, 90, 150, 8 * 60, 26 * 60, 3 * 24 * 60))
                end = (start.astimezone(UTC) + dt.timedelta(minutes=length)).astimezone(tzinfo)
            if unambiguous(start) and (end is None or unambiguous(end)):
                break
    extra = {}
    if rng.random() < 0.8:
        extra["description"] = random_text(rng, rng.randint(1, 12))
    if rng.random() < 0.5:
        extra["location"] = rng.choice(("Астана, Ақорда; зал №1", "Москва, Кремль: зал \\ 2"))
    if rng.random() < 0.3:
        extra["geo"] = (51.1283, 71.4305)
    if rng.random() < 0.3:
        extra["url"] = f"https://timeline.example.kz/events/{number}?lang=kk&x=1"
    if rng.random() < 0.3:
        extra["categories"] = ("Визит", "Экономика")
    return event(
        f"event-{number:04d}@timeline.example.kz",
        title,
        start,
        end,
        zone,
        status,
        sequence=rng.randint(0, 5),
        last_modified=CREATED + dt.timedelta(minutes=rng.randint(0, 10**6)),
        **extra,
    )


def fixed_events() -> list[ical.CalendarEvent]:
    """Events the random ones may miss: each side of a change, and the summer."""
    cases = [
        ("almaty-before-change", local("Asia/Almaty", 2024, 2, 29, 12), "Asia/Almaty"),
        ("almaty-after-change", local("Asia/Almaty", 2024, 3, 1, 12), "Asia/Almaty"),
        ("almaty-first-hour", local("Asia/Almaty", 2024, 3, 1, 0, 30), "Asia/Almaty"),
        ("almaty-2025-11-12", local("Asia/Almaty", 2025, 11, 12, 10), "Asia/Almaty"),
        ("berlin-spring-after", local("Europe/Berlin", 2025, 3, 30, 3, 0), "Europe/Berlin"),
        ("berlin-autumn-after", local("Europe/Berlin", 2025, 10, 26, 3, 0), "Europe/Berlin"),
        ("berlin-summer-2025", local("Europe/Berlin", 2025, 7, 15, 10), "Europe/Berlin"),
        ("berlin-summer-2040", local("Europe/Berlin", 2040, 7, 1, 10), "Europe/Berlin"),
        ("berlin-winter-2041", local("Europe/Berlin", 2041, 12, 31, 23, 45), "Europe/Berlin"),
        ("moscow-2041", local("Europe/Moscow", 2041, 6, 1, 9), "Europe/Moscow"),
        ("omsk-2024", local("Asia/Omsk", 2024, 1, 1, 0, 0), "Asia/Omsk"),
    ]
    events = [
        event(f"fixed-{name}@timeline.example.kz", f"Fixed: {name}", start, None, zone)
        for name, start, zone in cases
    ]
    events.append(
        event(
            "fixed-visit-11-12-nov@timeline.example.kz",
            "Визит: 11–12 қараша",
            dt.date(2025, 11, 11),
            dt.date(2025, 11, 13),
            "Asia/Almaty",
        )
    )
    return events


def generate_events() -> list[ical.CalendarEvent]:
    rng = random.Random(SEED)
    return [random_event(rng, number) for number in range(RANDOM_EVENTS)] + fixed_events()


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected(events) -> list[dict]:
    """What every parser must return, computed from the CalendarEvents alone."""
    rows = []
    for item in events:
        if item.all_day:
            end = item.end or item.start + dt.timedelta(days=1)
            start_text, end_text = item.start.isoformat(), end.isoformat()
        else:
            start_text, end_text = utc_text(item.start), utc_text(item.end or item.start)
        rows.append(
            {
                "uid": item.uid,
                "summary": item.summary,
                "status": item.status,
                "sequence": item.sequence,
                "all_day": item.all_day,
                "start": start_text,
                "end": end_text,
            }
        )
    return sorted(rows, key=lambda row: row["uid"])


def assert_same_events(parser: str, got: list[dict], want: list[dict]) -> None:
    got_by_uid = {row["uid"]: row for row in got}
    want_by_uid = {row["uid"]: row for row in want}
    assert len(got_by_uid) == len(got), f"{parser}: duplicate UIDs"
    assert got_by_uid.keys() == want_by_uid.keys(), (
        f"{parser}: missing {sorted(want_by_uid.keys() - got_by_uid.keys())[:5]}, "
        f"unexpected {sorted(got_by_uid.keys() - want_by_uid.keys())[:5]}"
    )
    wrong = [
        f"{uid}: {field} {got_by_uid[uid][field]!r} != expected {want_by_uid[uid][field]!r}"
        for uid in sorted(want_by_uid)
        for field in want_by_uid[uid]
        if got_by_uid[uid][field] != want_by_uid[uid][field]
    ]
    assert not wrong, f"{parser}: {len(wrong)} wrong values:\n" + "\n".join(wrong[:20])


def unfolded_lines(data: bytes) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", data.decode("utf-8")).split("\r\n")[:-1]


def onsets(data: bytes, tzid: str) -> dict[str, list[dt.datetime]]:
    """Return the local onsets (DTSTART and RDATEs, each once) of each observance kind of *tzid*."""
    calendar = icalendar.Calendar.from_ical(data)
    (vtimezone,) = [zone for zone in calendar.walk("VTIMEZONE") if zone["TZID"] == tzid]
    found: dict[str, list[dt.datetime]] = {"STANDARD": [], "DAYLIGHT": []}
    for observance in vtimezone.subcomponents:
        found[observance.name].append(observance.decoded("DTSTART"))
        rdates = observance.get("RDATE", [])
        for value in rdates if isinstance(rdates, list) else [rdates]:
            found[observance.name].extend(one.dt for one in value.dts)
    # The first onset is written both as DTSTART and as an RDATE (for ical.js).
    return {kind: sorted(set(moments)) for kind, moments in found.items()}


def feed_of(*events: ical.CalendarEvent) -> bytes:
    return ical.render(META, list(events))


@pytest.fixture(scope="module")
def events() -> list[ical.CalendarEvent]:
    return generate_events()


@pytest.fixture(scope="module")
def feed(events) -> bytes:
    return ical.render(META, events)


def test_the_data_set_has_what_it_should(events):
    """Guard the generator itself, so a change to it cannot quietly thin the test out."""
    assert len({item.uid for item in events}) == len(events) > 300
    timed = [item for item in events if not item.all_day]
    assert {item.timezone for item in timed} == set(ZONES)
    assert any(item.end is None for item in timed)
    assert any(item.end is not None for item in timed)
    all_day = [item for item in events if item.all_day]
    assert any(item.end is None or (item.end - item.start).days == 1 for item in all_day)
    assert any(item.end is not None and (item.end - item.start).days > 1 for item in all_day)
    cancelled = [item for item in events if item.status == "CANCELLED"]
    assert cancelled
    assert all(item.summary.startswith("Cancelled: ") for item in cancelled)
    years = {item.start.year for item in events}
    assert min(years) == 2024
    assert max(years) == 2041
    assert any(item.timezone == "Europe/Berlin" and item.start.dst() for item in timed), (
        "no Berlin summer time"
    )
    assert any(len(item.description.encode()) > 75 for item in events)
    texts = "".join(item.summary + item.description for item in events)
    for character in ",;\\\n:әқңөұүһі":
        assert character in texts


@pytest.mark.parametrize("parser", list(PARSERS))
def test_every_parser_reads_exactly_the_events(parser, events, feed):
    assert_same_events(parser, PARSERS[parser](feed), expected(events))


def test_lines_are_crlf_short_and_utf8(feed):
    assert_lines_well_formed(feed)
    assert b"\xd2" in feed, "no Kazakh letters in the feed"  # Kazakh letters encode as \xd2..


def test_text_survives_escaping(events, feed):
    """Descriptions and locations too, not only summaries (icalendar reads them back)."""
    by_uid = {
        str(vevent["UID"]): vevent for vevent in icalendar.Calendar.from_ical(feed).walk("VEVENT")
    }
    for item in events:
        vevent = by_uid[item.uid]
        assert str(vevent.get("DESCRIPTION", "")) == item.description, item.uid
        assert str(vevent.get("LOCATION", "")) == item.location, item.uid


def test_rendering_twice_gives_the_same_bytes(events, feed):
    assert ical.render(META, events) == feed
    # A feed assembled from separately rendered (cached) fragments is the same feed.
    meta = dataclasses.replace(META, zones=ical.zones_of(events))
    assert ical.render_calendar(meta, [ical.render_event(item) for item in events]) == feed


def test_rdate_values_are_one_per_line(feed):
    """ical.js reads only the first value of a comma-separated RDATE."""
    rdates = [line for line in unfolded_lines(feed) if re.match(r"RDATE[;:]", line)]
    assert rdates, "no RDATE in the feed, so this test checks nothing"
    assert not [line for line in rdates if "," in line.split(":", 1)[1]]


def test_each_timed_zone_has_one_vtimezone_covering_its_events(events, feed):
    lines = unfolded_lines(feed)
    used = {item.timezone for item in events if not item.all_day} - {"UTC"}
    assert sorted(line for line in lines if line.startswith("TZID:")) == sorted(
        f"TZID:{zone}" for zone in used
    )
    berlin = [
        item.zone_span for item in events if item.timezone == "Europe/Berlin" and not item.all_day
    ]
    found = onsets(feed, "Europe/Berlin")
    assert min(found["STANDARD"] + found["DAYLIGHT"]).date() <= min(first for first, _ in berlin)
    last_year = max(last for _, last in berlin).year
    assert max(found["DAYLIGHT"]).year >= last_year
    assert max(found["STANDARD"]).year >= last_year


# Regressions -------------------------------------------------------------------------------


def starts_and_ends(data: bytes) -> dict[str, tuple[str, str]]:
    """Return {parser: (start, end)} of the only event in *data*."""
    result = {}
    for name, parse in PARSERS.items():
        (row,) = parse(data)
        result[name] = (row["start"], row["end"])
    return result


def test_almaty_after_its_2024_change_is_utc_plus_5():
    data = feed_of(
        event("almaty@x", "Almaty", local("Asia/Almaty", 2025, 11, 12, 10), zone="Asia/Almaty")
    )
    want = ("2025-11-12T05:00:00Z", "2025-11-12T05:00:00Z")
    assert starts_and_ends(data) == dict.fromkeys(PARSERS, want)


def test_berlin_summer_2040_is_covered_by_the_vtimezone():
    start = local("Europe/Berlin", 2040, 7, 1, 10)
    data = feed_of(
        event("berlin@x", "Berlin", start, start + dt.timedelta(hours=2), zone="Europe/Berlin")
    )
    want = ("2040-07-01T08:00:00Z", "2040-07-01T10:00:00Z")
    assert starts_and_ends(data) == dict.fromkeys(PARSERS, want)
    found = onsets(data, "Europe/Berlin")
    assert any(onset.year == 2040 and onset.month == 3 for onset in found["DAYLIGHT"]), found
    assert any(onset.year == 2040 and onset.month == 10 for onset in found["STANDARD"]), found
    assert min(found["STANDARD"] + found["DAYLIGHT"]).date() <= dt.date(2040, 1, 1)
    assert not [line for line in unfolded_lines(data) if line.startswith("RDATE") and "," in line]


def test_berlin_summer_2025_in_icaljs():
    """ical.js reads only the first value of a comma-separated RDATE, which once made summer
    2025 UTC+1. The January 2024 event makes the zone start in 2023, so summer 2025 begins at
    the DAYLIGHT observance's second RDATE, which a comma-separated RDATE would lose."""
    summer = local("Europe/Berlin", 2025, 7, 15, 10)
    winter = local("Europe/Berlin", 2024, 1, 15, 10)
    data = feed_of(
        event("berlin-summer@x", "Summer", summer, zone="Europe/Berlin"),
        event("berlin-winter@x", "Winter", winter, zone="Europe/Berlin"),
    )
    summer_onsets = sorted(onsets(data, "Europe/Berlin")["DAYLIGHT"])
    assert [onset.year for onset in summer_onsets[:3]] == [2023, 2024, 2025]
    want = [("2025-07-15T08:00:00Z",) * 2, ("2024-01-15T09:00:00Z",) * 2]
    assert [(row["start"], row["end"]) for row in parse_with_icaljs(data)] == want
    for name, parse in PARSERS.items():
        assert [(row["start"], row["end"]) for row in parse(data)] == want, name


def test_all_day_end_is_exclusive():
    data = feed_of(
        event("visit@x", "Визит", dt.date(2025, 11, 11), dt.date(2025, 11, 13), "Asia/Almaty")
    )
    assert b"DTSTART;VALUE=DATE:20251111\r\n" in data
    assert b"DTEND;VALUE=DATE:20251113\r\n" in data
    assert starts_and_ends(data) == dict.fromkeys(PARSERS, ("2025-11-11", "2025-11-13"))


# The checks themselves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        b"BEGIN:VCALENDAR\nEND:VCALENDAR\r\n",  # bare LF
        b"BEGIN:VCALENDAR\r\nSUMMARY:a\rb\r\nEND:VCALENDAR\r\n",  # bare CR
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR",  # no final CRLF
        b"BEGIN:VCALENDAR\r\nSUMMARY:" + b"x" * 68 + b"\r\nEND:VCALENDAR\r\n",  # 76 octets
        "BEGIN:VCALENDAR\r\nSUMMARY:Қ\r\n".encode()[:-3] + b"\r\n \x9a\r\nEND:VCALENDAR\r\n",
    ],
    ids=["bare LF", "bare CR", "no final CRLF", "76 octets", "split character"],
)
def test_line_check_rejects(bad):
    with pytest.raises(AssertionError):
        assert_lines_well_formed(bad)


def test_icaljs_fails_loudly_on_a_tzid_without_vtimezone():
    data = feed_of(
        event("almaty@x", "Almaty", local("Asia/Almaty", 2025, 11, 12, 10), zone="Asia/Almaty")
    )
    assert b"DTSTART;TZID=Asia/Almaty:" in data
    unknown = data.replace(b"DTSTART;TZID=Asia/Almaty:", b"DTSTART;TZID=Asia/Qostanay:")
    with pytest.raises(AssertionError, match='TZID "Asia/Qostanay" has no VTIMEZONE'):
        parse_with_icaljs(unknown)
    floating = data.replace(b"DTSTART;TZID=Asia/Almaty:", b"DTSTART:")
    with pytest.raises(AssertionError, match="floating date-time"):
        parse_with_icaljs(floating)


def _one(start, end=None, zone="Europe/Berlin", summary="s") -> bytes:
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    event = ical.CalendarEvent("u@x", 0, summary, "CONFIRMED", start, end, zone, moment, moment)
    return ical.render(ical.CalendarMeta("n", "d", "https://x/", "https://x/"), [event])


def test_spring_forward_onset_is_the_local_time_before_the_change():
    # RFC 5545 3.6.5: DTSTART of an observance is local time in TZOFFSETFROM; Berlin moves
    # its clocks from 02:00 CET to 03:00 CEST (01:00Z) on the last Sunday of March.
    zone = ical.vtimezone("Europe/Berlin", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    daylight = next(sub for sub in zone.subcomponents if sub.name == "DAYLIGHT")
    standard = [sub for sub in zone.subcomponents if sub.name == "STANDARD"][-1]
    onsets = [daylight["DTSTART"].dt] + [r.dts[0].dt for r in daylight.get("RDATE", [])]
    # Observance onsets are floating local times (RFC 5545 3.6.5): naive on purpose.
    assert dt.datetime(2025, 3, 30, 2, 0) in onsets  # noqa: DTZ001
    assert daylight["TZOFFSETFROM"].td == dt.timedelta(hours=1)
    fall = [standard["DTSTART"].dt] + [r.dts[0].dt for r in standard.get("RDATE", [])]
    assert dt.datetime(2025, 10, 26, 3, 0) in fall  # noqa: DTZ001


@pytest.mark.parametrize("fold", [0, 1])
def test_a_wall_time_that_happens_twice_reads_the_same_everywhere(fold):
    start = dt.datetime(2025, 10, 26, 2, 30, fold=fold, tzinfo=ZoneInfo("Europe/Berlin"))
    data = _one(start)
    want = start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for parse in PARSERS.values():
        assert parse(data)[0]["start"] == want


def test_control_characters_are_dropped_and_line_ends_kept():
    start = dt.datetime(2025, 5, 5, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    data = _one(start, summary="Talks\x00\x0b\x1b end\r\nnext")
    assert b"\x00" not in data and b"\x0b" not in data and b"\x1b" not in data
    for parse in PARSERS.values():
        assert parse(data)[0]["summary"] == "Talks end\nnext"


def test_calendar_names_with_commas_semicolons_and_line_breaks_are_escaped():
    start = dt.datetime(2025, 5, 5, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    event = ical.CalendarEvent(
        "u@x", 0, "s", "CONFIRMED", start, None, "Europe/Berlin", moment, moment
    )
    meta = ical.CalendarMeta(
        "Торговля, энергия; ядро\r\nAES", "a;b,c\nd", "https://x/", "https://x/"
    )
    data = ical.render(meta, [event])
    assert_lines_well_formed(data)
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["DESCRIPTION"]) == "a;b,c\nd"
    assert "X-WR-CALNAME:Торговля\\, энергия\\; ядро\\nAES" in data.decode()
