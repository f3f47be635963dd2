"""The CSV format of events: files as editors' spreadsheets save them, and the round trip."""

import csv
import datetime as dt
import io
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.factories import ActorFactory, EventFactory, TopicFactory, TrackFactory
from timeline import languages, timing
from timeline.imports.csv_format import COLUMNS, read_csv, template_csv, write_csv
from timeline.imports.rows import FileRefused, Incoming, Reading, ReadOptions, Refused
from timeline.models import Event, Place, Precision, Topic, Track

KAZAKH_LETTERS = "әғқңөұүһі ӘҒҚҢӨҰҮҺІ"
TEXTS = ("title", "summary", "description")


def read(data: bytes, encoding: str = "") -> Reading:
    return read_csv(data, ReadOptions(language="ru", timezone="Asia/Almaty", encoding=encoding))


def csv_bytes(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def only(reading: Reading) -> Incoming:
    (row,) = reading.rows
    assert isinstance(row, Incoming), row
    return row


def stored_values(event: Event) -> dict:
    """Return every field the CSV carries, as the database holds it now."""
    event = Event.objects.get(pk=event.pk)
    return {
        "slug": event.slug,
        "kind": event.kind,
        "status": event.status,
        "precision": event.precision,
        "start_date": event.start_date,
        "start_time": event.start_time,
        "end_date": event.end_date,
        "end_time": event.end_time,
        "timezone": event.timezone,
        "place": event.place.slug if event.place else "",
        "track": event.track.slug if event.track else "",
        "part_of": event.part_of.slug if event.part_of else "",
        "countries": tuple(country.code for country in event.countries),
        "topics": tuple(sorted(topic.slug for topic in event.topics.all())),
        "participants": tuple(sorted(actor.slug for actor in event.participants.all())),
        "baseline_date": event.baseline_date,
        "baseline_precision": event.baseline_precision,
        "published": event.published,
        **{f"{f}_{code}": event.text_in(f, code) for f in TEXTS for code in languages.CODES},
    }


def assert_reads_back(events: list[Event], data: bytes) -> None:
    reading = read(data)
    assert reading.format == "csv"
    assert [row for row in reading.rows if isinstance(row, Refused)] == []
    assert len(reading.incoming) == len(events)
    by_uid = {row.uid: row for row in reading.incoming}
    for event in events:
        assert by_uid[event.calendar_uid].values == stored_values(event)


# --- files as spreadsheets save them ----------------------------------------------------------


def test_a_russian_excel_file_reads_right_titles_and_dates():
    # Russian Excel saves "CSV (разделители — точки с запятой)" in Windows-1251, dates as it shows.
    header = "uid;slug;kind;status;precision;start_date;end_date;countries;published;title_ru"
    row = ';vstrecha-1;meeting;tentative;day;11.11.2025;2.12.2025;KZ,RU;да;"Встреча; «Один»"'
    data = f"{header};summary_ru\r\n{row};Текст\r\n".encode("cp1251")
    row = only(read(data))
    assert row.uid == "" and row.line == 2
    assert row.values == {
        "slug": "vstrecha-1",
        "kind": "meeting",
        "status": "tentative",
        "precision": "day",
        "start_date": dt.date(2025, 11, 11),
        "end_date": dt.date(2025, 12, 2),
        "countries": ("KZ", "RU"),
        "published": True,
        "title_ru": "Встреча; «Один»",
        "summary_ru": "Текст",
    }


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""], ids=["with BOM", "without BOM"])
def test_utf8_with_or_without_bom(bom):
    data = bom + f"slug,title_kk\nmysal,Мысал {KAZAKH_LETTERS}\n".encode()
    row = only(read(data))
    assert row.values == {"slug": "mysal", "title_kk": f"Мысал {KAZAKH_LETTERS}"}


def test_excel_unicode_text_utf16_with_tabs():
    data = f"slug\ttitle_kk\r\nmysal\tМысал {KAZAKH_LETTERS}\r\n".encode("utf-16")
    assert only(read(data)).values["title_kk"] == f"Мысал {KAZAKH_LETTERS}"


def test_the_encoding_the_editor_names_wins():
    data = "slug,title_ru\nprimer,Пример\n".encode("koi8_r")
    assert only(read(data, encoding="koi8_r")).values["title_ru"] == "Пример"


def test_a_file_valid_in_no_encoding_is_refused():
    # 0x98 is undefined in Windows-1251 and, here, not UTF-8 either.
    with pytest.raises(FileRefused):
        read(b"slug,title_ru\nprimer,\x98\n")


