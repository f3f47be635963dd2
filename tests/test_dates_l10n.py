"""Dates and numbers in the reader's language (kk, ru, en), as CLDR writes them.

CLDR puts a narrow no-break space (U+202F) before "г." and "ж.", a no-break space (U+00A0)
between digit groups in Russian and Kazakh, and thin spaces (U+2009) round an English dash
between dates: the strings below spell them out, as a reader's browser receives them.
"""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import pgettext

from timeline import l10n, timing
from timeline.feeds import publishing
from timeline.notifications import mail

from .factories import EventFactory, SourceFactory

NNBSP, NBSP, THIN = "\u202f", "\u00a0", "\u2009"
D = dt.date


@pytest.fixture(autouse=True)
def no_language_left_active():
    """Leave no language active: a request in Russian leaves Russian on for the whole thread."""
    yield
    translation.deactivate()


def tba(period: str, language: str) -> str:
    """Return "<period>, date to be announced" as the .po files of *language* translate it."""
    with translation.override(language):
        return pgettext("date label", "%(period)s, date to be announced") % {"period": period}


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("kk", f"2025{NNBSP}ж. 11 қараша"),
        ("ru", f"11 ноября 2025{NNBSP}г."),
        ("en", "11 Nov 2025"),
    ],
)
def test_one_day(language, label):
    assert timing.describe("day", D(2025, 11, 11), language=language) == label


@pytest.mark.parametrize(
    ("language", "within_a_month", "across_months", "across_years"),
    [
        (
            "kk",
            f"2025{NNBSP}ж. 11–12 қараша",
            f"2025{NNBSP}ж. 30 қараша – 1 желтоқсан",
            f"2025{NNBSP}ж. 30 желтоқсан – 2026{NNBSP}ж. 2 қаңтар",
        ),
        (
            "ru",
            f"11—12 ноября 2025{NNBSP}г.",
            f"30 ноября — 1 декабря 2025{NNBSP}г.",
            f"30 декабря 2025{NNBSP}г. — 2 января 2026{NNBSP}г.",
        ),
        (
            "en",
            "11–12 Nov 2025",
            f"30 Nov{THIN}–{THIN}1 Dec 2025",
            f"30 Dec 2025{THIN}–{THIN}2 Jan 2026",
        ),
    ],
)
def test_day_ranges_name_what_differs_once(language, within_a_month, across_months, across_years):
    def days(first, last):
        return timing.describe("day", first, end_date=last, language=language)

    assert days(D(2025, 11, 11), D(2025, 11, 12)) == within_a_month
    assert days(D(2025, 11, 30), D(2025, 12, 1)) == across_months
    assert days(D(2025, 12, 30), D(2026, 1, 2)) == across_years


@pytest.mark.parametrize(
    ("language", "at", "from_to", "overnight"),
    [
        (
            "kk",
            f"2025{NNBSP}ж. 12 қараша, 10:00",
            f"2025{NNBSP}ж. 12 қараша, 10:00–12:30",
            f"2025{NNBSP}ж. 12 қараша, 22:00 - 2025{NNBSP}ж. 13 қараша, 09:30",
        ),
        (
            "ru",
            f"12 ноября 2025{NNBSP}г., 10:00",
            f"12 ноября 2025{NNBSP}г., 10:00—12:30",
            f"12 ноября 2025{NNBSP}г., 22:00 — 13 ноября 2025{NNBSP}г., 09:30",
        ),
        (
            "en",
            "12 Nov 2025, 10:00",
            "12 Nov 2025, 10:00–12:30",
            f"12 Nov 2025, 22:00{THIN}–{THIN}13 Nov 2025, 09:30",
        ),
    ],
)
def test_minutes_on_a_24_hour_clock(language, at, from_to, overnight):
    day, ten = D(2025, 11, 12), dt.time(10, 0)
    assert timing.describe("minute", day, ten, language=language) == at
    assert timing.describe("minute", day, ten, day, dt.time(12, 30), language=language) == from_to
    overnight_label = timing.describe(
        "minute", day, dt.time(22, 0), D(2025, 11, 13), dt.time(9, 30), language=language
    )
    assert overnight_label == overnight


