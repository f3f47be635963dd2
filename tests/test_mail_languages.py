"""Every mail in its subscriber's language, over real SMTP: words, dates, links, the .ics.

The interface's Russian and Kazakh catalogues come with their own work: words from gettext are
compared with gettext's answer in the subscriber's language, never with Russian typed here.
Dates (Babel), event texts, links and headers are compared as a reader would read them.
"""

import datetime as dt
import re
from html.parser import HTMLParser
from importlib import import_module

import icalendar
import pytest
from django.apps import apps
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_countries import countries

from timeline import l10n, timing
from timeline.feeds import publishing as feeds
from timeline.models import AnnouncedSchedule, Event, Notification, Subscriber
from timeline.notifications import changes, dispatch, links, mail, scheduling, services

from .factories import EventFactory, PlaceFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db
Kind, State = Notification.Kind, Notification.State


def subject(message) -> str:
    # A long encoded subject is folded right after "Subject:"; readers drop that space.
    return str(message["Subject"]).strip()


def parts(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def said(language: str, message: str, **values) -> str:
    """Return an interface message as gettext gives it in *language*."""
    with translation.override(language):
        text = str(gettext(message))
    return text.format(**values) if values else text


def said_with(language: str, message: str, **values) -> str:
    with translation.override(language):
        return gettext(message) % values


class _Options(HTMLParser):
    """The options of the page's language choice: (value, lang, selected, label)."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[tuple[str, str, bool, str]] = []
        self._inside = False
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = dict(attrs)
        if tag == "select":
            self._inside = attributes.get("name") == "language"
        elif tag == "option" and self._inside:
            self._open = attributes

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            value, lang = self._open["value"], self._open.get("lang", "")
            self.options.append((value, lang, "selected" in self._open, data.strip()))
            self._open = None


def language_options(page: str) -> list[tuple[str, str, bool, str]]:
    parser = _Options()
    parser.feed(page)
    return parser.options


def astana():
    return PlaceFactory(
        name="Astana", name_kk="Астана", name_ru="Астана", country="KZ", timezone="Asia/Almaty"
    )


# --- sign-up and confirmation --------------------------------------------------------------------
def test_signing_up_on_the_russian_page_gets_a_russian_confirmation(client, smtp, settings):
    energy = TopicFactory(name="Energy", name_ru="Энергетика", in_use=True)
    form = client.get("/ru/subscribe/").content.decode()
    # Offered in each language's own name, marked as such, the page's language chosen.
    assert language_options(form) == [
        ("kk", "kk", False, "Қазақша"),
        ("ru", "ru", True, "Русский"),
        ("en", "en", False, "English"),
    ]

    data = {"email": "reader@example.com", "topics": [energy.pk], "lead_times": ["1440"]}
    response = client.post(
        "/ru/subscribe/", {**data, "timezone": "Europe/Moscow", "language": "ru"}
    )
    assert response.status_code == 302
    subscriber = Subscriber.objects.get(email="reader@example.com")
    assert subscriber.language == "ru"

    dispatch.dispatch_due()
    (message,) = smtp.messages
    assert message["Content-Language"] == "ru"
    assert subject(message) == said(
        "ru", "Confirm your subscription to the {site_name}", site_name=settings.SITE_NAME
    )
    text, html = parts(message)
    (confirm,) = re.findall(r"https://timeline\.test/\S+/confirm/\S+", text)
    assert confirm.startswith("https://timeline.test/ru/confirm/")
    assert f'href="{confirm}"' in html
    assert '<html lang="ru">' in html
    # The link opens the confirmation page in Russian.
    assert client.get(confirm.removeprefix("https://timeline.test")).status_code == 200


def test_a_sign_up_form_without_the_choice_takes_the_pages_language(client, smtp):
    energy = TopicFactory(in_use=True)
    data = {"email": "old-form@example.com", "topics": [energy.pk], "lead_times": ["1440"]}
    assert client.post("/kk/subscribe/", {**data, "timezone": "UTC"}).status_code == 302
    assert Subscriber.objects.get(email="old-form@example.com").language == "kk"


def test_the_language_is_one_of_ours(client):
    energy = TopicFactory(in_use=True)
    data = {"email": "x@example.com", "topics": [energy.pk], "lead_times": ["1440"]}
    response = client.post("/en/subscribe/", {**data, "timezone": "UTC", "language": "de"})
    assert response.status_code == 200  # the form again, with its error
    assert not Subscriber.objects.exists()
    with pytest.raises(ValueError):
        services.sign_up(
            email="y@example.com", follows=set(), lead_times=[], zone="UTC", language="de"
        )


def test_the_preferences_page_changes_the_language(client):
    energy = TopicFactory(in_use=True)
    reader = SubscriberFactory(email="reader@example.com", language="en", follows=[energy])
    page = f"/ru/subscriptions/{links.token_for(reader)}/"
    chosen = [
        option[0] for option in language_options(client.get(page).content.decode()) if option[2]
    ]
    assert chosen == ["en"]
    data = {"topics": [energy.pk], "lead_times": ["1440"], "timezone": "UTC", "language": "kk"}
    assert client.post(page, data).status_code == 302
    reader.refresh_from_db()
    assert reader.language == "kk"
    chosen = [
        option[0] for option in language_options(client.get(page).content.decode()) if option[2]
    ]
    assert chosen == ["kk"]


# --- reminders ---------------------------------------------------------------------------------
def test_a_reminder_to_a_kazakh_reader_in_almaty_is_kazakh_with_a_kazakh_calendar(smtp):
    energy = TopicFactory()
    reader = SubscriberFactory(
        email="oqyrman@example.com",
        language="kk",
        timezone="Asia/Almaty",
        lead_times=[1440],
        follows=[energy],
    )
    start = (timezone.now() + dt.timedelta(days=3)).astimezone(dt.timezone(dt.timedelta(hours=3)))
    event = EventFactory(
        title="Intergovernmental commission",
        title_kk="Үкіметаралық комиссия",
        title_ru="Межправительственная комиссия",
        summary="Trade and energy.",
        summary_ru="Торговля и энергетика.",
        place=astana(),
        timezone="Europe/Moscow",  # held in Moscow's time, read in Almaty's
        precision="minute",
        start_date=start.date(),
        start_time=start.time().replace(second=0, microsecond=0),
    )
    event.topics.add(energy)
    scheduling.sync_event(event.pk)
    (reminder,) = Notification.objects.filter(event=event, kind=Kind.REMINDER)
    dispatch.dispatch_due(now=reminder.due_at)

    (message,) = smtp.messages
    assert message["To"] == reader.email
    assert message["Content-Language"] == "kk"
    reader_time = f"{l10n.moment(event.start_utc, 'Asia/Almaty', 'kk')} (Asia/Almaty)"
    local_time = f"{l10n.moment(event.start_utc, 'Europe/Moscow', 'kk')} (Europe/Moscow)"
    assert subject(message) == said(
        "kk", "Reminder: {title} — {when}", title="Үкіметаралық комиссия", when=reader_time
    )
    text, html = parts(message)
    assert reader_time in text and local_time in text
    assert "Үкіметаралық комиссия" in text and "Intergovernmental" not in text
    assert '<html lang="kk">' in html
    assert "<bdi>Үкіметаралық комиссия</bdi>" in html
    # No Kazakh summary: the Russian one, marked as Russian.
    assert '<p lang="ru">Торговля и энергетика.</p>' in html
    assert "/kk/subscriptions/" in text and "/kk/events/" in text
    assert (
        str(message["List-Unsubscribe"])
        .strip()
        .startswith("<https://timeline.test/kk/unsubscribe/")
    )
    assert message["Message-ID"] == f"<{reminder.trace_token}@timeline.test>"

    (attachment,) = message.iter_attachments()
    vevent = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
    assert str(vevent["SUMMARY"]) == "Үкіметаралық комиссия"
    assert "/kk/events/" in str(vevent["URL"])
    english = icalendar.Calendar.from_ical(feeds.render_single(event)).walk("VEVENT")[0]
    assert str(english["SUMMARY"]) == "Intergovernmental commission"
    assert str(vevent["UID"]) == str(english["UID"]) == str(event.uid)
    assert int(vevent["SEQUENCE"]) == int(english["SEQUENCE"]) == event.sequence


def test_readers_of_one_event_in_two_languages_each_get_their_own(smtp):
    energy = TopicFactory()
    for email, language in (("en@example.com", "en"), ("ru@example.com", "ru")):
        SubscriberFactory(email=email, language=language, lead_times=[60], follows=[energy])
    start = timezone.now() + dt.timedelta(days=2)
    event = EventFactory(
        title="Talks", title_ru="Переговоры", precision="minute", timezone="UTC",
        start_date=start.date(), start_time=start.time().replace(second=0, microsecond=0),
    )  # fmt: skip
    event.topics.add(energy)
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due(now=event.start_utc - dt.timedelta(minutes=60))
    texts = {m["To"]: parts(m)[0] for m in smtp.messages}
    assert "Переговоры" in texts["ru@example.com"] and "/ru/events/" in texts["ru@example.com"]
    assert "Talks" in texts["en@example.com"] and "/en/events/" in texts["en@example.com"]
    assert "Переговоры" not in texts["en@example.com"]


# --- change notices ----------------------------------------------------------------------------
def moved_event(reader_language: str = "en"):
    """Return a reader following a day-dated event in Astana on 11 November 2027, and the event."""
    energy = TopicFactory()
    reader = SubscriberFactory(
        email="reader@example.com", language=reader_language, lead_times=[1440], follows=[energy]
    )
    event = EventFactory(
        title="State visit",
        title_ru="Государственный визит",
        precision="day",
        start_date=dt.date(2027, 11, 11),
        place=astana(),
    )
    event.topics.add(energy)
    scheduling.sync_event(event.pk)
    return reader, event


def test_a_notice_made_in_english_is_told_in_russian_after_the_reader_switches(smtp, settings):
    settings.CHANGE_NOTICE_DELAY_SECONDS = 600
    reader, event = moved_event("en")
    event.start_date = dt.date(2027, 11, 12)
    event.save()
    now = timezone.now()
    scheduling.sync_event(event.pk, now=now)
    (notice,) = Notification.objects.filter(event=event, kind=Kind.RESCHEDULED)
    # Kept as data: dates, zone, status code, the place's id and names; no English sentence.
    old, new = notice.payload["old"], notice.payload["new"]
    assert (old["start_date"], new["start_date"]) == ("2027-11-11", "2027-11-12")
    assert (old["precision"], old["status"], old["zone"]) == ("day", "confirmed", "Asia/Almaty")
    assert old["place"] == {
        "id": event.place_id,
        "country": "KZ",
        "name": {"kk": "Астана", "ru": "Астана", "en": "Astana"},
    }
    assert "when" not in old and "Nov" not in str(notice.payload)

    services.set_preferences(
        subscriber=reader, follows={("event_id", event.pk)}, lead_times=[1440], zone="UTC",
        language="ru",
    )  # fmt: skip
    dispatch.dispatch_due(now=now + dt.timedelta(minutes=11))

    (message,) = smtp.messages
    assert message["Content-Language"] == "ru"
    assert subject(message) == said("ru", "Changed: {title}", title="Государственный визит")
    text, html = parts(message)
    was, now = l10n.date(dt.date(2027, 11, 11), "ru"), l10n.date(dt.date(2027, 11, 12), "ru")
    assert "ноября" in was  # from CLDR, not from our catalogues
    assert said_with("ru", "Moved: was %(old)s, now %(new)s", old=was, new=now) in text
    assert (
        said_with("ru", "Moved: was %(old)s, now %(new)s", old=f"<del>{was}</del>", new=now) in html
    )
    assert "Государственный визит" in text and "/ru/events/" in text


def test_a_new_place_and_status_are_told_in_the_readers_language(smtp, settings):
    settings.CHANGE_NOTICE_DELAY_SECONDS = 0
    _reader, event = moved_event("kk")
    event.place = PlaceFactory(name="Moscow", name_ru="Москва", country="RU")
    event.status = Event.Status.POSTPONED
    event.save()
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due(now=timezone.now() + dt.timedelta(seconds=1))
    (message,) = smtp.messages
    text, html = parts(message)
    with translation.override("kk"):
        kazakhstan, russia = str(countries.name("KZ")), str(countries.name("RU"))
        place = gettext("Place changed: was %(old)s, now %(new)s")
        status = gettext("Status changed: was %(old)s, now %(new)s")
        confirmed, postponed = str(Event.Status.CONFIRMED.label), str(Event.Status.POSTPONED.label)
    # No Kazakh name for Moscow: the Russian one, marked as such; countries named as on pages.
    assert place % {"old": f"Астана, {kazakhstan}", "new": f"Москва, {russia}"} in text
    assert (
        place
        % {
            "old": f"<del>Астана, {kazakhstan}</del>",
            "new": f'<span lang="ru">Москва</span>, {russia}',
        }
        in html
    )
    assert status % {"old": confirmed, "new": postponed} in text


def test_notices_stored_as_english_text_are_read_as_data(smtp, settings):
    """Rows written before notices kept data: the migration turns them into data."""
    settings.CHANGE_NOTICE_DELAY_SECONDS = 0
    reader, event = moved_event("ru")
    legacy_old = {
        "title": "State visit",
        "precision": "day",
        "when": "11 Nov 2027",
        "zone": "Asia/Almaty",
        "start_utc": "2027-11-10T19:00:00+00:00",
        "end_utc": "2027-11-11T19:00:00+00:00",
        "place": "Astana, Kazakhstan",
        "status": "confirmed",
    }
    legacy_new = legacy_old | {
        "when": "12 Nov 2027",
        "start_utc": "2027-11-11T19:00:00+00:00",
        "end_utc": "2027-11-12T19:00:00+00:00",
    }
    AnnouncedSchedule.objects.filter(event=event).update(data=legacy_old)
    notice = Notification.objects.create(
        subscriber=reader,
        event=event,
        kind=Kind.RESCHEDULED,
        key="changed@legacy",
        due_at=timezone.now(),
        payload={"old": legacy_old, "new": legacy_new},
    )
    migration = import_module("timeline.migrations.0015_subscriber_language_and_notice_data")
    migration.notices_as_data(apps, None)

    notice.refresh_from_db()
    announced = AnnouncedSchedule.objects.get(event=event).data
    # As if written now: the next edit is compared with it as with any other.
    assert announced == changes.schedule_of(Event.objects.select_related("place").get(pk=event.pk))
    old, new = notice.payload["old"], notice.payload["new"]
    assert (old["start_date"], new["start_date"], new["end_date"]) == (
        "2027-11-11",
        "2027-11-12",
        None,
    )
    assert old["place"]["id"] == event.place_id and old["place"]["name"]["ru"] == "Астана"

    dispatch.dispatch_due(now=timezone.now() + dt.timedelta(seconds=1))
    (message,) = smtp.messages
    text, _html = parts(message)
    was, now = l10n.date(dt.date(2027, 11, 11), "ru"), l10n.date(dt.date(2027, 11, 12), "ru")
    assert said_with("ru", "Moved: was %(old)s, now %(new)s", old=was, new=now) in text


def test_a_legacy_schedule_not_yet_migrated_is_still_read():
    legacy = {
        "precision": "minute",
        "when": "12 Nov 2027, 10:00–12:30",
        "zone": "Asia/Almaty",
        "start_utc": "2027-11-12T05:00:00+00:00",
        "end_utc": "2027-11-12T07:30:00+00:00",
        "place": "Somewhere, Kazakhstan",
        "status": "confirmed",
    }
    schedule = changes.read(legacy)
    assert (schedule.start_date, schedule.start_time) == (dt.date(2027, 11, 12), dt.time(10))
    assert (schedule.end_date, schedule.end_time) == (dt.date(2027, 11, 12), dt.time(12, 30))
    assert changes.where(schedule, "ru").html == '<span lang="en">Somewhere, Kazakhstan</span>'
    assert changes.when(schedule, "ru").text == l10n.wall_time(
        dt.date(2027, 11, 12), dt.time(10), dt.time(12, 30), language="ru"
    )


def test_the_mail_cache_keeps_languages_apart():
    reader_en = SubscriberFactory(email="en@example.com", language="en")
    reader_kk = SubscriberFactory(email="kk@example.com", language="kk")
    event = EventFactory(title="Talks", title_kk="Келіссөздер", start_date=dt.date(2027, 1, 5))
    rows = [
        Notification(subscriber=reader, event=event, kind=Kind.REMINDER, payload={})
        for reader in (reader_en, reader_kk)
    ]
    english, kazakh = (mail.bodies(row)[0] for row in rows)
    assert "Talks" in english and "Келіссөздер" in kazakh
    assert l10n.date(dt.date(2027, 1, 5), "kk") in kazakh
    assert l10n.date(dt.date(2027, 1, 5), "en") in english


def test_a_date_announced_is_told_as_such(smtp):
    energy = TopicFactory()
    SubscriberFactory(email="reader@example.com", language="ru", follows=[energy])
    visit = EventFactory(title="Visit", precision="year", start_date=dt.date(2027, 1, 1))
    visit.topics.add(energy)
    scheduling.sync_event(visit.pk)
    visit.precision, visit.start_date = "day", dt.date(2027, 11, 11)
    visit.save()
    scheduling.sync_event(visit.pk)
    dispatch.dispatch_due(now=timezone.now())
    (message,) = smtp.messages
    text, _html = parts(message)
    year = timing.describe("year", dt.date(2027, 1, 1), language="ru")  # "2027, date to be …"
    day = l10n.date(dt.date(2027, 11, 11), "ru")
    assert said_with("ru", "Date announced: was %(old)s, now %(new)s", old=year, new=day) in text