def test_tab_delimited():
    data = b"uid\tslug\tstart_date\tstart_time\n\tone\t2025-11-11\t09:30:15\n"
    values = only(read(data)).values
    assert values == {
        "slug": "one",
        "start_date": dt.date(2025, 11, 11),
        "start_time": dt.time(9, 30, 15),
    }


def test_header_names_may_differ_in_case_and_spacing():
    data = b" UID ,Slug,Start Date,TITLE_EN,end-time\nabc@example.com,one,2025-11-11,Hello,9:05\n"
    row = only(read(data))
    assert row.uid == "abc@example.com"
    assert row.values == {
        "slug": "one",
        "start_date": dt.date(2025, 11, 11),
        "title_en": "Hello",
        "end_time": dt.time(9, 5),
    }


def test_an_unknown_column_refuses_the_whole_file():
    with pytest.raises(FileRefused) as refused:
        read(b"slug,titel_en,title_ru\none,Typo,\n")
    assert "titel_en" in refused.value.reason


def test_a_column_left_out_is_not_given_but_an_empty_cell_empties_the_field():
    data = b"slug,start_time,place,topics,countries,title_kk,published\none,,,,,,\n"
    values = only(read(data)).values
    assert values == {
        "slug": "one",
        "start_time": None,
        "place": "",
        "topics": (),
        "countries": (),
        "title_kk": "",
        "published": False,
    }
    assert "end_date" not in values


@pytest.mark.parametrize(
    ("column", "cell", "words"),
    [
        ("start_date", "2025-13-01", "no such day"),
        ("start_date", "11/11/2025", "2025-11-11"),
        ("end_date", "31.02.2025", "no such day"),
        ("start_time", "25:00", "no such time"),
        ("end_time", "9h30", "09:30"),
        ("kind", "Встреча", "visit, meeting, talks, signing, summit, opening, milestone"),
        ("status", "done", "tentative, confirmed"),
        ("precision", "week", "minute, day, month, quarter, year"),
        ("baseline_precision", "decade", "minute, day"),
        ("countries", "KZ,XX", "XX"),
        ("countries", "KAZ", "KAZ"),
        ("published", "maybe", "yes or no"),
        ("timezone", "Almaty", "Asia/Almaty"),
        ("place", "Астана", "slug"),
    ],
)
def test_a_bad_cell_refuses_its_row_with_the_row_number_and_value(column, cell, words):
    good = {
        "slug": "good",
        "kind": "visit",
        "status": "confirmed",
        "precision": "day",
        "start_date": "2025-11-11",
    }
    good.setdefault(column, "")
    data = csv_bytes(good, {**good, "slug": "bad", column: cell})
    first, second = read(data).rows
    assert isinstance(first, Incoming)
    assert isinstance(second, Refused)
    assert second.line == 3
    assert column in second.reason and words in second.reason
    assert second.value == cell


def test_a_required_cell_left_empty_is_refused():
    (row,) = read(b"slug,kind,start_date\none,meeting,\n").rows
    assert isinstance(row, Refused) and "start_date" in row.reason


def test_blank_lines_are_skipped_and_rows_keep_their_spreadsheet_numbers():
    rows = read(b"slug,title_en\r\n\r\none,One\r\n,,\r\n,\r\ntwo,Two\r\n").rows
    assert [(row.line, row.values["slug"]) for row in rows] == [(3, "one"), (6, "two")]


def test_more_rows_than_allowed_refuses_the_file(settings):
    settings.IMPORT_MAX_ROWS = 2
    assert len(read(b"slug\none\ntwo\n\n\n").rows) == 2
    with pytest.raises(FileRefused) as refused:
        read(b"slug\none\ntwo\nthree\n")
    assert refused.value.line == 4


@pytest.mark.parametrize(
    "data",
    [b'slug,title_en\none,"unterminated\ntwo,Two\n', b'slug,title_en\none,"quoted"trailing\n'],
    ids=["unterminated quote", "text after a closing quote"],
)
def test_a_malformed_file_is_refused_with_the_line(data):
    with pytest.raises(FileRefused) as refused:
        read(data)
    assert refused.value.line is not None


def test_nul_bytes_refuse_the_file_with_their_line():
    with pytest.raises(FileRefused) as refused:
        read(b"slug,title_en\none,One\ntwo,T\x00wo\n")
    assert refused.value.line == 3


def test_a_file_without_uid_or_slug_column_is_refused():
    with pytest.raises(FileRefused) as refused:
        read(b"title_en,start_date\nOne,2025-11-11\n")
    assert "uid" in refused.value.reason and "slug" in refused.value.reason


