"""The public pages as a reader meets them, in Debian's headless Chromium driven by Playwright.

The pages are served by a real HTTP server thread, whitenoise serving the collected, hashed
static files; confirmation mail goes over SMTP to a real server in the test process.
"""

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from timeline.models import Event, Subscriber
from timeline.notifications import dispatch, links

from .browser import (
    DESKTOP,
    PHONE,
    PageServer,
    chromium_browser,
    horizontal_overflow,
    serious_violations,
)
from .factories import EventFactory, PlaceFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)

FILTER_IDS = [
    "filter-topic",
    "filter-country",
    "filter-actor",
    "filter-track",
    "filter-kind",
    "filter-order",
]


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server():
    with PageServer() as running:
        yield running


@pytest.fixture
def site(transactional_db, server, settings):
    """The seed record, served; returns the server's base URL."""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.SITE_URL = server.url
    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    return server.url


def new_page(browser, viewport=DESKTOP, **options):
    context = browser.new_context(viewport=viewport, accept_downloads=True, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.js_errors = errors
    return page


def visible_titles(page) -> list[str]:
    # Parts folded into the card of the event they are part of count too.
    return page.locator(".events .card h4, .events .card .part-title a").all_inner_texts()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone-360"])
def test_reader_filters_opens_an_event_adds_it_and_subscribes(
    browser, site, smtp, viewport, tmp_path
):
    page = new_page(browser, viewport)
    page.goto(site + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert len(visible_titles(page)) == Event.objects.published().count()
    assert horizontal_overflow(page) <= 0

    # Two filters, combined, kept in the URL.
    page.select_option("#filter-topic", label="Education")
    page.select_option("#filter-kind", label="Opening")
    page.get_by_role("button", name="Show events").click()
    page.wait_for_load_state()
    query = parse_qs(urlsplit(page.url).query)
    assert query["topic"] == ["education"] and query["kind"] == ["opening"]
    expected = Event.objects.published().filter(topics__slug="education", kind="opening")
    assert sorted(visible_titles(page)) == sorted(expected.values_list("title", flat=True))
    assert len(expected) == 2
    assert page.locator("#filter-topic").input_value() == "education"
    assert horizontal_overflow(page) <= 0

    # The shared URL shows the same selection to someone else.
    other = new_page(browser, viewport)
    other.goto(page.url)
    assert sorted(visible_titles(other)) == sorted(visible_titles(page))

    # Open the dated one and add it to a calendar.
    event = Event.objects.get(slug="kaznu-omsk-branch-opening")
    page.get_by_role("link", name=event.title).click()
    page.wait_for_load_state()
    assert page.url == f"{site}/en/events/{event.slug}/"
    assert page.locator("h1").inner_text() == event.title
    assert event.when in page.locator(".when").inner_text()
    sources = page.locator(".sources li")
    assert sources.count() == event.sources.count() >= 1
    assert horizontal_overflow(page) <= 0

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .ics").click()
    saved = tmp_path / "event.ics"
    download_info.value.save_as(saved)
    calendar = icalendar.Calendar.from_ical(saved.read_bytes())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]).startswith(str(event.uid))
    assert vevent["SUMMARY"] == event.title
    assert vevent.decoded("DTSTART") == event.start_date

    google = page.get_by_role("link", name="Google Calendar").get_attribute("href")
    assert google.startswith("https://calendar.google.com/")
    assert parse_qs(urlsplit(google).query)["text"] == [event.title]

    # Follow it by email: the form, the "check your inbox" page, then the link in the mail.
    page.get_by_role("link", name="Follow by email").last.click()
    page.wait_for_load_state()
    assert event.title in page.locator(".following-event").inner_text()
    assert horizontal_overflow(page) <= 0
    page.get_by_label("Email address").fill(f"reader-{viewport['width']}@example.com")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Check your inbox"
    assert horizontal_overflow(page) <= 0

    dispatch.dispatch_due()
    (message,) = smtp.to(f"reader-{viewport['width']}@example.com")
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/confirm/\S+/", body).group(0)
    page.goto(site + urlsplit(link).path)
    # Opening the link confirms nothing (mail scanners open links too): the reader presses Confirm.
    assert page.locator("h1").inner_text() == "Confirm your subscription"
    assert event.title in page.locator(".following").inner_text()
    assert horizontal_overflow(page) <= 0
    subscriber = Subscriber.objects.get(email=f"reader-{viewport['width']}@example.com")
    assert subscriber.confirmed_at is None
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your subscription is confirmed"
    assert horizontal_overflow(page) <= 0
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    assert [follow.event for follow in subscriber.follows.all()] == [event]

    # Pages reached through a secret link send no Referer; their forms still post (Origin: null).
    page.get_by_role("link", name="Change what you follow").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your subscription"
    page.get_by_label("1 hour before").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your subscription"
    subscriber.refresh_from_db()
    assert 60 in subscriber.lead_times
    assert page.js_errors == []


