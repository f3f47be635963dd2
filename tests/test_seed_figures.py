"""The founding article's figures in the seed, with period, qualifier, speaker and source."""

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

import pytest
from django.core.management import call_command
from django.db.models import Q

from timeline.models import Agreement, AgreementStep, Event, Figure, Metric, Source
from timeline.models.record import is_home_page

pytestmark = pytest.mark.django_db

# Sources, by title (or by URL when the record has no title for them).
ARTICLE = "Kazakhstan, Russia Sign Landmark Comprehensive Alliance Declaration"  # The Astana Times
FORUM = "21st Russia-Kazakhstan Interregional Cooperation Forum"  # kremlin.ru: Tokayev's address
KAZINFORM = "President Tokayev cites Abai to underline Kazakhstan-Russia education bridge"
MEDIA_STATEMENTS = "https://en.special.kremlin.ru/catalog/countries/KZ/events/78447"  # Putin

Period = tuple[dt.date | None, dt.date | None, str]
NO_PERIOD: Period = (None, None, "")
YEAR_2024: Period = (dt.date(2024, 1, 1), dt.date(2024, 12, 31), "year")
NINE_MONTHS_2025: Period = (dt.date(2025, 1, 1), dt.date(2025, 9, 30), "month")
END_OF_2024: Period = (None, dt.date(2024, 12, 31), "year")
NOVEMBER_2025: Period = (None, dt.date(2025, 11, 30), "month")
TWELFTH_NOVEMBER_2025: Period = (None, dt.date(2025, 11, 12), "day")

TOKAYEV, PUTIN = "kassym-jomart-tokayev", "vladimir-putin"
TRADE = "bilateral-trade-turnover"
BILLION = 1_000_000_000


class Stated(NamedTuple):
    """One figure as its source states it."""

    metric: str
    value: Decimal
    currency: str
    qualifier: str
    kind: str
    period: Period
    stated_by: str
    source: str


def usd(billions: str) -> Decimal:
    return Decimal(billions) * BILLION


# Every figure of the founding article (fixtures/FIGURES.md gives its words for each).
ARTICLE_FIGURES = [
    Stated(TRADE, usd("30"), "USD", "", "target", NO_PERIOD, TOKAYEV, ARTICLE),
    Stated(TRADE, usd("27"), "USD", "more_than", "actual", YEAR_2024, PUTIN, ARTICLE),
    Stated(TRADE, usd("20"), "USD", "", "actual", NINE_MONTHS_2025, PUTIN, ARTICLE),
    Stated(
        "russian-investment-in-kazakhstan-per-year",
        usd("4"),
        "USD",
        "",
        "actual",
        YEAR_2024,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "russian-investment-in-kazakhstan-total",
        usd("27"),
        "USD",
        "",
        "actual",
        END_OF_2024,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "kazakhstani-investment-in-russia-total",
        usd("9"),
        "USD",
        "",
        "actual",
        NO_PERIOD,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "russian-university-branches-in-kazakhstan",
        Decimal(9),
        "",
        "",
        "actual",
        NOVEMBER_2025,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "students-at-russian-university-branches-in-kazakhstan",
        Decimal(4000),
        "",
        "",
        "actual",
        NOVEMBER_2025,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "inter-university-agreements-in-force",
        Decimal(1450),
        "",
        "more_than",
        "actual",
        NOVEMBER_2025,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "npp-construction-workers",
        Decimal(6000),
        "",
        "more_than",
        "forecast",
        NO_PERIOD,
        TOKAYEV,
        ARTICLE,
    ),
    Stated(
        "npp-construction-mid-level-specialists",
        Decimal(3000),
        "",
        "more_than",
        "forecast",
        NO_PERIOD,
        TOKAYEV,
        ARTICLE,
    ),
]

