"""The figures pages: the metric list, a metric's chart and table, its CSV, the event page."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import pgettext

from timeline import l10n
from timeline.figure_csv import COLUMNS
from timeline.models import Figure, Metric, Source

from .factories import ActorFactory, EventFactory, FigureFactory, MetricFactory, SourceFactory

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"
D = dt.date


@pytest.fixture(autouse=True)
def no_language_left_active():
    yield
    translation.deactivate()


def page(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return answer.content.decode()


def table(html: str) -> str:
    return html[html.index('<table class="figures-table">') : html.index("</table>")]


def rows(html: str) -> list[str]:
    return re.findall(r"<tr id=\"figure-\d+\".*?</tr>", table(html), flags=re.S)


def marks(html: str) -> list[str]:
    """Return the plotted points of the wide drawing of the first chart."""
    wide = html[html.index('<div class="chart-wide">') : html.index('<div class="chart-narrow">')]
    return re.findall(r'<a class="chart-mark kind-(\w+)" href="([^"]+)"', wide)


@pytest.fixture
def trade():
    """Trade turnover: two years, the second stated differently by two sources, and a target."""
    metric = MetricFactory(
        name="Bilateral trade", slug="trade", description="Goods traded both ways."
    )
    with translation.override("ru"):
        metric.name = "Взаимная торговля"
        metric.save()
    minister = ActorFactory(name="Serik Zhumangarin", role="Minister of Trade")
    forum = EventFactory(title="Interregional forum", slug="forum")
    official = SourceFactory(
        event=None,
        kind=Source.Kind.OFFICIAL,
        publisher="Akorda",
        url="https://www.akorda.kz/",
        url_is_item=False,
        language="ru",
        published_on=D(2025, 11, 12),
    )
    media = SourceFactory(
        event=None,
        publisher="TASS",
        url="https://tass.ru/ekonomika/1",
        archived_url="https://web.archive.org/web/2025/https://tass.ru/ekonomika/1",
        language="ru",
        published_on=D(2025, 3, 1),
        published_precision="month",
    )
    return {
        "metric": metric,
        "2023": FigureFactory(
            metric=metric,
            value=Decimal("25800000000"),
            period_start=D(2023, 1, 1),
            period_end=D(2023, 12, 31),
            source=media,
        ),
        "2024 official": FigureFactory(
            metric=metric,
            value=Decimal("27000000000"),
            qualifier=Figure.Qualifier.MORE_THAN,
            source=official,
            stated_by=minister,
            stated_at=forum,
            quote="Товарооборот превысил 27 млрд долларов",
        ),
        "2024 media": FigureFactory(metric=metric, value=Decimal("26500000000"), source=media),
        "target": FigureFactory(
            metric=metric,
            kind=Figure.Kind.TARGET,
            value=Decimal("30000000000"),
            period_start=None,
            period_end=None,
            period_precision="",
            source=official,
        ),
        "undated actual": FigureFactory(
            metric=metric,
            value=Decimal("20000000000"),
            qualifier=Figure.Qualifier.ABOUT,
            period_start=None,
            period_end=None,
            period_precision="",
            source=media,
        ),
        "draft": FigureFactory(metric=metric, value=Decimal("99000000000"), published=False),
    }


def test_metric_page_shows_every_published_figure_with_its_source_in_english(client, trade):
    html = page(client, "/en/figures/trade/")
    assert '<h1 dir="auto">Bilateral trade</h1>' in html
    assert "Goods traded both ways." in html
    listed = rows(html)
    assert len(listed) == 5  # the draft is not among them
    assert "US$99B" not in html
    # Both sources' 2024 figures stand side by side, the qualifier kept, no average invented.
    both = [row for row in listed if '<th scope="row">2024' in row]
    assert len(both) == 2
    both.sort(key=lambda row: "Akorda" not in row)
    assert "more than US$27B" in both[0] and "Akorda" in both[0]
    assert "US$26.5B" in both[1] and "TASS" in both[1]
    assert all("Sources differ for this period" in row for row in both)
    assert "26.75" not in html and "US$26.8B" not in html
    assert "Sources differ" not in listed[0]  # 2023: one source
    # Who said it, where, and the source cited as it is.
    assert "Serik Zhumangarin" in both[0] and "Minister of Trade" in both[0]
    assert '<a href="/en/events/forum/">Interregional forum</a>' in both[0]
    assert '<span class="badge official">Official source</span>' in both[0]
    assert "The exact address of this item is not known." in both[0]
    assert 'href="https://www.akorda.kz/"' in both[0]
    assert '<time datetime="2025-11-12">12 Nov 2025</time>' in both[0]
    assert '<time datetime="2025-03">March 2025</time>' in both[1]
    assert 'href="https://web.archive.org/web/2025/https://tass.ru/ekonomika/1"' in both[1]
    assert '<blockquote lang="ru">Товарооборот превысил 27 млрд долларов</blockquote>' in html
    # Figures with no period come last, listed, the actual one said not to be on the chart.
    assert "period not stated" in listed[3] and "about US$20B" in listed[3]
    assert "not on the chart" in listed[3]
    assert "period not stated" in listed[4] and "US$30B" in listed[4]
    assert "not on the chart" not in listed[4]  # drawn across it
    assert "1 figure states no period: it is listed in the table, not placed on the chart." in html
    assert '<a class="button secondary" href="/figures/trade.csv" download>' in html


def test_the_chart_plots_dated_figures_links_each_to_its_source_and_rules_the_target(client, trade):
    html = page(client, "/en/figures/trade/")
    plotted = marks(html)
    assert sorted(plotted) == sorted(
        [
            ("actual", "https://tass.ru/ekonomika/1"),
            ("actual", "https://www.akorda.kz/"),
            ("actual", "https://tass.ru/ekonomika/1"),
        ]
    )
    assert html.count('<svg class="chart-svg"') == html.count('role="img"') == 2  # wide, narrow
    assert 'class="chart-rule" href="https://www.akorda.kz/"' in html
    assert "Target: US$30B</text>" in html
    # Sources disagree about 2024: no line joins 2023 to either of them.
    assert 'class="chart-line"' not in html
    assert ">2023</text>" in html and ">2024</text>" in html


def test_actual_values_of_one_kind_of_period_are_joined_by_a_line(client):
    metric = MetricFactory(slug="flows")
    for year in (2021, 2022, 2023):
        FigureFactory(metric=metric, period_start=D(year, 1, 1), period_end=D(year, 12, 31))
    FigureFactory(
        metric=metric,
        period_start=D(2024, 1, 1),
        period_end=D(2024, 9, 30),
        period_precision="month",
    )
    FigureFactory(
        metric=metric,
        kind=Figure.Kind.FORECAST,
        period_start=D(2026, 1, 1),
        period_end=D(2026, 12, 31),
    )
    html = page(client, "/en/figures/flows/")
    wide = html[html.index('<div class="chart-wide">') : html.index('<div class="chart-narrow">')]
    (line,) = re.findall(r'<path class="chart-line" d="([^"]+)"', wide)
    assert line.count("L") == 2  # three years joined; January–September 2024 stands apart
    assert [kind for kind, _url in marks(html)].count("forecast") == 1
    assert "Forecast or plan" in html


def test_metric_page_in_russian_formats_values_and_periods_in_russian(client, trade):
    html = page(client, "/ru/figures/trade/")
    assert '<h1 dir="auto">Взаимная торговля</h1>' in html
    with translation.override("ru"):
        more_than = pgettext("figure value", "more than %(amount)s") % {
            "amount": f"27{NBSP}млрд{NBSP}$"
        }
    assert more_than in html
    assert f"26,5{NBSP}млрд{NBSP}$" in html
    assert f"25,8{NBSP}млрд{NBSP}$" in html
    assert "US$" not in html
    assert '<time datetime="2025-11-12">12 ноября 2025\u202fг.</time>' in html
    assert f"{l10n.currency_name('USD', 'ru')} (USD)" in html


def test_metric_list_shows_each_metric_with_its_latest_actual_figures(client, trade):
    students = MetricFactory(
        name="Kazakh students in Russia", slug="students", nature="level", unit="count"
    )
    FigureFactory(
        metric=students,
        value=Decimal("74500"),
        currency="",
        period_start=None,
        period_end=D(2024, 10, 1),
        period_precision="day",
    )
    MetricFactory(name="Nothing published", slug="empty")
    FigureFactory(metric=MetricFactory(name="Only drafts"), published=False)
    html = page(client, "/en/figures/")
    assert '<a href="/en/figures/trade/">Bilateral trade</a>' in html
    assert '<a href="/en/figures/students/">Kazakh students in Russia</a>' in html
    assert "Nothing published" not in html and "Only drafts" not in html
    latest = html[html.index("/en/figures/trade/") : html.index("/en/figures/students/")]
    # The two 2024 figures both, not 2023 and not the undated or the target.
    assert "more than US$27B" in latest and "US$26.5B" in latest
    assert "US$25.8B" not in latest and "US$30B" not in latest
    assert "5 figures" in latest
    assert "74,500" in html and "as of 1 Oct 2024" in html
    assert '<a href="/en/figures/" aria-current="page">Figures</a>' in html

    # A count standing at a date: one point on its day, no currency.
    html = page(client, "/en/figures/students/")
    assert '<th scope="row">as of 1 Oct 2024</th>' in html and "74,500" in html
    assert [kind for kind, _source in marks(html)] == ["actual"]
    assert "currency:" not in html and "Values over time</figcaption>" in html


def test_unknown_or_unpublished_metrics_are_not_found(client):
    FigureFactory(metric=MetricFactory(slug="drafts-only"), published=False)
    for path in (
        "/en/figures/no-such/",
        "/en/figures/drafts-only/",
        "/figures/no-such.csv",
        "/figures/drafts-only.csv",
    ):
        assert client.get(path).status_code == 404, path


def test_csv_has_stable_columns_and_every_published_figure(client, trade, settings):
    answer = client.get("/figures/trade.csv", HTTP_ACCEPT_LANGUAGE="ru")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="trade.csv"'
    assert "Accept-Language" not in answer.get("Vary", "")
    text = answer.content.decode("utf-8")
    assert text == client.get("/figures/trade.csv", HTTP_ACCEPT_LANGUAGE="kk").content.decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(COLUMNS)
    assert len(table) == 5
    official = next(row for row in table if row["qualifier"] == "more_than")
    assert official == {
        "metric": "trade",
        "kind": "actual",
        "qualifier": "more_than",
        "value": "27000000000",
        "unit": "money",
        "currency": "USD",
        "period_start": "2024-01-01",
        "period_end": "2024-12-31",
        "period_precision": "year",
        "stated_by": "Serik Zhumangarin",
        "stated_at": settings.SITE_URL + "/en/events/forum/",
        "source_publisher": "Akorda",
        "source_title": "",
        "source_url": "https://www.akorda.kz/",
        "source_url_is_item": "false",
        "source_archived_url": "",
        "source_published_on": "2025-11-12",
        "source_published_precision": "day",
        "source_kind": "official",
        "source_language": "ru",
        "quote": "Товарооборот превысил 27 млрд долларов",
    }
    undated = [row for row in table if not row["period_end"]]
    assert {row["value"] for row in undated} == {"30000000000", "20000000000"}
    assert all(row["period_start"] == row["period_precision"] == "" for row in undated)
    media = next(row for row in table if row["value"] == "26500000000")
    assert media["source_archived_url"].startswith("https://web.archive.org/")
    assert media["source_published_precision"] == "month"
    assert "99000000000" not in text


def test_csv_leaves_out_the_event_of_an_unpublished_event(client, trade):
    trade["2024 official"].stated_at.published = False
    trade["2024 official"].stated_at.save()
    table = list(csv.DictReader(io.StringIO(client.get("/figures/trade.csv").content.decode())))
    assert {row["stated_at"] for row in table} == {""}
    html = page(client, "/en/figures/trade/")
    assert "Interregional forum" not in html


def test_event_page_lists_the_figures_stated_there_and_sources_official_first(client, trade):
    forum = trade["2024 official"].stated_at
    SourceFactory(event=forum, publisher="Kazinform", title="Forum opens", kind="media")
    SourceFactory(
        event=forum,
        publisher="Government of Kazakhstan",
        title="Prime minister at the forum",
        kind="official",
        published_on=D(2025, 11, 13),
        archived_url="https://web.archive.org/web/2025/gov",
    )
    SourceFactory(
        event=forum,
        publisher="Kremlin",
        url="http://kremlin.ru/",
        url_is_item=False,
        kind="official",
        published_on=D(2025, 11, 14),
        language="ru",
    )
    html = page(client, "/en/events/forum/")
    stated = html[html.index('id="figures-stated-here"') : html.index('id="sources"')]
    assert '<a href="/en/figures/trade/">Bilateral trade</a>' in stated
    assert "more than US$27B" in stated and ', <span class="figure-period">2024</span>' in stated
    assert "Stated by Serik Zhumangarin" in stated and "Akorda" in stated
    assert "US$26.5B" not in stated  # stated elsewhere
    sources = html[html.index('id="sources"') :]
    order = [sources.index(name) for name in ("Government of Kazakhstan", "Kremlin", "Kazinform")]
    assert order == sorted(order)
    assert sources.count('<span class="badge official">Official source</span>') == 2
    assert "The exact address of this item is not known." in sources
    assert 'href="http://kremlin.ru/"' in sources
    assert '<a class="archived" href="https://web.archive.org/web/2025/gov"' in sources


def test_event_page_has_no_figures_section_without_figures(client):
    EventFactory(slug="quiet")
    FigureFactory(stated_at=EventFactory(slug="other"), published=False)
    assert "Figures stated here" not in page(client, "/en/events/quiet/")
    assert "Figures stated here" not in page(client, "/en/events/other/")


def test_the_site_navigation_links_the_figures(client):
    EventFactory(slug="visit")
    html = page(client, "/ru/events/visit/")
    with translation.override("ru"):
        from django.utils.translation import gettext

        assert f'<a href="/ru/figures/">{gettext("Figures")}</a>' in html


def bulk_figures(count: int, metric: Metric, event=None) -> None:
    """Create *count* published figures, each with its own source and speaker, in bulk."""
    sources = Source.objects.bulk_create(
        Source(
            url=f"https://example.com/item-{metric.slug}-{n}",
            publisher=f"Publisher {n}",
            published_on=D(2025, 1, 1),
            language="en",
            kind=Source.Kind.OFFICIAL if n % 2 else Source.Kind.MEDIA,
        )
        for n in range(count)
    )
    actor = ActorFactory()
    Figure.objects.bulk_create(
        Figure(
            metric=metric,
            value=Decimal(1_000_000 * (n + 1)),
            currency="USD",
            period_start=D(2000 + n % 30, 1, 1),
            period_end=D(2000 + n % 30, 12, 31),
            period_precision="year",
            kind=(Figure.Kind.ACTUAL, Figure.Kind.TARGET, Figure.Kind.FORECAST)[n % 3],
            source=source,
            stated_by=actor,
            stated_at=event,
            published=True,
        )
        for n, source in enumerate(sources)
    )


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(path).status_code == 200
    return len(context.captured_queries)


def test_metric_page_queries_do_not_grow_with_figures(client):
    metric = MetricFactory(slug="many")
    event = EventFactory(slug="many-figures")
    bulk_figures(10, metric, event)
    few = queries(client, "/en/figures/many/")
    bulk_figures(990, metric, event)
    html = page(client, "/en/figures/many/")
    assert len(rows(html)) == 1000
    assert queries(client, "/en/figures/many/") == few
    assert queries(client, "/figures/many.csv") == queries(client, "/figures/many.csv")


def test_event_page_queries_do_not_grow_with_figures_and_sources(client):
    metric = MetricFactory(slug="stated")
    event = EventFactory(slug="summit")
    SourceFactory(event=event)
    bulk_figures(10, metric, event)
    few = queries(client, "/en/events/summit/")
    bulk_figures(990, metric, event)
    for n in range(20):
        SourceFactory(event=event, kind="official" if n % 2 else "media")
    html = page(client, "/en/events/summit/")
    assert html.count('<strong class="figure-value">') == 1000
    assert queries(client, "/en/events/summit/") == few


def test_figures_list_queries_do_not_grow_with_metrics(client):
    bulk_figures(10, MetricFactory(slug="first"))
    few = queries(client, "/en/figures/")
    for n in range(20):
        bulk_figures(50, MetricFactory(slug=f"more-{n}"))
    assert queries(client, "/en/figures/") == few