def test_a_row_with_neither_uid_nor_slug_is_refused():
    first, second = read(b"uid,slug,title_en\n,,Nameless\n,named,Named\n").rows
    assert isinstance(first, Refused) and first.line == 2
    assert "importing the file again" in first.reason
    assert isinstance(second, Incoming) and second.values["slug"] == "named"


def test_texts_read_as_the_model_stores_them():
    # Line ends as LF, letters composed (NFC): what the model would make of the cell anyway.
    data = 'slug,title_en,description_en\none,"e\u0301","a\r\nb\rc"\n'.encode()
    values = only(read(data)).values
    assert values["title_en"] == "\u00e9"
    assert values["description_en"] == "a\nb\nc"


def test_a_value_under_no_column_refuses_its_row():
    (row,) = read(b"slug,title_en\none,One,stray\n").rows
    assert isinstance(row, Refused) and row.value == "stray"


# --- the round trip ---------------------------------------------------------------------------

TRICKY = 'Алматы, «кавычки» "quotes"; semi; comma, tab\tend'
MULTILINE = f"{TRICKY}\nвторая строка\n\n{KAZAKH_LETTERS}\nlast"


@pytest.fixture
def varied_events(db) -> list[Event]:
    track = TrackFactory()
    topics = TopicFactory.create_batch(3)
    actors = ActorFactory.create_batch(2)
    whole = EventFactory(
        kind=Event.Kind.VISIT,
        start_date=dt.date(2025, 11, 10),
        end_date=dt.date(2025, 11, 13),
        countries=["RU", "KZ"],
        title_kk=f"Сапар {KAZAKH_LETTERS}",
        title_ru=f"Визит, {TRICKY}",
        summary_en=MULTILINE,
        description_ru=MULTILINE,
        description_kk=f"Қысқаша: {KAZAKH_LETTERS}",
    )
    whole.topics.set(topics[:2])
    whole.participants.set(actors)
    part = EventFactory(
        kind=Event.Kind.TALKS,
        precision=Precision.MINUTE,
        start_date=dt.date(2025, 11, 11),
        start_time=dt.time(9, 30, 15),
        end_date=dt.date(2025, 11, 11),
        end_time=dt.time(11, 0),
        timezone="Europe/Moscow",
        part_of=whole,
        published=False,
        status=Event.Status.TENTATIVE,
        ical_uid="040000008200E00074C5B7101A82E008@calendar.example.org",
        title_ru="Переговоры\u00a0«один; два»",
    )
    part.topics.set(topics)
    milestone = EventFactory(
        kind=Event.Kind.MILESTONE,
        precision=Precision.QUARTER,
        start_date=dt.date(2026, 7, 1),
        baseline_date=dt.date(2026, 1, 1),
        baseline_precision=Precision.MONTH,
        track=track,
        place=None,
        title_en='The "first" stage, then; more',
    )
    return [whole, part, milestone]


def test_written_events_read_back_exactly_as_stored(varied_events):
    data = write_csv(Event.objects.all())
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\r\n", 1)[0].decode("utf-8-sig") == ",".join(COLUMNS)
    assert_reads_back(varied_events, data)


def test_a_list_of_events_writes_the_same_as_a_queryset(varied_events):
    assert write_csv(varied_events) == write_csv(
        Event.objects.filter(pk__in=[e.pk for e in varied_events]).order_by("start_utc", "title")
    )


def test_writing_more_events_takes_no_more_queries(varied_events):
    def queries_to_write() -> int:
        with CaptureQueriesContext(connection) as captured:
            write_csv(Event.objects.all())
        return len(captured)

    before = queries_to_write()
    for event in varied_events:
        event.duplicate()
    assert Event.objects.count() == 2 * len(varied_events)
    assert queries_to_write() == before


# --- any event the model accepts --------------------------------------------------------------

# Zones with odd offsets, and every tenth name tzdata knows.
ZONES = sorted(
    {"Asia/Almaty", "Europe/Moscow", "Pacific/Chatham", "Asia/Kathmandu", "UTC"}
    | set(sorted(timing.available_zones())[::10])
)
COUNTRIES = ("KZ", "RU", "BY", "CN", "US", "UZ")


def texts(max_size: int, multi_line: bool) -> st.SearchStrategy[str]:
    """Return text of any printable Unicode (no control characters but tab, and newline)."""
    characters = (
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
        | st.sampled_from("\t\n" if multi_line else "\t")
        | st.sampled_from(f"{KAZAKH_LETTERS},;\"'\u00a0\ufeff")
    )
    return st.text(characters, max_size=max_size)


