"""The reader's flow in Kazakh, Russian and English, in Debian's Chromium, phone and desktop."""

import re
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext, pgettext

from timeline.models import Event, Subscriber
from timeline.models.translations import shown
from timeline.notifications import dispatch

from .browser import DESKTOP, PHONE, chromium_browser, horizontal_overflow, serious_violations
from .test_pages_browser import new_page, server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

LOCALES = {"kk": "kk-KZ", "ru": "ru-RU", "en": "en-GB"}
OTHER = {"kk": "ru", "ru": "en", "en": "kk"}


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def site(transactional_db, server, settings):  # noqa: F811
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.SITE_URL = server.url
    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    return server.url


def in_language(language: str, text: str, context: str | None = None) -> str:
    """Return an interface string as the catalogue has it in *language*."""
    with translation.override(language):
        return pgettext(context, text) if context else gettext(text)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone-360"])
@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_reader_switches_language_keeps_filters_opens_an_event_and_its_calendar_file(
    browser, site, language, viewport, tmp_path
):
    page = new_page(browser, viewport, locale=LOCALES[language])
    page.goto(site + "/")
    assert urlsplit(page.url).path == f"/{language}/"
    assert page.locator("html").get_attribute("lang") == language
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0

    page.select_option("#filter-topic", value="education")
    page.locator(".filters button[type=submit]").click()
    page.wait_for_load_state()
    assert parse_qs(urlsplit(page.url).query)["topic"] == ["education"]

    # The switcher keeps the filter, and the page speaks the other language.
    other = OTHER[language]
    page.locator(f'.language-switcher a[hreflang="{other}"]').click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == f"/{other}/"
    assert parse_qs(urlsplit(page.url).query)["topic"] == ["education"]
    assert page.locator("html").get_attribute("lang") == other
    assert page.locator("#filter-topic").input_value() == "education"
    page.locator(f'.language-switcher a[hreflang="{language}"]').click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language

    event = Event.objects.get(slug="kaznu-omsk-branch-opening")
    title = shown(event, "title", language)
    assert title.language == language  # the seed has every title in every language
    page.get_by_role("link", name=title.text).click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == f"/{language}/events/{event.slug}/"
    assert page.locator("h1").inner_text() == title.text
    assert page.locator("h1").get_attribute("lang") is None  # the page's own language
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0

    with page.expect_download() as download_info:
        page.get_by_role("link", name=in_language(language, "Download .ics")).click()
    saved = tmp_path / "event.ics"
    download_info.value.save_as(saved)
    (vevent,) = icalendar.Calendar.from_ical(saved.read_bytes()).walk("VEVENT")
    assert str(vevent["UID"]).startswith(str(event.uid))
    assert str(vevent["SUMMARY"]) == title.text
    assert vevent["SUMMARY"].params.get("LANGUAGE") == language
    assert page.js_errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone-360"])
def test_a_russian_reader_subscribes_and_is_written_to_in_russian(browser, site, smtp, viewport):
    page = new_page(browser, viewport, locale="ru-RU")
    event = Event.objects.get(slug="kaznu-omsk-branch-opening")
    page.goto(site + f"/ru/events/{event.slug}/")
    page.get_by_role("link", name=in_language("ru", "Follow by email")).last.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/ru/subscribe/"
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0
    email = f"chitatel-{viewport['width']}@example.com"
    page.locator("input[type=email]").fill(email)
    page.get_by_role("button", name=in_language("ru", "Subscribe", "email")).click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == in_language("ru", "Check your inbox")
    assert Subscriber.objects.get(email=email).language == "ru"

    dispatch.dispatch_due()
    (message,) = smtp.to(email)
    with translation.override("ru"):
        assert str(message["Subject"]).strip() == gettext(
            "Confirm your subscription to the {site_name}"
        ).format(site_name=settings.SITE_NAME)
    assert message["Content-Language"] == "ru"
    body = message.get_body(("plain",)).get_content()
    assert in_language("ru", "Hello,") in body
    link = re.search(r"https?://\S+/ru/confirm/\S+/", body).group(0)
    page.goto(site + urlsplit(link).path)
    assert page.locator("html").get_attribute("lang") == "ru"
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert Subscriber.objects.get(email=email).confirmed_at is not None
    assert page.js_errors == []


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_no_serious_accessibility_violations_in_each_language(browser, site, language):
    from django.urls import reverse

    from timeline.notifications import links

    from .factories import SubscriberFactory

    event = Event.objects.get(slug="tokayev-state-visit-to-russia-2025")
    with translation.override(language):
        preferences = reverse("timeline:subscription", args=[links.token_for(SubscriberFactory())])
    page = new_page(browser, locale=LOCALES[language])
    for path in ("/", f"/events/{event.slug}/", "/feeds/", "/subscribe/", "/?topic=nuclear"):
        page.goto(f"{site}/{language}{path}")
        assert page.locator("html").get_attribute("lang") == language
        assert serious_violations(page) == [], path
    page.goto(site + preferences)
    assert serious_violations(page) == [], preferences