@pytest.mark.parametrize(
    ("language", "month", "quarter", "year"),
    [
        ("kk", f"2026{NNBSP}ж. қараша", f"2026{NNBSP}ж. І тоқсан", "2026"),
        # Russian names a month alone in the nominative: "ноябрь", never "ноября".
        ("ru", f"ноябрь 2026{NNBSP}г.", f"1-й квартал 2026{NNBSP}г.", "2026"),
        ("en", "November 2026", "Q1 2026", "2026"),
    ],
)
def test_coarse_dates_past_and_to_come(language, month, quarter, year):
    def label(precision, day, still_to_come):
        return timing.describe(precision, day, still_to_come=still_to_come, language=language)

    assert label("month", D(2026, 11, 1), False) == month
    assert label("quarter", D(2026, 2, 1), False) == quarter
    assert label("year", D(2026, 1, 1), False) == year
    assert label("month", D(2026, 11, 1), True) == tba(month, language)
    assert label("quarter", D(2026, 2, 1), True) == tba(quarter, language)
    assert label("year", D(2026, 1, 1), True) == tba(year, language)


def test_to_be_announced_in_english():
    assert timing.describe("year", D(2026, 1, 1), language="en") == "2026, date to be announced"
    assert tba("2026", "en") == "2026, date to be announced"


def test_labels_follow_the_active_language_and_fall_back_to_english():
    with translation.override("ru"):
        assert timing.describe("day", D(2025, 11, 11)) == f"11 ноября 2025{NNBSP}г."
    with translation.override("kk-kz"):
        assert timing.describe("day", D(2025, 11, 11)) == f"2025{NNBSP}ж. 11 қараша"
    with translation.override("de"):
        assert timing.describe("day", D(2025, 11, 11)) == "11 Nov 2025"
    assert timing.describe("day", D(2025, 11, 11), language="fr") == "11 Nov 2025"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("kk", f"1{NBSP}234{NBSP}567,5"),
        ("ru", f"1{NBSP}234{NBSP}567,5"),
        ("en", "1,234,567.5"),
    ],
)
def test_numbers(language, text):
    assert l10n.number(1234567.5, language) == text


@pytest.mark.parametrize(
    ("language", "after", "before"),
    [
        (
            "kk",
            f"2025{NNBSP}ж. 12 қараша, сәрсенбі, 10:00",
            f"2024{NNBSP}ж. 1 ақпан, бейсенбі, 10:00",
        ),
        (
            "ru",
            f"среда, 12 ноября 2025{NNBSP}г., 10:00",
            f"четверг, 1 февраля 2024{NNBSP}г., 10:00",
        ),
        ("en", "Wed, 12 Nov 2025, 10:00", "Thu, 1 Feb 2024, 10:00"),
    ],
)
def test_almaty_clock_is_utc_plus_five_since_march_2024(language, after, before):
    utc = dt.UTC
    assert (
        l10n.moment(dt.datetime(2025, 11, 12, 5, 0, tzinfo=utc), "Asia/Almaty", language) == after
    )
    assert l10n.moment(dt.datetime(2024, 2, 1, 4, 0, tzinfo=utc), "Asia/Almaty", language) == before


def test_timeline_month_headings_are_stand_alone_and_capitalised(client, db):
    EventFactory(title="Visit", start_date=D(2025, 11, 11))
    russian = client.get("/ru/").content.decode()
    assert '<h3 class="month">Ноябрь</h3>' in russian
    assert f"11 ноября 2025{NNBSP}г." in russian
    kazakh = client.get("/kk/").content.decode()
    assert '<h3 class="month">Қараша</h3>' in kazakh
    english = client.get("/en/").content.decode()
    assert '<h3 class="month">November</h3>' in english