@st.composite
def event_specs(draw) -> dict:
    """Return the fields of an event and which links it has."""
    precision = draw(st.sampled_from(Precision.values))
    kind = draw(st.sampled_from(Event.Kind.values))
    start = draw(st.dates(timing.EARLIEST_DATE, timing.LATEST_DATE))
    fields = {
        "kind": kind,
        "status": draw(st.sampled_from(Event.Status.values)),
        "precision": precision,
        "start_date": start,
        "timezone": draw(st.just("") | st.sampled_from(ZONES)),
        "countries": draw(st.lists(st.sampled_from(COUNTRIES), unique=True, max_size=3)),
        "published": draw(st.booleans()),
        "ical_uid": draw(st.just("") | st.from_regex(r"[A-Za-z0-9@._-]{1,40}", fullmatch=True)),
    }
    later = st.integers(0, 5).map(lambda days: min(start + dt.timedelta(days), timing.LATEST_DATE))
    if precision == timing.MINUTE:
        fields["start_time"] = draw(st.times())
        if draw(st.booleans()):
            fields["end_date"] = draw(later)
            fields["end_time"] = draw(st.none() | st.times())
    elif precision == timing.DAY and draw(st.booleans()):
        fields["end_date"] = draw(later)
    if kind == Event.Kind.MILESTONE and draw(st.booleans()):
        fields["baseline_date"] = draw(st.dates(timing.EARLIEST_DATE, timing.LATEST_DATE))
        fields["baseline_precision"] = draw(st.sampled_from(Precision.values))
    for code in languages.CODES:
        fields[f"title_{code}"] = draw(texts(300, False))
        fields[f"summary_{code}"] = draw(texts(300, True))
        fields[f"description_{code}"] = draw(texts(1000, True))
    return {
        "event": fields,
        "place_zone": draw(st.none() | st.sampled_from(ZONES)),
        "topics": draw(st.integers(0, 3)),
        "participants": draw(st.integers(0, 2)),
        "in_a_whole": draw(st.booleans()),
    }


def saved(instance):
    """Save *instance* if model validation accepts it; otherwise discard the example."""
    try:
        instance.full_clean()
    except ValidationError:
        assume(False)
    instance.save()
    return instance


@contextmanager
def rolled_back():
    """Run one example in a savepoint that is rolled back, so examples never see each other."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=event_specs())
def test_any_event_the_model_accepts_reads_back_as_stored(db, spec):
    with rolled_back():
        fields = dict(spec["event"])
        if spec["place_zone"]:
            fields["place"] = saved(
                Place(name="P", slug="p", country="KZ", timezone=spec["place_zone"])
            )
        if fields["kind"] == Event.Kind.MILESTONE:
            fields["track"] = saved(Track(name="T", slug="t"))
        if spec["in_a_whole"]:
            year = timing.period_start(fields["start_date"], timing.YEAR)
            fields["part_of"] = saved(
                Event(title="Whole", slug="whole", precision=timing.YEAR, start_date=year)
            )
        event = saved(Event(slug="event", **fields))
        event.topics.set(
            saved(Topic(name=f"T{n}", slug=f"topic-{n}")) for n in range(spec["topics"])
        )
        event.participants.set(ActorFactory.create_batch(spec["participants"]))
        data = write_csv(Event.objects.filter(pk=event.pk))
        row = only(read(data))
        assert row.uid == event.calendar_uid
        assert row.values == stored_values(event)


# --- the template -----------------------------------------------------------------------------


def test_the_template_reads_with_one_plain_example_per_kind(db):
    reading = read(template_csv())
    rows = reading.incoming
    assert len(rows) == len(reading.rows)
    assert sorted(row.values["kind"] for row in rows) == sorted(Event.Kind.values)
    for row in rows:
        values = row.values
        assert row.uid == ""
        assert values["slug"] == f"example-{values['kind']}"
        assert values["status"] == Event.Status.TENTATIVE and values["published"] is False
        assert values["title_en"].startswith("Example:")
        assert values["title_ru"].startswith("Пример:")
        assert values["title_kk"].startswith("Мысал:")
        assert "Example row: replace or delete" in values["description_en"]
        assert values["start_date"].year == 2030
        assert values["place"] == values["track"] == values["part_of"] == ""
        assert values["topics"] == values["participants"] == ()


def test_template_rows_are_valid_events_but_the_milestone_wants_its_track(db):
    for row in read(template_csv()).incoming:
        fields = {
            name: value
            for name, value in row.values.items()
            if name not in ("place", "track", "part_of", "topics", "participants")
        }
        event = Event(**fields)
        if event.kind == Event.Kind.MILESTONE:
            with pytest.raises(ValidationError) as refused:
                event.full_clean()
            assert set(refused.value.message_dict) == {"track"}
            assert "track" in row.values["summary_en"]
        else:
            event.full_clean()
