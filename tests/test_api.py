"""The JSON API and the Atom feed of changes, as an integrator would use them."""

import datetime as dt
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import jsonschema
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from timeline import l10n
from timeline.models import Event

from .factories import ActorFactory, EventFactory, PlaceFactory, SourceFactory, TopicFactory

pytestmark = pytest.mark.django_db
SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "timeline/schemas/events-api.json").read_text()
)
PAGE = {"$ref": "#/$defs/page", "$defs": SCHEMA["$defs"]}
EVENT = {"$ref": "#/$defs/event", "$defs": SCHEMA["$defs"]}


def validate(document, schema) -> None:
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())


def test_seed_data_through_the_api_matches_the_schema(client):
    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    body = client.get("/api/events/").json()
    validate(body, PAGE)
    assert body["count"] == Event.objects.published().count()
    visit = next(e for e in body["results"] if e["slug"] == "tokayev-state-visit-to-russia-2025")
    assert (visit["precision"], visit["start"], visit["end"]) == ("day", "2025-11-11", "2025-11-12")
    assert visit["start_utc"] == "2025-11-10T21:00:00+00:00"
    undated = next(
        e for e in body["results"] if e["precision"] == "year" and e["status"] == "tentative"
    )
    assert undated["when"] == "2026, date to be announced" and undated["ics"] is None
    single = client.get(f"/api/events/{visit['uid']}/").json()
    validate(single, EVENT)
    assert single == visit


def test_times_carry_offsets_and_filters_combine(client):
    energy, trade = TopicFactory(slug="energy"), TopicFactory(slug="trade")
    putin = ActorFactory(slug="vladimir-putin")
    talks = EventFactory(
        precision="minute", start_date=dt.date(2025, 11, 12), start_time=dt.time(10)
    )
    talks.topics.add(energy, trade)
    talks.participants.add(putin)
    SourceFactory(event=talks)
    other = EventFactory(kind="opening", countries=["RU"])
    other.topics.add(energy)
    results = client.get("/api/events/", {"topic": "energy", "actor": "vladimir-putin"}).json()
    assert [e["uid"] for e in results["results"]] == [str(talks.uid)]
    item = results["results"][0]
    assert item["start"] == "2025-11-12T10:00:00+05:00"
    assert item["start_utc"] == "2025-11-12T05:00:00+00:00"
    assert client.get("/api/events/", {"kind": "opening"}).json()["count"] == 1
    assert client.get("/api/events/", {"country": "ru"}).json()["count"] == 1
    assert client.get("/api/events/", {"topic": "nothing"}).json()["count"] == 0


