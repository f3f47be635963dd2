"""Calendar feeds in kk, ru and en: the same events and times, each in its language, marked so."""

import datetime as dt
import gzip

import icalendar
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone, translation
from django.utils.translation import gettext

from timeline.feeds import ical
from timeline.feeds import publishing as feeds
from timeline.models import Event, EventFragment, Feed

from .factories import (
    ActorFactory,
    EventFactory,
    PlaceFactory,
    PrivateFeedFactory,
    TopicFactory,
    TrackFactory,
)
from .feed_helpers import expected, generate_events
from .parsers import (
    PARSERS,
    assert_lines_well_formed,
    parse_with_icalendar,
)

pytestmark = pytest.mark.django_db

LANGUAGES = ("kk", "ru", "en")
TALKS_RU = "Переговоры в Астане; «союз», этап 2"
TALKS_KK = "Астанадағы келіссөздер: ұйғарым, өңір, Ғылым"


def fetch(client, url: str, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return response


def unfolded(body: bytes) -> str:
    return body.decode().replace("\r\n ", "")


@pytest.fixture
def trilingual():
    """Events written in all three languages, in one, and cancelled; in several feeds."""
    astana = PlaceFactory(name="Astana", name_ru="Астана", name_kk="Астана")
    omsk = PlaceFactory(name="Omsk", country="RU", timezone="Asia/Omsk")
    topic = TopicFactory(name="Energy", name_ru="Энергетика", name_kk="Энергетика", slug="energy")
    track = TrackFactory(name="Plant", name_ru="АЭС", slug="plant")
    actor = ActorFactory(name="Rosatom", name_ru="Росатом", slug="rosatom")
    talks = EventFactory(
        title="Talks in Astana",
        title_ru=TALKS_RU,
        title_kk=TALKS_KK,
        summary="Presidents meet.",
        summary_ru="Встреча президентов.",
        place=astana,
        precision="minute",
        start_time=dt.time(10, 30),
        countries=["KZ", "RU"],
        track=track,
    )
    talks.topics.add(topic)
    talks.participants.add(actor)
    russian_only = EventFactory(
        title="", title_ru="Только по-русски", place=omsk, start_date=dt.date(2025, 12, 1)
    )
    russian_only.topics.add(topic)
    english_only = EventFactory(title="Only in English", place=omsk, countries=["KZ"])
    cancelled = EventFactory(
        title="Cancelled talks",
        title_ru="Отменённые переговоры",
        title_kk="Тоқтатылған келіссөздер",
        status="cancelled",
        start_date=dt.date(2026, 1, 15),
    )
    return [Event.objects.get(pk=event.pk) for event in (talks, russian_only, english_only)] + [
        Event.objects.get(pk=cancelled.pk)
    ]


def test_each_language_reads_to_the_same_uids_and_times_with_its_own_text(client, trilingual):
    talks, russian_only, english_only, _cancelled = trilingual
    schedules = {}
    stamps = {}
    for language in LANGUAGES:
        body = fetch(client, f"/feeds/{language}/all.ics").content
        assert_lines_well_formed(body)
        want = expected(trilingual, language, with_languages=True)
        for name, parse in PARSERS.items():
            assert parse(body, languages=True) == want, (language, name)
        rows = {row["uid"]: row for row in parse_with_icalendar(body, languages=True)}
        schedules[language] = {
            uid: (row["sequence"], row["status"], row["all_day"], row["start"], row["end"])
            for uid, row in rows.items()
        }
        calendar = icalendar.Calendar.from_ical(body)
        stamps[language] = {
            str(vevent["UID"]): vevent.decoded("DTSTAMP") for vevent in calendar.walk("VEVENT")
        }
        if language == "ru":
            assert rows[str(talks.uid)]["summary"] == TALKS_RU
            assert rows[str(talks.uid)]["languages"]["SUMMARY"] == "ru"
            assert f"SUMMARY;LANGUAGE=ru:{ical.Text(TALKS_RU).to_ical().decode()}" in (
                unfolded(body)
            )
            assert rows[str(english_only.uid)]["languages"]["SUMMARY"] == "en"
        if language == "kk":
            assert rows[str(talks.uid)]["summary"] == TALKS_KK
            # No Kazakh title: a Kazakh reader is shown the Russian one, marked Russian.
            assert rows[str(russian_only.uid)]["summary"] == "Только по-русски"
            assert rows[str(russian_only.uid)]["languages"]["SUMMARY"] == "ru"
            assert rows[str(english_only.uid)]["languages"]["SUMMARY"] == "en"
        if language == "en":
            assert rows[str(russian_only.uid)]["languages"]["SUMMARY"] == "ru"
    assert schedules["kk"] == schedules["ru"] == schedules["en"]
    assert len(schedules["en"]) == 4
    assert stamps["kk"] == stamps["ru"] == stamps["en"]


def test_each_language_points_to_its_pages_and_names_the_calendar_in_it(client, trilingual):
    talks = trilingual[0]
    for language in LANGUAGES:
        text = unfolded(fetch(client, f"/feeds/{language}/topics/energy.ics").content)
        assert f"URL:https://timeline.test/{language}/events/{talks.slug}/" in text
        assert f"https://timeline.test/{language}/events/{talks.slug}/\r\n" in text
        assert f"SOURCE;VALUE=URI:https://timeline.test/feeds/{language}/topics/energy.ics" in (
            text
        )
        with translation.override(language):
            description = gettext("Events about %(topic)s.") % {"topic": "энергетика"}
            if language == "en":
                description = gettext("Events about %(topic)s.") % {"topic": "energy"}
        assert f"DESCRIPTION;LANGUAGE={language}:{description}\r\n" in text
        assert f"X-WR-CALDESC:{description}\r\n" in text
    ru = unfolded(fetch(client, "/feeds/ru/topics/energy.ics").content)
    assert "NAME;LANGUAGE=ru:Kazakhstan–Russia timeline: Энергетика\r\n" in ru
    assert "X-WR-CALNAME:Kazakhstan–Russia timeline: Энергетика\r\n" in ru
    assert "DESCRIPTION;LANGUAGE=ru:Встреча президентов." in ru
    assert "LOCATION;LANGUAGE=ru:Астана\\, " in ru
    # The track has no Kazakh name: the Kazakh calendar is named in Russian, and says so.
    kk = unfolded(fetch(client, "/feeds/kk/tracks/plant.ics").content)
    assert "NAME;LANGUAGE=ru:Kazakhstan–Russia timeline: АЭС\r\n" in kk


def test_missing_texts_fall_back_with_their_language_drafts_show_as_on_pages(client, trilingual):
    talks = trilingual[0]
    talks.summary_kk = "Президенттер кездесуі."
    talks.translation_kk = "draft"
    talks.save()
    kk = unfolded(fetch(client, "/feeds/kk/all.ics").content)
    # A draft translation is shown, as pages show it, in its own language.
    assert "DESCRIPTION;LANGUAGE=kk:Президенттер кездесуі." in kk
    # No Kazakh summary or place name: Russian where there is one, then English.
    en = unfolded(fetch(client, "/feeds/en/all.ics").content)
    assert "SUMMARY;LANGUAGE=ru:Только по-русски" in en
    assert "LOCATION;LANGUAGE=en:Omsk\\, Russia" in en
    ru = unfolded(fetch(client, "/feeds/ru/all.ics").content)
    assert "SUMMARY;LANGUAGE=en:Only in English" in ru
    assert "LOCATION;LANGUAGE=en:Omsk\\, Россия" in ru
    with translation.override("ru"):
        cancelled = gettext("Cancelled: %(title)s") % {"title": "Отменённые переговоры"}
    assert f"SUMMARY;LANGUAGE=ru:{cancelled}" in ru


def test_bare_addresses_serve_the_english_feed_byte_for_byte_whatever_the_reader(
    client, trilingual
):
    talks = trilingual[0]
    for bare in (
        "/feeds/all.ics",
        "/feeds/topics/energy.ics",
        "/feeds/countries/KZ.ics",
        "/feeds/countries/kz.ics",
        "/feeds/tracks/plant.ics",
        "/feeds/actors/rosatom.ics",
        f"/events/{talks.slug}.ics",
    ):
        english = bare.replace("/feeds/", "/feeds/en/").replace("/events/", "/en/events/")
        want = fetch(client, english)
        for accept in ("ru", "kk", "en", ""):
            got = fetch(client, bare, HTTP_ACCEPT_LANGUAGE=accept)
            assert got.content == want.content, (bare, accept)
            assert got["ETag"] == want["ETag"]
            assert got["Vary"] == "Accept-Encoding"
        assert b"SUMMARY;LANGUAGE=en:" in want.content
    # The per-language addresses answer in theirs, whatever the reader's preference.
    for language in ("kk", "ru"):
        for accept in ("en", "ru", "kk"):
            body = fetch(
                client, f"/{language}/events/{talks.slug}.ics", HTTP_ACCEPT_LANGUAGE=accept
            ).content
            assert f"SUMMARY;LANGUAGE={language}:".encode() in body
            assert f"/{language}/events/{talks.slug}/".encode() in body


def test_conditional_get_per_language(client, trilingual):
    tags = {}
    for language in LANGUAGES:
        url = f"/feeds/{language}/all.ics"
        first = fetch(client, url)
        tags[language] = first["ETag"]
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        since = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
        assert since.status_code == 304
        zipped = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert gzip.decompress(zipped.content) == first.content
        again = client.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=zipped["ETag"])
        assert again.status_code == 304
        head = client.head(url)
        assert head["ETag"] == first["ETag"] and head.content == b""
    assert len(set(tags.values())) == 3
    # Another language's copy is not this one's.
    other = client.get("/feeds/ru/all.ics", HTTP_IF_NONE_MATCH=tags["kk"])
    assert other.status_code == 200
    assert client.get("/feeds/de/all.ics").status_code == 404
    assert client.get("/feeds/ru/topics/no-such-topic.ics").status_code == 404