# The same statements as other sources in the record give them, to stand beside the article's.
OTHER_FIGURES = [
    Stated(TRADE, usd("28"), "USD", "more_than", "actual", NO_PERIOD, TOKAYEV, FORUM),
    Stated(TRADE, usd("30"), "USD", "", "target", NO_PERIOD, TOKAYEV, FORUM),
    Stated(
        "russian-investment-in-kazakhstan-per-year",
        usd("4"),
        "USD",
        "",
        "actual",
        YEAR_2024,
        TOKAYEV,
        FORUM,
    ),
    Stated(
        "russian-investment-in-kazakhstan-total",
        usd("27"),
        "USD",
        "more_than",
        "actual",
        NO_PERIOD,
        TOKAYEV,
        FORUM,
    ),
    Stated(
        "kazakhstani-investment-in-russia-total",
        usd("9"),
        "USD",
        "about",
        "actual",
        NO_PERIOD,
        TOKAYEV,
        FORUM,
    ),
    Stated(TRADE, usd("28.7"), "USD", "", "actual", YEAR_2024, PUTIN, MEDIA_STATEMENTS),
    Stated(
        "npp-construction-workers",
        Decimal(6000),
        "",
        "more_than",
        "forecast",
        NO_PERIOD,
        TOKAYEV,
        KAZINFORM,
    ),
    Stated(
        "npp-construction-mid-level-specialists",
        Decimal(3000),
        "",
        "more_than",
        "forecast",
        NO_PERIOD,
        TOKAYEV,
        KAZINFORM,
    ),
    Stated(
        "russian-university-branches-in-kazakhstan",
        Decimal(9),
        "",
        "",
        "actual",
        TWELFTH_NOVEMBER_2025,
        TOKAYEV,
        KAZINFORM,
    ),
    Stated(
        "students-at-russian-university-branches-in-kazakhstan",
        Decimal(4000),
        "",
        "about",
        "actual",
        TWELFTH_NOVEMBER_2025,
        TOKAYEV,
        KAZINFORM,
    ),
]


def load_seed() -> None:
    call_command("loaddata", "fixtures/seed.json", verbosity=0)


def cited_to(source: str) -> Q:
    """Match figures whose source has this title, or this URL."""
    return Q(source__title=source) | Q(source__url=source)


def recorded(stated: Stated) -> list[Figure]:
    """Return the published figures that say exactly what *stated* says."""
    start, end, precision = stated.period
    return list(
        Figure.objects.published()
        .filter(cited_to(stated.source))
        .filter(
            metric__slug=stated.metric,
            value=stated.value,
            currency=stated.currency,
            qualifier=stated.qualifier,
            kind=stated.kind,
            period_start=start,
            period_end=end,
            period_precision=precision,
            stated_by__slug=stated.stated_by,
        )
    )


def test_every_figure_of_the_article_is_in_the_record_as_stated():
    load_seed()
    missing = [stated for stated in ARTICLE_FIGURES if len(recorded(stated)) != 1]
    assert missing == []
    # The list above is complete: the record cites the article for no other figure.
    assert Figure.objects.filter(cited_to(ARTICLE)).count() == len(ARTICLE_FIGURES)


def test_other_sources_give_the_same_statements_beside_the_article():
    load_seed()
    missing = [stated for stated in OTHER_FIGURES if len(recorded(stated)) != 1]
    assert missing == []
    assert Figure.objects.count() == len(ARTICLE_FIGURES) + len(OTHER_FIGURES)


def test_disagreeing_trade_figures_both_stand():
    load_seed()
    trade = Figure.objects.published().filter(metric__slug=TRADE, kind="actual")
    in_2024 = {
        (figure.value, figure.qualifier, figure.stated_by.slug)
        for figure in trade.filter(period_end=dt.date(2024, 12, 31))
    }
    assert in_2024 == {(usd("27"), "more_than", PUTIN), (usd("28.7"), "", PUTIN)}
    # The forum's "has exceeded US$28 billion" gives no year: it is kept undated, not put in 2024.
    undated = trade.get(period_end__isnull=True)
    assert (undated.value, undated.qualifier) == (usd("28"), "more_than")
    assert not undated.has_period
    sources = {figure.source.publisher for figure in trade}
    assert {"The Astana Times", "President of Russia (kremlin.ru)"} <= sources