def test_keyboard_alone_reaches_and_uses_every_filter(browser, site):
    page = new_page(browser)
    page.goto(site + "/")
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => document.activeElement.id || document.activeElement.textContent"
        )
        reached.append(focused.strip())
        if focused.strip() == "Show events":
            break
    positions = [reached.index(name) for name in FILTER_IDS]
    assert positions == sorted(positions), "filters are reached in reading order"
    assert reached[-1] == "Show events"
    # The skip link comes first, and focus is visible wherever it lands.
    assert reached[0] == "Skip to content"
    page.focus("#filter-country")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")

    # Choose with the keyboard only and submit with Enter.
    page.focus("#filter-topic")
    page.keyboard.type("Nuclear")
    page.keyboard.press("Tab")
    page.focus("#filter-kind")
    page.keyboard.type("Milestone")
    page.focus("text=Show events")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    query = parse_qs(urlsplit(page.url).query)
    assert query["topic"] == ["nuclear"] and query["kind"] == ["milestone"]
    expected = Event.objects.published().filter(topics__slug="nuclear", kind="milestone")
    assert visible_titles(page) == list(expected.values_list("title", flat=True))
    assert len(expected) == 1


def test_filters_work_without_javascript(browser, site):
    page = new_page(browser, java_script_enabled=False)
    page.goto(site + "/")
    page.select_option("#filter-topic", label="Diplomacy")
    page.select_option("#filter-country", label="Russia")
    page.get_by_role("button", name="Show events").click()
    page.wait_for_load_state()
    expected = Event.objects.published().filter(topics__slug="diplomacy", countries__contains="RU")
    assert sorted(visible_titles(page)) == sorted(expected.values_list("title", flat=True))
    assert page.get_by_role("link", name="Clear filters").is_visible()


def test_track_lane_shows_planned_against_current_dates(browser, site):
    milestone = Event.objects.get(slug="kazakhstan-first-npp-construction-start")
    milestone.baseline_date = milestone.start_date - dt.timedelta(days=40)
    milestone.baseline_precision = "day"
    milestone.save()
    page = new_page(browser, PHONE)
    page.goto(site + "/")
    lane = page.locator(".track .milestone", has_text=milestone.title)
    text = lane.inner_text()
    assert "Planned" in text and milestone.baseline_label in text
    assert "40 days late" in text
    assert "late" in lane.get_attribute("class")
    assert horizontal_overflow(page) <= 0


def test_exact_time_shows_local_utc_and_the_readers_own_zone(browser, site):
    place = PlaceFactory(name="Astana", timezone="Asia/Almaty")
    event = EventFactory(
        title="Intergovernmental commission meets",
        place=place,
        precision="minute",
        start_date=dt.date(2026, 12, 3),
        start_time=dt.time(10, 0),
        end_date=dt.date(2026, 12, 3),
        end_time=dt.time(12, 30),
    )
    page = new_page(browser, timezone_id="America/New_York")
    page.goto(site + event.get_absolute_url())
    facts = page.locator(".facts").inner_text()
    assert "10:00" in facts and "Asia/Almaty" in facts
    utc = event.start_utc.astimezone(dt.UTC)
    assert f"{utc:%H:%M}" in facts and "UTC" in facts
    yours = page.locator("[data-your-time]")
    yours.wait_for(state="visible")
    new_york = event.start_utc.astimezone(timezone.get_fixed_timezone(-5 * 60))
    assert "America/New_York" in yours.inner_text()
    assert new_york.strftime("%H:%M") in yours.inner_text()


def test_copy_button_puts_the_feed_address_on_the_clipboard(browser, site):
    page = new_page(browser, permissions=["clipboard-read", "clipboard-write"])
    page.goto(site + "/feeds/")
    first = page.locator(".feed").first
    address = first.locator("input[type=url]").input_value()
    assert address.endswith(".ics")
    first.get_by_role("button", name="Copy").click()
    first.locator(".copy-status").filter(has_text="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == address
    assert page.js_errors == []


def test_copy_button_stays_hidden_without_javascript(browser, site):
    page = new_page(browser, java_script_enabled=False)
    page.goto(site + "/feeds/")
    assert page.get_by_role("button", name="Copy").count() == 0
    assert page.locator(".feed input[type=url]").first.input_value().endswith(".ics")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone-360"])
def test_no_serious_accessibility_violations(browser, site, scheme, viewport):
    event = Event.objects.get(slug="tokayev-state-visit-to-russia-2025")
    reader = SubscriberFactory()
    preferences = reverse("timeline:subscription", args=[links.token_for(reader)])
    page = new_page(browser, viewport, color_scheme=scheme)
    paths = ["/", event.get_absolute_url(), "/feeds/", "/subscribe/", "/?topic=nuclear"]
    paths.append(preferences)
    for path in paths:
        page.goto(site + path)
        assert serious_violations(page) == [], path
        assert horizontal_overflow(page) <= 0, path


def test_static_files_have_hashed_names_and_long_cache(browser, site):
    page = new_page(browser)
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(site + "/")
    static = [r for r in responses if "/static/" in r.url]
    paths = {re.sub(r"\.[0-9a-f]{12}\.", ".HASH.", urlsplit(r.url).path) for r in static}
    assert {"/static/timeline/site.HASH.css", "/static/timeline/site.HASH.js"} <= paths
    assert all(".HASH." in path for path in paths), paths
    for response in static:
        assert response.status == 200
        assert "max-age=315360000" in response.headers["cache-control"]
        assert "immutable" in response.headers["cache-control"]