def test_one_edit_redraws_that_event_once_per_language_and_nothing_else(monkeypatch):
    events = generate_events(40)
    for key in feeds.all_keys():
        feeds.publish(key)
    assert set(EventFragment.objects.values_list("language", flat=True)) == set(LANGUAGES)
    fragments = dict(EventFragment.objects.values_list("pk", "version"))
    drawn = []
    render_event = ical.render_event

    def counting(entry):
        drawn.append(entry.uid)
        return render_event(entry)

    monkeypatch.setattr(ical, "render_event", counting)
    event = events[3]
    event.start_date += dt.timedelta(days=1)
    event.save()
    published = feeds.publish_changes([event.pk])
    assert {"kk/all", "ru/all", "en/all", "kk/country:KZ", "en/country:RU"} <= set(published)
    # Several feeds in each language hold it; its VEVENT is drawn once per language.
    assert drawn == [str(event.uid)] * 3
    after = dict(EventFragment.objects.values_list("pk", "version"))
    changed = {pk for pk, version in after.items() if fragments.get(pk) != version}
    assert set(EventFragment.objects.filter(pk__in=changed).values_list("event_id", flat=True)) == {
        event.pk
    }
    assert set(
        EventFragment.objects.filter(pk__in=changed).values_list("language", flat=True)
    ) == set(LANGUAGES)
    event.refresh_from_db()
    for language in LANGUAGES:
        rows = parse_with_icalendar(Feed.objects.get(key=f"{language}/all").read())
        (row,) = [row for row in rows if row["uid"] == str(event.uid)]
        assert row == expected([event], language)[0]
    assert event.feeds_revision == event.revision


