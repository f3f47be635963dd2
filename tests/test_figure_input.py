"""Figures and sources that make no sense are refused with a field error that says what to fix."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.urls import reverse

from timeline.models import Event, Figure, Metric, Source

from .factories import ActorFactory, EventFactory, SourceFactory
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db


def make_metric(nature=Metric.Nature.FLOW, unit=Metric.Unit.MONEY) -> Metric:
    return Metric.objects.create(
        slug=f"{nature}-{unit}", name_en=f"{nature} {unit}", nature=nature, unit=unit
    )


def errors_of(figure: Figure) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        figure.full_clean()
    return caught.value.message_dict


YEAR_2024 = {
    "period_start": dt.date(2024, 1, 1),
    "period_end": dt.date(2024, 12, 31),
    "period_precision": "year",
}


@pytest.mark.parametrize(
    ("nature", "unit", "fields", "field", "words"),
    [
        ("level", "count", {"value": "-3", "period_end": dt.date(2025, 1, 1)}, "value", "negative"),
        ("level", "count", {"value": "2.5", "period_end": dt.date(2025, 1, 1)}, "value", "whole"),
        ("flow", "money", {"currency": "XYZ", **YEAR_2024}, "currency", "ISO 4217"),
        ("flow", "money", {"currency": "", **YEAR_2024}, "currency", "Give the currency"),
        ("level", "count", {"currency": "USD", "period_end": dt.date(2025, 1, 1)}, "currency", ""),
        (
            "flow",
            "money",
            {"period_start": dt.date(2025, 6, 1), "period_end": dt.date(2025, 1, 31)},
            "period_end",
            "ends before it starts",
        ),
        ("flow", "money", {"period_end": dt.date(2024, 12, 31)}, "period_start", "A flow"),
        ("level", "money", YEAR_2024, "period_start", "as of"),
        ("flow", "money", {"period_start": dt.date(2024, 1, 1)}, "period_end", "last day"),
        (
            "flow",
            "money",
            {
                "period_start": dt.date(2030, 1, 1),
                "period_end": dt.date(2030, 12, 31),
                "period_precision": "year",
            },
            "kind",
            "had not begun",
        ),
        ("flow", "money", {"period_start": dt.date(1, 1, 1), **{}}, "period_start", ""),
    ],
)
def test_nonsense_is_refused_on_the_field_at_fault(nature, unit, fields, field, words):
    metric = make_metric(nature, unit)
    values = {"value": "100", "currency": "USD" if unit == "money" else "", **fields}
    figure = Figure(
        metric=metric,
        source=SourceFactory(published_on=dt.date(2025, 11, 12)),
        **{**values, "value": Decimal(values["value"])},
    )
    errors = errors_of(figure)
    assert field in errors, errors
    assert words in " ".join(errors[field])


def test_a_target_for_the_future_and_an_undated_figure_are_fine():
    trade = make_metric()
    source = SourceFactory(published_on=dt.date(2025, 11, 12))
    future = {"period_start": dt.date(2030, 1, 1), "period_end": dt.date(2030, 12, 31)}
    for fields in ({"kind": "target", **future}, {"kind": "actual"}, {"kind": "forecast"}):
        Figure(
            metric=trade, source=source, value=Decimal(30), currency="usd", **fields
        ).full_clean()
    # A month given as any day in it is stored as the whole month.
    nine_months = Figure(
        metric=trade,
        source=source,
        value=Decimal(20),
        currency="usd",
        period_start=dt.date(2025, 1, 15),
        period_end=dt.date(2025, 9, 3),
        period_precision="month",
    )
    nine_months.full_clean()
    nine_months.save()
    assert (nine_months.period_start, nine_months.period_end, nine_months.currency) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 9, 30),
        "USD",
    )


def test_a_figure_never_loses_its_source():
    trade = make_metric()
    event = EventFactory()
    source = SourceFactory(event=event)
    Figure.objects.create(metric=trade, source=source, value=Decimal(1), currency="USD")
    with pytest.raises(ProtectedError):
        source.delete()
    # Deleting the event its source hangs on would take the source with it: refused too.
    with pytest.raises(ProtectedError):
        event.delete()
    assert Source.objects.filter(pk=source.pk).exists()
    assert "source" in errors_of(Figure(metric=trade, value=Decimal(1), currency="USD"))


def test_a_front_page_is_not_passed_off_as_the_item():
    for url in ("https://www.akorda.kz/en", "https://astanatimes.com/", "https://tass.com"):
        source = SourceFactory.build(event=None, url=url)
        with pytest.raises(ValidationError) as caught:
            source.full_clean()
        assert "front page" in " ".join(caught.value.message_dict["url"])
        source.url_is_item = False
        source.full_clean()  # said honestly: the item's address is not known
    SourceFactory.build(event=None, url="https://tass.com/economy/1999551").full_clean()


def test_the_admin_shows_figure_errors_on_their_fields(client, superuser):
    log_in_verified(client, superuser)
    students = make_metric(Metric.Nature.LEVEL, Metric.Unit.COUNT)
    source = SourceFactory(published_on=dt.date(2025, 11, 12))
    data = {
        "metric": students.pk,
        "kind": "actual",
        "qualifier": "more_than",
        "value": "-4000",
        "currency": "",
        "period_start": "",
        "period_end": "2025-11-30",
        "period_precision": "month",
        "stated_by": ActorFactory().pk,
        "source": source.pk,
        "quote": "",
        "published": "on",
    }
    url = reverse("admin:timeline_figure_add")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert client.post(url, {**data, "source": ""}).context["adminform"].form.errors["source"]
    response = client.post(url, {**data, "value": "4000"})
    assert response.status_code == 302
    saved = Figure.objects.get()
    assert (saved.value, saved.qualifier, saved.source, saved.published) == (
        4000,
        "more_than",
        source,
        True,
    )
    assert saved.period_end == dt.date(2025, 11, 30)
    assert Event.objects.count() == 1  # the source's event, nothing else made


def test_an_editor_records_figures_but_cannot_publish_them(client, editor, publisher):
    students = make_metric(Metric.Nature.LEVEL, Metric.Unit.COUNT)
    data = {
        "metric": students.pk,
        "kind": "actual",
        "qualifier": "",
        "value": "4000",
        "currency": "",
        "period_start": "",
        "period_end": "2025-11-30",
        "period_precision": "month",
        "source": SourceFactory(published_on=dt.date(2025, 11, 12)).pk,
        "quote": "",
        "published": "on",
    }
    log_in_verified(client, editor)
    assert client.post(reverse("admin:timeline_figure_add"), data).status_code == 302
    figure = Figure.objects.get()
    assert not figure.published
    client.logout()
    log_in_verified(client, publisher)
    change = reverse("admin:timeline_figure_change", args=[figure.pk])
    assert client.post(change, data).status_code == 302
    figure.refresh_from_db()
    assert figure.published