def test_every_figure_is_sourced_attributed_quoted_and_valid():
    load_seed()
    for figure in Figure.objects.select_related("source", "metric"):
        figure.full_clean()
        assert figure.source.publisher and figure.quote, figure
        assert figure.stated_by is not None, figure
        assert figure.stated_at is not None and figure.stated_at.kind == "visit", figure
        money = figure.metric.unit == Metric.Unit.MONEY
        assert figure.currency == ("USD" if money else ""), figure


def test_every_record_of_the_seed_passes_validation():
    load_seed()
    for model in (Metric, Figure, Source, Event, Agreement, AgreementStep):
        assert model.objects.exists(), model.__name__
        for record in model.objects.all():
            record.full_clean()


def test_no_source_passes_a_front_page_for_the_item():
    load_seed()
    for source in Source.objects.filter(url_is_item=True):
        assert not is_home_page(source.url), source.url
    # The founding article's own address is not known: only the paper's site, and its month.
    for source in Source.objects.filter(title=ARTICLE):
        assert (source.publisher, source.url, source.url_is_item) == (
            "The Astana Times",
            "https://astanatimes.com/",
            False,
        )
        assert (source.published_on, source.published_precision) == (dt.date(2025, 11, 1), "month")
        assert (source.kind, source.language) == (Source.Kind.MEDIA, "en")


def test_the_state_visit_holds_its_talks_meeting_and_signing():
    load_seed()
    visit = Event.objects.get(slug="tokayev-state-visit-to-russia-2025")
    parts = list(visit.parts.order_by("start_utc", "title"))
    assert sorted(part.kind for part in parts) == ["meeting", "signing", "talks"]
    for part in parts:
        part.full_clean()
        assert part.part_of == visit and part.published
        assert part.start_date == dt.date(2025, 11, 12) and part.precision == "day"
    talks = next(part for part in parts if part.kind == "talks")
    assert {actor.slug for actor in talks.participants.all()} == {TOKAYEV, PUTIN}
    assert talks.place is not None and talks.place.slug == "moscow"
    assert talks.sources.filter(
        kind=Source.Kind.OFFICIAL,
        publisher="Akorda press service",
        title="Kassym-Jomart Tokayev holds talks with Russian President Vladimir Putin",
        url_is_item=False,
    ).exists()


def test_the_declaration_is_signed_at_the_signing_and_its_step_is_sourced():
    load_seed()
    declaration = Agreement.objects.get(kind="declaration")
    assert declaration.published
    assert declaration.title.startswith("Declaration on the Transition of Interstate Relations")
    assert declaration.signed_at is not None and declaration.signed_at.kind == "signing"
    assert {actor.slug for actor in declaration.signers.all()} == {TOKAYEV, PUTIN}
    assert {country.code for country in declaration.countries} == {"KZ", "RU"}
    steps = list(declaration.steps.all())
    assert [(step.status, step.date, step.precision) for step in steps] == [
        ("signed", dt.date(2025, 11, 12), "day")
    ]
    assert steps[0].source.is_official
    assert declaration.title in steps[0].source.quote


# The events that report a fact of the article, each of which cites it.
ARTICLE_EVENTS = (
    "tokayev-state-visit-to-russia-2025",
    "tokayev-putin-talks-2025",
    "declaration-comprehensive-strategic-partnership-and-alliance",
    "tokayev-meets-matviyenko-2025",
    "putin-state-visit-to-kazakhstan-2026",
    "kazakhstan-first-npp-construction-start",
    "mephi-branch-opens-at-kaznu-almaty",
    "kaznu-omsk-branch-opening",
)


def test_every_fact_of_the_article_cites_it_with_its_words():
    load_seed()
    for slug in ARTICLE_EVENTS:
        event = Event.objects.get(slug=slug)
        cited = event.sources.filter(title=ARTICLE)
        assert cited.count() == 1, slug
        assert cited.get().quote, slug
