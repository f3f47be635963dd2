"""A metric's page in Debian's Chromium: chart and table on a phone and a desktop, en and ru."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import translation

from timeline.models import Event, Figure, Source
from timeline.models.translations import shown

from .browser import DESKTOP, PHONE, chromium_browser, horizontal_overflow, serious_violations
from .factories import ActorFactory, EventFactory, FigureFactory, MetricFactory, SourceFactory
from .test_pages_browser import new_page, server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)
LOCALES = {"ru": "ru-RU", "en": "en-GB"}
NBSP = "\u00a0"
D = dt.date
# What the reader sees of the 2024 figure the two sources state differently.
SEEN = {
    "en": {"billions": "US$26.5B", "unit": "B", "stated": "US$26.8B"},
    "ru": {
        "billions": f"26,5{NBSP}млрд{NBSP}$",
        "unit": "млрд",
        "stated": f"26,8{NBSP}млрд{NBSP}$",
    },
}


def forum_title(language: str) -> str:
    return shown(Event.objects.get(slug="interregional-forum"), "title", language).text


# Everything on the page that reaches out of the window, but what scrolls inside the table's
# container (the container itself must fit).
OUTSIDE_THE_WINDOW = """() => [...document.querySelectorAll("body *")]
    .filter(e => !e.parentElement.closest(".table-scroll"))
    .filter(e => { const r = e.getBoundingClientRect();
                   return r.width > 0 && (r.right > innerWidth + 0.5 || r.left < -0.5)
                          && !e.matches(".skip-link"); })
    .map(e => e.tagName + "." + e.className)"""


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def site(transactional_db, server, settings):  # noqa: F811
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.SITE_URL = server.url
    return server.url


@pytest.fixture
def trade(site):
    """Six years of trade, 2024 stated differently by two sources, targets, a forecast."""
    metric = MetricFactory(
        slug="trade-turnover",
        name="Kazakhstan–Russia trade turnover",
        description="Goods traded between the two countries in a year, as stated.",
    )
    with translation.override("ru"):
        metric.name = "Товарооборот Казахстана и России"
        metric.description = "Товары, проданные друг другу за год, как сказано в источниках."
        metric.save()
    minister = ActorFactory(name="Serik Zhumangarin", role="Minister of Trade and Integration")
    forum = EventFactory(slug="interregional-forum", title="Forum of Interregional Cooperation")
    official = SourceFactory(
        event=None,
        kind=Source.Kind.OFFICIAL,
        publisher="Ministry of Trade and Integration of the Republic of Kazakhstan",
        title="Товарооборот между Казахстаном и Россией за 2024 год",
        url="https://www.gov.kz/memleket/entities/mti/press/news/details/1",
        archived_url="https://web.archive.org/web/2025/https://www.gov.kz/memleket/1",
        language="ru",
    )
    media = SourceFactory(
        event=None,
        publisher="TASS",
        url="https://tass.ru/",
        url_is_item=False,
        language="ru",
        published_on=D(2025, 2, 1),
        published_precision="month",
    )
    for year, billions in ((2019, "20.1"), (2020, "19.1"), (2021, "24.1"), (2022, "26.3")):
        FigureFactory(
            metric=metric,
            value=Decimal(billions) * 10**9,
            period_start=D(year, 1, 1),
            period_end=D(year, 12, 31),
            source=official,
        )
    FigureFactory(
        metric=metric,
        value=Decimal("26800000000"),
        qualifier=Figure.Qualifier.MORE_THAN,
        period_start=D(2023, 1, 1),
        period_end=D(2023, 12, 31),
        source=official,
        stated_by=minister,
        stated_at=forum,
    )
    FigureFactory(metric=metric, value=Decimal("27800000000"), source=official)
    FigureFactory(metric=metric, value=Decimal("26500000000"), source=media)
    FigureFactory(
        metric=metric,
        kind=Figure.Kind.FORECAST,
        value=Decimal("28000000000"),
        qualifier=Figure.Qualifier.ABOUT,
        period_start=D(2025, 1, 1),
        period_end=D(2025, 12, 31),
        source=official,
    )
    FigureFactory(
        metric=metric,
        kind=Figure.Kind.TARGET,
        value=Decimal("30000000000"),
        period_start=None,
        period_end=None,
        period_precision="",
        source=official,
        stated_by=minister,
    )
    FigureFactory(
        metric=metric,
        value=Decimal("25000000000"),
        qualifier=Figure.Qualifier.ABOUT,
        period_start=None,
        period_end=None,
        period_precision="",
        source=media,
    )
    return metric


def shown_chart(page):
    """Return the chart drawing the window shows (the wide or the narrow one)."""
    charts = page.locator("figure.chart .chart-canvas")
    visible = [charts.nth(i) for i in range(charts.count()) if charts.nth(i).is_visible()]
    assert len(visible) == 1
    return visible[0]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone-360"])
@pytest.mark.parametrize("language", ["en", "ru"])
def test_metric_page_shows_its_chart_and_table_at_phone_and_desktop_size(
    browser, site, trade, language, viewport
):
    page = new_page(browser, viewport, locale=LOCALES[language])
    page.goto(f"{site}/{language}/figures/")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0
    with translation.override(language):
        name = trade.name
    page.get_by_role("link", name=name).click()
    page.wait_for_load_state()
    assert page.url == f"{site}/{language}/figures/{trade.slug}/"
    assert page.locator("h1").inner_text() == name
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0
    assert page.evaluate(OUTSIDE_THE_WINDOW) == []

    chart = shown_chart(page)
    picture = chart.locator("svg.chart-svg")
    assert picture.get_attribute("role") == "img"
    assert page.locator("#" + picture.get_attribute("aria-labelledby")).text_content()
    box = picture.bounding_box()
    assert 0 < box["width"] <= viewport["width"]
    # Eight dated figures plotted, each a link to its source; the undated target ruled across.
    assert chart.locator("a.chart-mark").count() == 8
    assert chart.locator("a.chart-mark.kind-forecast").count() == 1
    assert chart.locator("a.chart-rule").count() == 1
    assert chart.locator("a.chart-mark").first.get_attribute("href").startswith("https://")
    labels = chart.locator(".chart-labels text").all_text_contents()
    assert "2019" in labels and "2025" in labels
    assert any(SEEN[language]["unit"] in label for label in labels)
    # Value labels fit inside the drawing, and stay readable (at least 10 CSS px).
    for text in chart.locator(".chart-labels text").all():
        inside = text.bounding_box()
        assert (
            inside["x"] >= box["x"] - 1
            and inside["x"] + inside["width"] <= box["x"] + box["width"] + 1
        )
        assert inside["height"] >= 10

    # The table: every figure, the disagreeing two side by side; it scrolls on a phone.
    table = page.locator(".table-scroll")
    assert page.locator(".figures-table tbody tr").count() == 10
    assert page.locator(".figures-table tbody tr", has_text=SEEN[language]["billions"]).count() == 1
    assert page.locator(".figures-table .sources-differ").count() == 2
    scrolls = table.evaluate("e => e.scrollWidth > e.clientWidth")
    assert scrolls == (viewport is PHONE)
    assert table.get_attribute("tabindex") == "0"
    assert page.js_errors == []

    # The event where a figure was stated lists it, linked back to this page.
    metric_path = f"/{language}/figures/{trade.slug}/"
    page.locator(".figures-table").get_by_role("link", name=forum_title(language)).click()
    page.wait_for_load_state()
    assert page.url == f"{site}/{language}/events/interregional-forum/"
    stated = page.locator(".figures-stated li")
    assert stated.count() == 1
    assert SEEN[language]["stated"] in stated.inner_text()
    assert stated.get_by_role("link", name=name).get_attribute("href") == metric_path
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0


@pytest.mark.parametrize("language", ["en", "ru"])
def test_chart_is_drawn_without_javascript(browser, site, trade, language):
    context = browser.new_context(
        viewport=PHONE, java_script_enabled=False, locale=LOCALES[language]
    )
    page = context.new_page()
    page.goto(f"{site}/{language}/figures/{trade.slug}/")
    chart = shown_chart(page)
    assert chart.bounding_box()["width"] > 300
    assert chart.locator("a.chart-mark").count() == 8
    points = chart.locator("a.chart-mark.kind-actual circle")
    assert points.first.bounding_box()["width"] > 0
    assert page.evaluate(OUTSIDE_THE_WINDOW) == []
    context.close()


def test_the_figures_download_as_csv(browser, site, trade, tmp_path):
    page = new_page(browser, DESKTOP, locale="ru-RU")
    page.goto(f"{site}/ru/figures/{trade.slug}/")
    with page.expect_download() as download_info:
        page.locator(f'a[href="/figures/{trade.slug}.csv"]').click()
    saved = tmp_path / "figures.csv"
    download_info.value.save_as(saved)
    assert download_info.value.suggested_filename == f"{trade.slug}.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(rows) == 10
    assert {row["value"] for row in rows if row["period_start"] == "2024-01-01"} == {
        "27800000000",
        "26500000000",
    }