def test_pagination_and_bad_input(client):
    for number in range(7):
        EventFactory(start_date=dt.date(2025, 1, 1) + dt.timedelta(days=number))
    first = client.get("/api/events/", {"page_size": 3}).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert "page=2" in first["next"]
    last = client.get("/api/events/", {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None
    assert client.get("/api/events/", {"page": "x"}).status_code == 400
    assert client.get("/api/events/", {"page": 99}).status_code == 404
    assert client.get("/api/events/00000000-0000-4000-8000-000000000000/").status_code == 404
    draft = EventFactory(published=False)
    assert client.get(f"/api/events/{draft.uid}/").status_code == 404


def test_api_queries_do_not_grow_with_events(client):
    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get("/api/events/", {"page_size": 200}).status_code == 200
        return len(context.captured_queries)

    def make(n):
        topic, actor = TopicFactory(), ActorFactory()
        for _ in range(n):
            event = EventFactory()
            event.topics.add(topic)
            event.participants.add(actor)
            SourceFactory(event=event)

    make(10)
    few = count()
    make(1000)
    assert count() == few


def test_changes_atom_feed_lists_recent_changes_first(client):
    older = EventFactory(title="Older")
    newer = EventFactory(title="Newer")
    Event.objects.filter(pk=older.pk).update(updated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    response = client.get("/feeds/changes.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert [e.find("a:id", ns).text for e in entries][:2] == [
        f"urn:uuid:{newer.uid}",
        f"urn:uuid:{older.uid}",
    ]


class _Rendered(HTMLParser):
    """What a feed reader shows of an HTML fragment: its elements and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs) -> None:
        self.elements.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def shown(detail) -> tuple[list[str], str]:
    """Return the elements a reader would render from an entry field, and the text it shows."""
    if detail.type == "text/plain":
        return [], detail.value
    assert detail.type in {"text/html", "application/xhtml+xml"}, detail.type
    rendered = _Rendered()
    rendered.feed(detail.value)
    rendered.close()
    return rendered.elements, rendered.text


def test_changes_feed_shows_markup_typed_by_an_editor_as_text(client):
    title = "Visit <script>alert(1)</script> & talks"
    summary = "Talks <img src=x onerror=alert(1)> then <script>alert(2)</script> & 1 < 2"
    event = EventFactory(title=title, summary=summary)

    response = client.get("/feeds/changes.atom")

    # As a reader decodes it, without feedparser's own clean-up of HTML (many readers have none).
    feed = feedparser.parse(response.content, sanitize_html=False)
    [entry] = feed.entries
    assert shown(entry.summary_detail) == ([], summary)
    assert shown(entry.title_detail) == ([], f"{title} ({event.when})")


# --- languages ---------------------------------------------------------------------------------
PAGE_IN_EVERY_LANGUAGE = {"$ref": "#/$defs/pageInEveryLanguage", "$defs": SCHEMA["$defs"]}
EVENT_IN_EVERY_LANGUAGE = {"$ref": "#/$defs/eventInEveryLanguage", "$defs": SCHEMA["$defs"]}


def translated_visit():
    """Return an event written in Russian and English, with a Kazakh title only, in Astana."""
    place = PlaceFactory(name="Astana", name_kk="Астана", name_ru="Астана")
    event = EventFactory(
        title="State visit",
        title_ru="Государственный визит",
        title_kk="Мемлекеттік сапар",
        summary="Talks on trade.",
        summary_ru="Переговоры о торговле.",
        description="Long English text.",
        start_date=dt.date(2025, 11, 11),
        place=place,
    )
    event.topics.add(TopicFactory(name="Trade", name_ru="Торговля", slug="trade"))
    return event


def test_the_api_answers_in_the_language_asked_for_and_says_which(client):
    event = translated_visit()
    response = client.get("/api/events/", {"lang": "ru"}, HTTP_ACCEPT_LANGUAGE="kk")
    assert response["Content-Language"] == "ru"
    assert "Accept-Language" in response["Vary"]
    body = response.json()
    validate(body, PAGE)
    assert body["language"] == "ru"
    (item,) = body["results"]
    assert item["language"] == "ru"
    assert (item["title"], item["title_language"]) == ("Государственный визит", "ru")
    assert (item["summary"], item["summary_language"]) == ("Переговоры о торговле.", "ru")
    # No Russian description: the next a Russian reader reads, English, and it says so.
    assert (item["description"], item["description_language"]) == ("Long English text.", "en")
    assert item["when"] == l10n.date(dt.date(2025, 11, 11), "ru")
    assert (item["place"]["name"], item["place"]["name_language"]) == ("Астана", "ru")
    assert item["topics"] == [{"name": "Торговля", "name_language": "ru", "slug": "trade"}]
    assert item["url"] == f"https://timeline.test/ru/events/{event.slug}/"
    assert item["ics"] == f"https://timeline.test/ru/events/{event.slug}.ics"
    EventFactory(start_date=dt.date(2025, 12, 1))
    following = client.get("/api/events/", {"lang": "ru", "page_size": 1}).json()["next"]
    assert "lang=ru" in following  # the next page is in the same language
    single = client.get(f"/api/events/{event.uid}/", {"lang": "ru"})
    assert single["Content-Language"] == "ru"
    validate(single.json(), EVENT)
    assert single.json() == item


def test_without_lang_accept_language_chooses_else_english(client):
    event = translated_visit()
    kazakh = client.get(f"/api/events/{event.uid}/", HTTP_ACCEPT_LANGUAGE="kk-KZ, ru;q=0.8")
    assert kazakh["Content-Language"] == "kk"
    item = kazakh.json()
    assert (item["language"], item["title"], item["title_language"]) == (
        "kk",
        "Мемлекеттік сапар",
        "kk",
    )
    # A Kazakh reader without a Kazakh summary reads the Russian one.
    assert (item["summary"], item["summary_language"]) == ("Переговоры о торговле.", "ru")
    assert item["when"] == l10n.date(dt.date(2025, 11, 11), "kk")
    # The first language of ours in the header, by its weights; none of ours: English.
    preferred = client.get("/api/events/", HTTP_ACCEPT_LANGUAGE="de, ru;q=0.5, kk;q=0.4")
    assert preferred.json()["language"] == "ru"
    for header in ("de, fr;q=0.5", "ru;q=0", ""):
        answer = client.get("/api/events/", HTTP_ACCEPT_LANGUAGE=header)
        assert answer.json()["language"] == "en" and answer["Content-Language"] == "en", header


def test_an_unknown_language_is_refused_clearly(client):
    translated_visit()
    for path in ("/api/events/", "/api/events/00000000-0000-4000-8000-000000000000/"):
        response = client.get(path, {"lang": "xx"})
        assert response.status_code == 400
        body = response.json()
        validate(body, {"$ref": "#/$defs/error", "$defs": SCHEMA["$defs"]})
        assert "'xx'" in body["error"]
        assert body["languages"] == ["kk", "ru", "en", "all"]


def test_lang_all_gives_every_translation_and_how_far_each_got(client):
    event = translated_visit()
    Event.objects.filter(pk=event.pk).update(description_ru="Подробно.", translation_en="reviewed")
    body = client.get("/api/events/", {"lang": "all"}, HTTP_ACCEPT_LANGUAGE="ru").json()
    validate(body, PAGE_IN_EVERY_LANGUAGE)
    assert body["language"] == "all"
    (item,) = body["results"]
    assert item["title"] == {
        "kk": "Мемлекеттік сапар",
        "ru": "Государственный визит",
        "en": "State visit",
    }
    assert item["summary"] == {"kk": None, "ru": "Переговоры о торговле.", "en": "Talks on trade."}
    assert item["translations"] == {"kk": "missing", "ru": "draft", "en": "reviewed"}
    assert item["when"] == {
        code: l10n.date(dt.date(2025, 11, 11), code) for code in ("kk", "ru", "en")
    }
    assert item["url"]["kk"] == f"https://timeline.test/kk/events/{event.slug}/"
    assert item["topics"] == [
        {"name": {"kk": None, "ru": "Торговля", "en": "Trade"}, "slug": "trade"}
    ]
    single = client.get(f"/api/events/{event.uid}/", {"lang": "all"})
    assert single["Content-Language"] == "kk, ru, en"
    validate(single.json(), EVENT_IN_EVERY_LANGUAGE)


def test_the_changes_feed_in_the_language_asked_for(client):
    event = translated_visit()
    english_only = EventFactory(title="Opening of a plant", summary="A plant opens.")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    lang = "{http://www.w3.org/XML/1998/namespace}lang"

    response = client.get("/feeds/changes.atom", {"lang": "ru"}, HTTP_ACCEPT_LANGUAGE="kk")
    assert response["Content-Language"] == "ru" and "Accept-Language" in response["Vary"]
    root = ET.fromstring(response.content)
    assert root.get(lang) == "ru"
    assert root.find("a:link[@rel='self']", ns).get("href").endswith("/feeds/changes.atom?lang=ru")
    entries = {e.find("a:id", ns).text: e for e in root.findall("a:entry", ns)}
    visit, opening = entries[f"urn:uuid:{event.uid}"], entries[f"urn:uuid:{english_only.uid}"]
    when = l10n.date(dt.date(2025, 11, 11), "ru")
    assert visit.find("a:title", ns).text == f"Государственный визит ({when})"
    assert visit.find("a:title", ns).get(lang) is None  # in the feed's language
    assert visit.find("a:summary", ns).text == "Переговоры о торговле."
    assert visit.find("a:link", ns).get("href").endswith(f"/ru/events/{event.slug}/")
    # No Russian text: the English one, marked as English.
    assert opening.find("a:title", ns).get(lang) == "en"
    assert opening.find("a:summary", ns).get(lang) == "en"
    assert opening.find("a:summary", ns).text == "A plant opens."

    kazakh = ET.fromstring(client.get("/feeds/changes.atom", HTTP_ACCEPT_LANGUAGE="kk").content)
    assert kazakh.get(lang) == "kk"
    assert kazakh.find("a:link[@rel='self']", ns).get("href").endswith("?lang=kk")
    refused = client.get("/feeds/changes.atom", {"lang": "xx"})
    assert refused.status_code == 400 and "'xx'" in refused.content.decode()
