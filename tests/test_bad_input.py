"""Bad input in the admin and the public forms: refused on its field, nothing stored, never a 500.

And good input that looks unusual (right-to-left, combining marks, markup typed as text) is
accepted, stored in NFC, and escaped on every page, feed and mail that shows it.
"""

import datetime as dt
import json
import unicodedata

import icalendar
import pytest
from django.urls import reverse
from django.utils import timezone

from timeline.models import (
    Actor,
    Event,
    Notification,
    Place,
    Source,
    Subscriber,
    Subscription,
    Topic,
    Track,
)
from timeline.notifications import dispatch, links, scheduling
from timeline.text import TEXT_MAX_LENGTH

from .factories import PlaceFactory, SubscriberFactory, TopicFactory
from .notify_helpers import follower
from .test_admin import ADD_URL, edit, new_event_data
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TOPIC_ESCAPED = "&lt;b&gt;Energy&lt;/b&gt;"
# Hebrew (right to left), Kazakh, and "é" typed as e + COMBINING ACUTE ACCENT.
DECOMPOSED_TITLE = f"{SCRIPT} ביקור ממלכתי Қазақстан Cafe\u0301"
TITLE = unicodedata.normalize("NFC", DECOMPOSED_TITLE)


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def inline_errors(response) -> list:
    return [form.errors for form in response.context["inline_admin_formsets"][0].formset.forms]