def test_event_page_dates_sources_and_utc_time_in_the_readers_language(client, db):
    talks = EventFactory(precision="minute", start_date=D(2025, 11, 12), start_time=dt.time(10))
    SourceFactory(event=talks, published_on=D(2025, 11, 3))
    page = client.get(f"/ru/events/{talks.slug}/").content.decode()
    assert f"12 ноября 2025{NNBSP}г., 10:00" in page
    assert f"среда, 12 ноября 2025{NNBSP}г., 05:00 UTC" in page
    assert f'<time datetime="2025-11-03">3 ноября 2025{NNBSP}г.</time>' in page


def test_template_filters_use_the_active_language():
    template = Template(
        "{% load local_dates %}{{ day|local_date }} | {{ at|local_moment:'Asia/Almaty' }}"
        " | {{ n|local_number }} | {{ none|local_date }}"
    )
    context = Context(
        {"day": D(2025, 11, 3), "at": dt.datetime(2025, 11, 12, 5, tzinfo=dt.UTC), "n": 12345}
    )
    with translation.override("kk"):
        assert template.render(context) == (
            f"2025{NNBSP}ж. 3 қараша | 2025{NNBSP}ж. 12 қараша, сәрсенбі, 10:00 | 12{NBSP}345 | "
        )
    with translation.override("en"):
        assert template.render(context) == "3 Nov 2025 | Wed, 12 Nov 2025, 10:00 | 12,345 | "


def test_mail_times_in_the_subscribers_language(db):
    talks = EventFactory(precision="minute", start_date=D(2025, 11, 12), start_time=dt.time(10))
    times = mail.times(talks, "Europe/Moscow", "ru")
    assert times["reader"] == f"среда, 12 ноября 2025{NNBSP}г., 08:00 (Europe/Moscow)"
    assert times["local"] == f"среда, 12 ноября 2025{NNBSP}г., 10:00 (Asia/Almaty)"
    assert mail.times(talks, "UTC", "en")["reader"] == "Wed, 12 Nov 2025, 05:00 (UTC)"
    year = EventFactory(precision="year", start_date=D(2026, 1, 1), status="tentative")
    assert mail.times(year, "UTC", "ru")["reader"] == tba("2026", "ru")


def test_feed_description_writes_source_dates_in_english_unless_asked(db):
    event = EventFactory(summary="", description="")
    SourceFactory(
        event=event, publisher="Kazinform", published_on=D(2025, 11, 3), url="https://x.kz/a"
    )
    assert publishing.describe_event(event, "https://timeline.test/e/") == (
        "Sources:\n- Kazinform, 3 Nov 2025: https://x.kz/a\n\nhttps://timeline.test/e/"
    )
    assert "- Kazinform, 3 ноября 2025\u202fг.: https://x.kz/a" in publishing.describe_event(
        event, "https://timeline.test/e/", "ru"
    )


def test_feed_description_lists_official_sources_first_at_their_date_precision(db):
    event = EventFactory(summary="", description="")
    SourceFactory(
        event=event,
        publisher="The Astana Times",
        published_on=D(2025, 11, 1),
        published_precision="month",
        url="https://astanatimes.com/",
        url_is_item=False,
    )
    SourceFactory(
        event=event,
        kind="official",
        publisher="Akorda",
        published_on=D(2025, 11, 12),
        url="https://www.akorda.kz/en/a",
    )
    event = publishing.Event.objects.prefetch_related(publishing.sources_official_first()).get(
        pk=event.pk
    )
    assert publishing.describe_event(event, "https://timeline.test/e/") == (
        "Sources:\n- Akorda, 12 Nov 2025: https://www.akorda.kz/en/a\n"
        "- The Astana Times, November 2025 (exact address not known): https://astanatimes.com/"
        "\n\nhttps://timeline.test/e/"
    )
