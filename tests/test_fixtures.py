"""The seed data: every dated fact of the founding article, with its source, loaded idempotently."""

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from django.core.management import call_command

from timeline import languages, timing
from timeline.models import (
    Actor,
    Agreement,
    AgreementStep,
    Event,
    Figure,
    Metric,
    Place,
    Source,
    Topic,
    Track,
)
from timeline.models.translations import MISSING, Translated, TranslationState, state_field

pytestmark = pytest.mark.django_db

MODELS = (Place, Actor, Topic, Track, Event, Source, Metric, Figure, Agreement, AgreementStep)


def load_seed() -> None:
    call_command("loaddata", "fixtures/seed.json", verbosity=0)


def snapshot() -> dict:
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in MODELS}


def test_loading_twice_leaves_the_same_data():
    load_seed()
    first = snapshot()
    load_seed()
    assert snapshot() == first
    assert Event.objects.count() >= 8
    assert Figure.objects.count() >= 11


def test_every_event_is_valid_sourced_and_stored_in_utc_as_computed():
    load_seed()
    for event in Event.objects.all():
        event.full_clean()
        assert event.sources.exists(), f"{event} has no source"
        span = timing.utc_span(
            event.precision,
            event.effective_timezone,
            event.start_date,
            event.start_time,
            event.end_date,
            event.end_time,
        )
        assert (event.start_utc, event.end_utc) == (span.start, span.end), event.title
        assert event.zone == event.effective_timezone
    publishers = set(Source.objects.values_list("publisher", flat=True))
    assert {"The Astana Times", "Akorda press service"} <= publishers
    for source in Source.objects.all():
        source.full_clean()


def test_the_facts_are_recorded_at_the_precision_the_sources_support():
    load_seed()
    places = {p.name: p.timezone for p in Place.objects.all()}
    assert places["Moscow"] == "Europe/Moscow"
    assert places["Almaty"] == "Asia/Almaty" and places["Astana"] == "Asia/Almaty"
    assert places["Omsk"] == "Asia/Omsk"
    assert {"diplomacy", "trade", "energy", "nuclear", "education"} <= set(
        Topic.objects.values_list("slug", flat=True)
    )

    visit = Event.objects.get(kind="visit", place__name="Moscow")
    assert (visit.precision, visit.start_date, visit.end_date) == (
        "day",
        dt.date(2025, 11, 11),
        dt.date(2025, 11, 12),
    )
    assert visit.when == "11–12 Nov 2025"
    assert {"Kassym-Jomart Tokayev", "Vladimir Putin"} <= {a.name for a in visit.participants.all()}
    for figure in ("$27 billion", "$30 billion", "$4 billion"):
        assert figure in visit.description

    declaration = Event.objects.get(kind="signing")
    assert "alliance" in declaration.title.lower()
    assert visit.start_date <= declaration.start_date <= visit.end_date

    matviyenko = Event.objects.get(participants__name="Valentina Matviyenko")
    assert visit.start_date <= matviyenko.start_date <= visit.end_date

    return_visit = Event.objects.get(kind="visit", start_date__year=2026)
    assert return_visit.precision == "year"
    assert return_visit.when == "2026, date to be announced"
    assert not return_visit.is_calendar_dated

    construction = Event.objects.get(kind="milestone")
    assert construction.track.slug == "kazakhstan-first-nuclear-power-plant"
    assert "6,000" in construction.description and "3,000" in construction.description

    openings = Event.objects.filter(kind="opening")
    assert {e.place.name for e in openings} >= {"Almaty", "Omsk"}


# The seed in three languages ------------------------------------------------------------------

TRANSLATED = (Place, Actor, Topic, Track, Event, Metric, Agreement)
NOTES = Path("fixtures/TRANSLATIONS.md")
# Letters Kazakh has and Russian lacks: a Cyrillic text with one of them is Kazakh.
KAZAKH_LETTERS = frozenset("ӘәҒғҚқҢңӨөҰұҮүҺһІі")


def texts(record: Translated, language: str) -> dict[str, str]:
    """Return the record's texts as written in *language*, by field name."""
    return {field: record.text_in(field, language) for field in record.translated_fields}


def written_in(text: str) -> str | None:
    """Return the language a text's letters show: 'kk', 'ru' or 'en'; None if it has no letters."""
    if any(char in KAZAKH_LETTERS for char in text):
        return languages.KAZAKH
    if any("CYRILLIC" in unicodedata.name(char, "") for char in text):
        return languages.RUSSIAN
    if any(char.isalpha() for char in text):
        return languages.ENGLISH
    return None


def official_forms() -> dict[str, set[str]]:
    """Return, per language, the names TRANSLATIONS.md lists as official."""
    forms: dict[str, set[str]] = {languages.KAZAKH: set(), languages.RUSSIAN: set()}
    for line in NOTES.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 6:
            _english, kazakh, kk_status, russian, ru_status, _why = cells
            if kk_status == "official":
                forms[languages.KAZAKH].add(kazakh)
            if ru_status == "official":
                forms[languages.RUSSIAN].add(russian)
    return forms


def test_every_text_of_the_seed_is_there_in_all_three_languages():
    load_seed()
    for model in TRANSLATED:
        for record in model.objects.all():
            for language in languages.CODES:
                where = f"{model.__name__} {record.pk} in {language}"
                assert not record.missing_in(language), (where, record.missing_in(language))
                assert record.translation_state(language) != MISSING, where
            assert record.translation_state(languages.ENGLISH) == TranslationState.REVIEWED


def test_every_source_says_the_language_its_title_and_quote_are_written_in():
    load_seed()
    for source in Source.objects.all():
        assert source.language in languages.CODES, source.url
        for text in (source.title, source.quote):
            shown = written_in(text)
            if shown is not None:
                assert shown == source.language, (source.url, text)
    assert Source.objects.get(url__contains="inform.kz/ru").language == languages.RUSSIAN
    assert Source.objects.get(url__contains="kremlin.ru/events").language == languages.ENGLISH


def test_only_names_listed_as_official_are_marked_reviewed_in_kazakh_and_russian():
    load_seed()
    official = official_forms()
    reviewed = 0
    for model in TRANSLATED:
        for record in model.objects.all():
            for language in (languages.KAZAKH, languages.RUSSIAN):
                if getattr(record, state_field(language)) != TranslationState.REVIEWED:
                    continue
                reviewed += 1
                for name, text in texts(record, language).items():
                    assert not text or text in official[language], (
                        f"{model.__name__} {record.pk} {name}_{language} is reviewed "
                        f"but not listed as official in {NOTES}: {text!r}"
                    )
    assert reviewed, "the places and people with official names should be reviewed"
    for language in (languages.KAZAKH, languages.RUSSIAN):
        prose = Event.objects.filter(**{state_field(language): TranslationState.REVIEWED})
        assert not prose.exists(), f"event prose in {language} has not been reviewed"
