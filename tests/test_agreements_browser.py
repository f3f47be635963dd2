"""An agreement's page and a visit's page with its parts, on a phone, in English and Russian."""

import datetime as dt

import pytest
from django.utils import translation
from django.utils.translation import gettext

from .browser import PHONE, chromium_browser, horizontal_overflow, serious_violations
from .factories import (
    ActorFactory,
    AgreementFactory,
    AgreementStepFactory,
    EventFactory,
    PlaceFactory,
    SourceFactory,
)
from .test_pages_browser import new_page, server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

LOCALES = {"ru": "ru-RU", "en": "en-GB"}


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def record(transactional_db, server, settings):  # noqa: F811
    """A state visit with three parts, and the declaration signed at one of them."""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.SITE_URL = server.url
    moscow = PlaceFactory(name="Moscow", name_ru="Москва", country="RU", timezone="Europe/Moscow")
    visit = EventFactory(
        title="State visit of the President of Kazakhstan to the Russian Federation",
        title_ru="Государственный визит Президента Казахстана в Российскую Федерацию",
        kind="visit",
        place=moscow,
        start_date=dt.date(2025, 11, 11),
        end_date=dt.date(2025, 11, 12),
    )
    parts = {}
    for title, title_ru, kind, hour in (
        ("Talks in narrow format", "Переговоры в узком составе", "talks", 10),
        ("Signing of the declaration", "Подписание декларации", "signing", 13),
        ("Meeting with the speaker", "Встреча с председателем", "meeting", 16),
    ):
        parts[kind] = EventFactory(
            title=title,
            title_ru=title_ru,
            kind=kind,
            place=moscow,
            part_of=visit,
            precision="minute",
            start_date=dt.date(2025, 11, 12),
            start_time=dt.time(hour),
        )
    agreement = AgreementFactory(
        title="Declaration on the transition to comprehensive strategic partnership and alliance",
        title_ru=(
            "Декларация о переходе к всеобъемлющему стратегическому партнёрству и союзничеству"
        ),
        summary="The two presidents declare an alliance.",
        summary_ru="Президенты двух стран объявляют о союзничестве.",
        kind="declaration",
        signed_at=parts["signing"],
        signers=[ActorFactory(name="Kassym-Jomart Tokayev", name_ru="Касым-Жомарт Токаев")],
    )
    AgreementStepFactory(
        agreement=agreement,
        status="signed",
        date=dt.date(2025, 11, 12),
        source=SourceFactory(
            event=None,
            kind="official",
            publisher="Akorda",
            url="https://www.akorda.kz/en/a-very-long-address-of-the-declaration-on-the-site",
            archived_url="https://web.archive.org/web/20251112000000/https://www.akorda.kz/en/x",
        ),
    )
    AgreementStepFactory(
        agreement=agreement,
        status="ratified",
        party="KZ",
        date=dt.date(2025, 11, 20),
        precision="day",
        source=SourceFactory(event=None, url="https://www.inform.kz/", url_is_item=False),
    )
    return {"url": server.url, "visit": visit, "agreement": agreement}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_agreement_and_visit_pages_on_a_phone(browser, record, language):
    page = new_page(browser, PHONE, locale=LOCALES[language])
    agreement, visit = record["agreement"], record["visit"]
    with translation.override(language):
        agreements_link = gettext("Agreements")

    page.goto(f"{record['url']}/{language}/")
    page.get_by_role("link", name=agreements_link, exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/{language}/agreements/")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0

    page.locator(".agreement-item h2 a").first.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/{language}/agreements/{agreement.slug}/")
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator(".history li").count() == 2
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0

    # From the agreement to the signing, and from the signing up to the visit.
    page.locator(".facts a[href*='/events/']").click()
    page.wait_for_load_state()
    page.locator(".part-of a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/{language}/events/{visit.slug}/")
    assert page.locator(".event-parts .part").count() == 3
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0

    # The timeline, the parts inside the visit's card, then apart.
    page.goto(f"{record['url']}/{language}/")
    assert page.locator(".events > .card").count() == 1
    assert page.locator(".card .parts .part").count() == 3
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0
    page.locator(".parts-toggle a").click()
    page.wait_for_load_state()
    assert page.locator(".events > .card").count() == 4
    assert serious_violations(page) == []
    assert page.js_errors == []