# --- the admin: refused on the field, nothing stored -------------------------------------------
REFUSED = [
    ("end before start", {"end_date": "2025-11-11", "end_time": "10:00"}, "end_date", "before"),
    ("unknown zone", {"timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
    ("zone path", {"timezone": "../../etc/passwd"}, "timezone", "not an IANA time zone"),
    ("30 February", {"start_date": "2026-02-30"}, "start_date", "Enter a valid date"),
    ("month 13", {"start_date": "2026-13-01"}, "start_date", "Enter a valid date"),
    ("end on 31 April", {"end_date": "2026-04-31"}, "end_date", "Enter a valid date"),
    ("25 o'clock", {"start_time": "25:00"}, "start_time", "Enter a valid time"),
    (
        "year 9999 at year precision",
        {"precision": "year", "start_date": "9999-12-31", "start_time": ""},
        "start_date",
        "Give a date between 1700-01-01 and 2100-12-31",
    ),
    (
        "year 1",
        {"precision": "day", "start_date": "0001-01-01", "start_time": ""},
        "start_date",
        "Give a date between",
    ),
    (
        "baseline on 30 February",
        {"kind": "milestone", "baseline_date": "2026-02-30"},
        "baseline_date",
        "Enter a valid date",
    ),
    (
        "baseline at an unknown precision",
        {"baseline_date": "2026-01-01", "baseline_precision": "decade"},
        "baseline_precision",
        "Select a valid choice",
    ),
    (
        "a 1 MB description",
        {"description_en": "x" * 1_000_000},
        "description_en",
        f"at most {TEXT_MAX_LENGTH} characters (it has 1000000)",
    ),
    ("a long summary", {"summary_en": "y" * 2001}, "summary_en", "at most 2000 characters"),
    ("title with CR LF", {"title_en": "Talks\r\nBcc: x@example.com"}, "title_en", "on one line"),
    ("title with LF", {"title_en": "Talks\nX-Injected: 1"}, "title_en", "on one line"),
    ("title with U+2028", {"title_en": "Talks\u2028more"}, "title_en", "on one line"),
    ("title with a bell", {"title_en": "Talks\x07"}, "title_en", "control character U+0007"),
    ("title with a tab", {"title_en": "Talks\tin Astana"}, "title_en", "control character U+0009"),
    ("title with NUL", {"title_en": "Talks\x00"}, "title_en", "Null characters are not allowed"),
    ("description with ESC", {"description_en": "a\x1b[31m red"}, "description_en", "U+001B"),
    ("description with C1 CSI", {"description_en": "a\x9b31m"}, "description_en", "U+009B"),
    ("description with DEL", {"description_en": "a\x7f"}, "description_en", "U+007F"),
    # The same rules hold in every language.
    ("a Kazakh title too long", {"title_kk": "Қ" * 301}, "title_kk", "at most 300 characters"),
    ("a Russian summary too long", {"summary_ru": "ж" * 2001}, "summary_ru", "at most 2000"),
    ("a Kazakh title with CR LF", {"title_kk": "Сапар\r\nBcc: x"}, "title_kk", "on one line"),
    ("a Russian title with NUL", {"title_ru": "Визит\x00"}, "title_ru", "Null characters"),
]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_admin_refuses_bad_event_input_on_its_field(client, superuser, changes, field, message):
    log_in_verified(client, superuser)
    response = client.post(ADD_URL, new_event_data(PlaceFactory(), **changes))

    errors = form_errors(response)
    assert any(message in error for error in errors.get(field, [])), errors
    assert f'id="id_{field}_error"' in response.content.decode()  # shown beside the field
    assert not Event.objects.exists()
    assert not Source.objects.exists()


INLINE_REFUSED = [
    ("publication on 30 February", {"sources-1-published_on": "2026-02-30"}, "published_on"),
    ("publication in year 9999", {"sources-1-published_on": "9999-01-01"}, "published_on"),
    ("publisher with a line break", {"sources-1-publisher": "Akorda\r\nX: 1"}, "publisher"),
    ("quote with NUL", {"sources-1-quote": "a\x00b"}, "quote"),
    ("quote with a bell", {"sources-1-quote": "a\x07b"}, "quote"),
    ("a 1 MB quote", {"sources-1-quote": "q" * 1_000_000}, "quote"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [case[1:] for case in INLINE_REFUSED], ids=[c[0] for c in INLINE_REFUSED]
)
def test_a_bad_source_refuses_the_whole_event(client, superuser, changes, field):
    log_in_verified(client, superuser)
    response = client.post(ADD_URL, new_event_data(PlaceFactory(), **changes))

    first, second = inline_errors(response)
    assert not first and field in second, second
    assert not Event.objects.exists() and not Source.objects.exists()


def test_a_refused_edit_changes_nothing(client, superuser):
    log_in_verified(client, superuser)
    assert client.post(ADD_URL, new_event_data(PlaceFactory())).status_code == 302
    event = Event.objects.get()
    before = (event.title, event.revision, list(event.sources.values_list("publisher", "quote")))

    response = edit(
        client,
        event,
        **{
            "title_en": "A new title",
            "sources-0-quote": "a new quote",
            "sources-1-published_on": "2026-02-30",
        },
    )

    assert response.status_code == 200
    event.refresh_from_db()
    after = (event.title, event.revision, list(event.sources.values_list("publisher", "quote")))
    assert after == before


def test_other_admin_forms_refuse_line_breaks_controls_and_unknown_zones(client, superuser):
    log_in_verified(client, superuser)
    cases = [
        ("place", {"name_en": "Astana\nCity", "slug": "astana", "country": "KZ"}, "name_en"),
        ("place", {"name_kk": "Астана", "slug": "astana", "timezone": "Mars/X"}, "timezone"),
        ("topic", {"name_ru": "Энергетика\x07", "slug": "energy"}, "name_ru"),
        ("actor", {"name_en": "A", "slug": "a", "role_kk": "Мин\r\nистр"}, "role_kk"),
        ("track", {"name_en": "NPP", "slug": "npp", "description_en": "a\x01"}, "description_en"),
        ("topic", {"slug": "nameless"}, "name_kk"),
    ]
    states = {"translation_kk": "draft", "translation_ru": "draft", "translation_en": "draft"}
    for model, data, field in cases:
        data = {"timezone": "Asia/Almaty", "kind": "person", "country": "KZ", **states, **data}
        response = client.post(reverse(f"admin:timeline_{model}_add"), data)
        assert field in form_errors(response), (model, field)
    assert not Place.objects.exists() and not Topic.objects.exists()
    assert not Actor.objects.exists() and not Track.objects.exists()


def test_unusual_but_good_text_is_accepted_and_stored_in_nfc(client, superuser):
    log_in_verified(client, superuser)
    description = "Первая строка\r\nвторая\tс табуляцией\rשורה שלישית"
    response = client.post(
        ADD_URL,
        # Mixed scripts and right-to-left text, in the Kazakh fields.
        new_event_data(
            PlaceFactory(),
            title_en="",
            description_en="",
            description_ru="",
            title_kk=DECOMPOSED_TITLE,
            description_kk=description,
        ),
    )

    assert response.status_code == 302, form_errors(response)
    event = Event.objects.get()
    assert event.title_kk == TITLE and "Café" in event.title_kk
    assert event.description_kk == "Первая строка\nвторая\tс табуляцией\nשורה שלישית"
    assert len(event.title_kk) == len(DECOMPOSED_TITLE) - 1
    # Shown on a Kazakh page as it is, the browser told to find its direction.
    page = client.get(f"/kk/events/{event.slug}/").content.decode()
    assert '<h1 dir="auto">' + ESCAPED in page


# --- an oversized request ----------------------------------------------------------------------
def test_an_oversized_post_is_a_400_not_a_500(client, superuser, settings):
    body = "z" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post(reverse("timeline:subscribe"), {"email": "big@example.com", "x": body})
    assert response.status_code == 400

    log_in_verified(client, superuser)
    data = new_event_data(PlaceFactory(), description_en=body)
    assert client.post(ADD_URL, data).status_code == 400
    too_many = {f"field{number}": "1" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)}
    assert client.post(ADD_URL, {**new_event_data(PlaceFactory()), **too_many}).status_code == 400
    assert not Event.objects.exists() and not Subscriber.objects.exists()


# --- the public forms --------------------------------------------------------------------------
BAD_ADDRESSES = [
    ("not an address", "not-an-address", "Enter a valid email address"),
    ("header injection", "a@example.com\r\nBcc: victim@example.com", "Enter a valid email"),
    ("NUL", "a\x00b@example.com", "Null characters are not allowed"),
    ("255 characters", "a" * 64 + "@" + "b" * 186 + ".com", "at most 254 characters"),
    ("a 100 kB address", "a" * 100_000 + "@example.com", "at most 254 characters"),
    ("local part over 64", "a" * 65 + "@example.com", "at most 64 characters"),
]


@pytest.mark.parametrize(
    ("address", "message"), [c[1:] for c in BAD_ADDRESSES], ids=[c[0] for c in BAD_ADDRESSES]
)
def test_signup_refuses_a_bad_address_and_stores_nothing(client, address, message):
    topic = TopicFactory()
    response = client.post(
        reverse("timeline:subscribe"),
        {"email": address, "topics": [topic.pk], "lead_times": ["1440"], "timezone": "UTC"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in error for error in errors["email"]), errors
    assert 'id="id_email_error"' in response.content.decode()
    assert not Subscriber.objects.exists() and not Notification.objects.exists()


def test_signup_and_preferences_refuse_an_unknown_zone(client):
    topic = TopicFactory()
    response = client.post(
        reverse("timeline:subscribe"),
        {"email": "a@example.com", "topics": [topic.pk], "lead_times": ["1440"], "timezone": "X/Y"},
    )
    assert "timezone" in response.context["form"].errors
    assert not Subscriber.objects.exists() and not Subscription.objects.exists()

    subscriber = SubscriberFactory(email="b@example.com", follows=[topic])
    url = reverse("timeline:subscription", args=[links.token_for(subscriber)])
    for zone in ("Mars/Olympus", "UTC\r\nX: 1", "z" * 10_000):
        response = client.post(
            url, {"topics": [topic.pk], "lead_times": ["60", "0"], "timezone": zone}
        )
        assert response.status_code == 200 and "timezone" in response.context["form"].errors
    subscriber.refresh_from_db()
    assert (subscriber.timezone, subscriber.lead_times) == ("UTC", [1440])


# --- markup typed as text: escaped wherever it is shown ----------------------------------------
def assert_escaped(content: str, where: str) -> None:
    assert SCRIPT not in content, where
    assert "<b>" not in content, where


def test_markup_in_text_is_escaped_everywhere_and_intact_in_calendars(client, superuser, smtp):
    log_in_verified(client, superuser)
    topic = TopicFactory(name="<b>Energy</b> אנרגיה", slug="energy")
    start = timezone.now() + dt.timedelta(days=2)
    moscow = PlaceFactory(name="Moscow", timezone="Europe/Moscow")
    data = new_event_data(
        moscow,
        title_en=DECOMPOSED_TITLE,
        slug="script-event",
        summary_en=f"Summary {SCRIPT}",
        description_en=f"<img src=x onerror=alert(1)>\n{SCRIPT}",
        start_date=start.astimezone(dt.timezone(dt.timedelta(hours=3))).date().isoformat(),
        start_time="12:30",
        topics=[topic.pk],
        **{"sources-0-title": SCRIPT, "sources-1-quote": SCRIPT},
    )
    assert client.post(ADD_URL, data).status_code == 302
    event = Event.objects.get()
    assert event.title == TITLE

    pages = {
        "timeline": reverse("timeline:index"),
        "event page": event.get_absolute_url(),
        "feeds page": reverse("timeline:feeds"),
        "admin list": reverse("admin:timeline_event_changelist"),
        "admin change form": reverse("admin:timeline_event_change", args=[event.pk]),
        "atom": reverse("timeline:feed-changes"),
        "api list": reverse("timeline:api-events"),
        "api item": reverse("timeline:api-event", args=[event.uid]),
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        content = response.content.decode()
        assert_escaped(content, where)
        assert "<img src=x" not in content, where
        if where.startswith("api"):
            assert "\\u003cscript\\u003e" in content, where
        else:
            assert (TOPIC_ESCAPED if where == "feeds page" else ESCAPED) in content, where
        shown = ("אנרגיה",) if where == "feeds page" else ("ביקור ממלכתי", "Café")
        assert all(text in content for text in shown), where

    assert '<h1 dir="auto">' + ESCAPED in client.get(event.get_absolute_url()).content.decode()
    assert client.get(pages["api item"]).json()["title"] == TITLE
    assert json.loads(client.get(pages["api list"]).content)["results"][0]["summary"].endswith(
        SCRIPT
    )

    # Calendars carry the text itself: it is data, not markup, there.
    calendar = icalendar.Calendar.from_ical(client.get(f"/events/{event.slug}.ics").content)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == TITLE
    assert SCRIPT in str(vevent["DESCRIPTION"])

    # Mail: the HTML part escapes; the text part and the subject carry the text on one line.
    follower("reader@example.com", topic, lead_times=(1440,))
    scheduling.sync_event(event.pk)
    [reminder] = Notification.objects.filter(event=event, kind=Notification.Kind.REMINDER)
    dispatch.dispatch_due(now=reminder.due_at)
    [message] = smtp.to("reader@example.com")
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    subject = str(message["Subject"]).strip()
    assert_escaped(html, "mail html")
    assert f"<bdi>{ESCAPED}" in html and "<img src=x" not in html
    assert TITLE in text
    assert subject.startswith(f"Reminder: {TITLE} — ") and "\n" not in subject
    assert not [key for key in message if key.lower().startswith("x-injected")]