def test_a_lost_publish_is_caught_up_in_every_language():
    event = EventFactory(title="Late", title_ru="Поздно", title_kk="Кеш")
    assert Event.objects.get(pk=event.pk).feeds_revision != event.revision  # nobody published
    published = feeds.publish_owed()
    assert {"kk/all", "ru/all", "en/all"} <= set(published)
    for language, title in (("kk", "Кеш"), ("ru", "Поздно"), ("en", "Late")):
        assert f"SUMMARY;LANGUAGE={language}:{title}".encode() in (
            Feed.objects.get(key=f"{language}/all").read()
        )
    event.refresh_from_db()
    assert event.feeds_revision == event.revision
    assert feeds.publish_owed() == []


def test_private_feed_in_its_own_language(client):
    topic = TopicFactory(name="Energy", name_ru="Энергетика", name_kk="Энергетика")
    event = EventFactory(title="Talks", title_ru=TALKS_RU, title_kk=TALKS_KK)
    event.topics.add(topic)
    english = PrivateFeedFactory(topics=[topic])
    assert english.language == "en"  # links issued before feeds had languages stay English
    assert (
        b"SUMMARY;LANGUAGE=en:Talks" in fetch(client, f"/feeds/private/{english.token}.ics").content
    )

    private = PrivateFeedFactory(topics=[topic], language="ru", name="Редакция")
    url = f"/feeds/private/{private.token}.ics"
    text = unfolded(fetch(client, url, HTTP_ACCEPT_LANGUAGE="kk").content)
    assert f"SUMMARY;LANGUAGE=ru:{ical.Text(TALKS_RU).to_ical().decode()}" in text
    assert "NAME;LANGUAGE=ru:Kazakhstan–Russia timeline: Редакция" in text
    assert Feed.objects.filter(key=f"ru/private:{private.pk}").exists()

    private.language = "kk"
    private.save()
    text = unfolded(fetch(client, url).content)
    assert f"SUMMARY;LANGUAGE=kk:{ical.Text(TALKS_KK).to_ical().decode()}" in text
    # Its Russian edition goes at the next publish (the one queued by the change).
    feeds.publish_changes(keys=feeds.in_every_language([private.subject]))
    assert set(Feed.objects.filter(key__contains="private:").values_list("key", flat=True)) == {
        f"en/private:{english.pk}",
        f"kk/private:{private.pk}",
    }
    assert client.get(f"/feeds/kk/private/{private.token}.ics").status_code == 404


def test_feeds_published_before_languages_are_cleared_away(client):
    EventFactory()
    now = timezone.now()
    names = [
        storages["feeds"].save(f"feeds/all/old{suffix}", ContentFile(b"old"))
        for suffix in (".ics", ".ics.gz", ".manifest")
    ]
    Feed.objects.create(
        key="all",
        body_name=names[0],
        gzip_name=names[1],
        manifest_name=names[2],
        etag='"old"',
        last_modified=now,
        published_at=now,
    )
    assert b"BEGIN:VEVENT" in fetch(client, "/feeds/all.ics").content
    feeds.publish_everything()
    assert not Feed.objects.filter(key="all").exists()
    assert not any(storages["feeds"].exists(name) for name in names)
    assert {"kk/all", "ru/all", "en/all"} <= set(Feed.objects.values_list("key", flat=True))
