"""The figures API, as an analyst's script would use it: filters, languages, the schema, errors."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from timeline.models import Figure, Metric, Source

from .factories import ActorFactory, EventFactory, SourceFactory

pytestmark = pytest.mark.django_db
SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "timeline/schemas/figures-api.json").read_text()
)
PAGE = {"$ref": "#/$defs/page", "$defs": SCHEMA["$defs"]}


def validate(document) -> None:
    jsonschema.validate(document, PAGE, format_checker=jsonschema.FormatChecker())


def metric(slug="bilateral-trade", nature=Metric.Nature.FLOW, unit=Metric.Unit.MONEY, **extra):
    return Metric.objects.create(
        slug=slug,
        name_en=slug.replace("-", " ").capitalize(),
        name_ru=extra.pop("name_ru", None),
        nature=nature,
        unit=unit,
        **extra,
    )


def figure(metric, value, **fields) -> Figure:
    defaults = {
        "kind": Figure.Kind.ACTUAL,
        "currency": "USD" if metric.unit == Metric.Unit.MONEY else "",
        "source": fields.pop("source", None) or SourceFactory(),
        "published": True,
    }
    made = Figure(metric=metric, value=Decimal(value), **{**defaults, **fields})
    made.full_clean()
    made.save()
    return made


@pytest.fixture
def trade():
    """The 2024 trade figure as two sources give it, a nine-month figure, and a target."""
    putin = ActorFactory(slug="vladimir-putin", name="Vladimir Putin")
    visit = EventFactory(slug="state-visit", title="State visit")
    trade = metric(name_ru="Товарооборот", countries=["KZ", "RU"])
    article = SourceFactory(event=visit, kind="media", title="Landmark declaration")
    kremlin = SourceFactory(
        event=None,
        kind="official",
        url="https://en.special.kremlin.ru/events/president/news/78446",
        publisher="President of Russia",
    )
    return {
        "putin": putin,
        "visit": visit,
        "metric": trade,
        "exceeded_27": figure(
            trade,
            "27000000000",
            qualifier="more_than",
            period_start=dt.date(2024, 1, 1),
            period_end=dt.date(2024, 12, 31),
            period_precision="year",
            stated_by=putin,
            stated_at=visit,
            source=article,
            quote="In 2024, our trade exceeded $27 billion",
        ),
        "exceeded_28": figure(
            trade, "28000000000", qualifier="more_than", stated_by=putin, source=kremlin
        ),
        "nine_months": figure(
            trade,
            "20000000000",
            period_start=dt.date(2025, 1, 1),
            period_end=dt.date(2025, 9, 30),
            period_precision="month",
            stated_by=putin,
            stated_at=visit,
            source=article,
        ),
        "target": figure(trade, "30000000000", kind="target", source=article),
    }


def test_figures_come_with_period_qualifier_attribution_and_source(client, trade):
    body = client.get("/api/figures/?lang=en").json()
    validate(body)
    assert body["count"] == 4
    by_id = {item["id"]: item for item in body["results"]}
    exceeded = by_id[trade["exceeded_27"].pk]
    assert exceeded["value"] == 27_000_000_000 and exceeded["value_exact"] == "27000000000"
    assert (exceeded["qualifier"], exceeded["currency"], exceeded["kind"]) == (
        "more_than",
        "USD",
        "actual",
    )
    assert exceeded["period"] == {"start": "2024-01-01", "end": "2024-12-31", "precision": "year"}
    assert exceeded["stated_by"] == {
        "slug": "vladimir-putin",
        "name": "Vladimir Putin",
        "name_language": "en",
    }
    assert exceeded["stated_at"]["slug"] == "state-visit"
    assert exceeded["source"]["title"] == "Landmark declaration"
    assert exceeded["quote"] == "In 2024, our trade exceeded $27 billion"
    # The other source's figure stands beside it, with no period where the source gives none.
    other = by_id[trade["exceeded_28"].pk]
    assert other["period"] == {"start": None, "end": None, "precision": None}
    assert other["source"]["kind"] == "official" and other["stated_at"] is None
    # Dated figures in period order, then those whose source states no period.
    assert [item["id"] for item in body["results"]][-2:] == sorted(
        [trade["exceeded_28"].pk, trade["target"].pk]
    )


def test_filters_combine_and_bad_values_are_refused_with_a_reason(client, trade):
    students = metric("students", nature=Metric.Nature.LEVEL, unit=Metric.Unit.COUNT)
    figure(students, "4000", period_end=dt.date(2025, 11, 30), period_precision="month")

    def ids(query):
        response = client.get(f"/api/figures/?{query}")
        assert response.status_code == 200, response.content
        validate(response.json())
        return {item["id"] for item in response.json()["results"]}

    assert len(ids("metric=bilateral-trade")) == 4
    assert ids("metric=bilateral-trade&kind=target") == {trade["target"].pk}
    assert ids("source_kind=official") == {trade["exceeded_28"].pk}
    assert ids("event=state-visit") == {trade["exceeded_27"].pk, trade["nine_months"].pk}
    assert ids("stated_by=vladimir-putin&from=2025-01-01") == {trade["nine_months"].pk}
    assert ids("to=2024-12-31") == {trade["exceeded_27"].pk}
    assert ids("country=kz&kind=actual") == {
        trade["exceeded_27"].pk,
        trade["exceeded_28"].pk,
        trade["nine_months"].pk,
    }
    assert ids("metric=no-such-metric") == set()
    for query, words in (
        ("kind=estimate", "Unknown kind 'estimate'"),
        ("source_kind=blog", "Unknown source_kind 'blog'"),
        ("from=2025-13-01", "?from= takes a date"),
        ("page=two", "whole numbers"),
        ("lang=de", "Unknown language"),
    ):
        response = client.get(f"/api/figures/?{query}")
        assert response.status_code == 400, query
        assert words in response.json()["error"]


def test_drafts_and_their_events_stay_hidden(client, trade):
    Figure.objects.filter(pk=trade["target"].pk).update(published=False)
    trade["visit"].published = False
    trade["visit"].save()
    body = client.get("/api/figures/").json()
    assert trade["target"].pk not in {item["id"] for item in body["results"]}
    # A figure stated at a draft event is shown, but says nothing of the draft.
    exceeded = next(i for i in body["results"] if i["id"] == trade["exceeded_27"].pk)
    assert exceeded["stated_at"] is None
    assert client.get("/api/figures/?event=state-visit").json()["count"] == 0


def test_every_language_and_fallbacks(client, trade):
    item = client.get("/api/figures/?lang=ru").json()["results"][0]
    assert (item["metric"]["name"], item["metric"]["name_language"]) == ("Товарооборот", "ru")
    assert (item["stated_by"]["name"], item["stated_by"]["name_language"]) == (
        "Vladimir Putin",
        "en",
    )
    assert item["metric"]["url"].endswith("/ru/figures/bilateral-trade/")
    every = client.get("/api/figures/?lang=all").json()
    validate(every)
    assert every["results"][0]["metric"]["name"] == {
        "kk": None,
        "ru": "Товарооборот",
        "en": "Bilateral trade",
    }


def test_schemas_are_published(client):
    for name in ("figures", "events"):
        response = client.get(f"/api/schemas/{name}.json")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/schema+json"
        assert json.loads(b"".join(response.streaming_content))["$id"].endswith(f"/{name}-api.json")
    assert client.get("/api/schemas/secrets.json").status_code == 404


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_queries_stay_constant_as_figures_grow(client, trade):
    few = count_queries(client, "/api/figures/?page_size=200")
    source = Source.objects.first()
    actor = trade["putin"]
    Figure.objects.bulk_create(
        Figure(
            metric=trade["metric"],
            value=Decimal(n),
            currency="USD",
            period_start=dt.date(2000 + n % 20, 1, 1),
            period_end=dt.date(2000 + n % 20, 12, 31),
            period_precision="year",
            stated_by=actor,
            stated_at=trade["visit"],
            source=source,
            published=True,
        )
        for n in range(1000)
    )
    assert count_queries(client, "/api/figures/?page_size=200") == few
