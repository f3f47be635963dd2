"""Agreements as readers see them: parties, signing, and a dated, sourced status history."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from timeline import timing
from timeline.models import AgreementStep

from .admin_forms import change_form_data
from .factories import (
    ActorFactory,
    AgreementFactory,
    AgreementStepFactory,
    EventFactory,
    PlaceFactory,
    SourceFactory,
)
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db


def step(agreement, status, day, party="", **source):
    """Add a step on *day* with a source of its own."""
    return AgreementStepFactory(
        agreement=agreement,
        status=status,
        party=party,
        date=day,
        source=SourceFactory(event=None, **source),
    )


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def declaration():
    """A declaration signed at a published visit's signing, then ratified by each party."""
    moscow = PlaceFactory(name="Moscow", country="RU", timezone="Europe/Moscow")
    signing = EventFactory(
        title="Signing in the Kremlin",
        kind="signing",
        place=moscow,
        start_date=dt.date(2025, 11, 12),
    )
    agreement = AgreementFactory(
        title="Declaration on alliance",
        title_ru="Декларация о союзничестве",
        summary="The presidents declare an alliance.",
        kind="declaration",
        signed_at=signing,
        organisations=[ActorFactory(name="Rosatom", kind="organisation", role="")],
        signers=[ActorFactory(name="Kassym-Jomart Tokayev", role="President of Kazakhstan")],
    )
    # Recorded out of order: the history is shown by date.
    step(
        agreement,
        "ratified",
        dt.date(2026, 3, 1),
        party="RU",
        publisher="Interfax",
        kind="media",
        url="https://www.interfax.ru/",
        url_is_item=False,
        published_on=dt.date(2026, 3, 2),
        language="ru",
    )
    step(
        agreement,
        "signed",
        dt.date(2025, 11, 12),
        publisher="The Astana Times",
        kind="media",
        title="Presidents sign the declaration",
        archived_url="https://web.archive.org/web/2025/https://astanatimes.com/x/",
    )
    step(
        agreement,
        "ratified",
        dt.date(2026, 1, 1),
        party="KZ",
        publisher="Akorda",
        kind="official",
        url="https://www.akorda.kz/en/ratified",
        published_on=dt.date(2026, 1, 5),
    )
    AgreementStep.objects.filter(agreement=agreement, party="KZ").update(precision="month")
    return agreement


def test_list_shows_published_agreements_with_parties_and_current_status(client, declaration):
    AgreementFactory(title="Draft memorandum", published=False)
    text = page(client, "/en/agreements/")
    assert "Declaration on alliance" in text
    assert "Draft memorandum" not in text
    assert "Declaration" in text  # the kind
    assert "Kazakhstan, Russia; Rosatom" in text
    # The latest step: Russia's ratification, dated to the day.
    assert "Current status:" in text
    assert "Ratified" in text and "(Russia)" in text and "1 Mar 2026" in text
    assert '<a href="/en/agreements/" aria-current="page">Agreements</a>' in text


def test_list_and_page_in_russian(client, declaration):
    text = page(client, "/ru/agreements/")
    assert "Декларация о союзничестве" in text
    assert "Казахстан" in text and "Россия" in text
    assert timing.describe("day", dt.date(2026, 3, 1), language="ru") in text
    text = page(client, f"/ru/agreements/{declaration.slug}/")
    assert "Декларация о союзничестве" in text
    assert 'href="/ru/events/' in text  # the signing event, in the reader's language
    # Written only in English: shown as a fallback, marked as English.
    assert '<p class="summary" lang="en">The presidents declare an alliance.</p>' in text
    assert timing.describe("month", dt.date(2026, 1, 1), language="ru", still_to_come=False) in text


def test_page_shows_parties_signing_and_history_in_date_order(client, declaration):
    text = page(client, f"/en/agreements/{declaration.slug}/")
    assert "<h1" in text and "Declaration on alliance" in text
    assert "The presidents declare an alliance." in text
    assert "Rosatom" in text
    assert "Kassym-Jomart Tokayev (President of Kazakhstan)" in text
    assert "Signing in the Kremlin" in text and "12 Nov 2025" in text and "Moscow, Russia" in text
    history = text[text.index('id="status-history"') : text.index('id="agreement-sources"')]
    # Signed, ratified by Kazakhstan (known to the month), ratified by Russia.
    signed, by_kazakhstan, by_russia = (
        history.index("12 Nov 2025"),
        history.index("January 2026"),
        history.index("1 Mar 2026"),
    )
    assert signed < by_kazakhstan < by_russia
    assert history.index("(Kazakhstan)") < history.index("(Russia)")
    assert "The Astana Times, 12 Nov 2025" in history


def test_sources_official_first_with_exact_address_and_archived_copy(client, declaration):
    text = page(client, f"/en/agreements/{declaration.slug}/")
    sources = text[text.index('id="agreement-sources"') :]
    akorda, astana, interfax = (
        sources.index("Akorda"),
        sources.index("The Astana Times"),
        sources.index("Interfax"),
    )
    assert akorda < astana < interfax  # official first, then by publication date
    assert '<span class="badge official">Official source</span>' in sources
    assert 'href="https://www.akorda.kz/en/ratified"' in sources
    # A source known only by its publisher's site says so, and links the site.
    interfax_entry = sources[interfax - 600 : interfax + 600]
    assert "exact address of this item is not known" in interfax_entry
    assert 'href="https://www.interfax.ru/"' in interfax_entry
    assert sources.count("exact address of this item is not known") == 1
    assert 'href="https://web.archive.org/web/2025/https://astanatimes.com/x/"' in sources
    assert "Archived copy" in sources


def test_signing_event_linked_only_when_published(client, declaration):
    declaration.signed_at.published = False
    declaration.signed_at.save()
    text = page(client, f"/en/agreements/{declaration.slug}/")
    assert "Signing in the Kremlin" not in text
    assert "Signed at" not in text


def test_unpublished_and_unknown_agreements_are_not_found(client):
    draft = AgreementFactory(published=False)
    assert client.get(f"/en/agreements/{draft.slug}/").status_code == 404
    assert client.get("/en/agreements/nothing/").status_code == 404


def test_an_agreement_without_history_says_so(client):
    agreement = AgreementFactory()
    text = page(client, agreement.get_absolute_url())
    assert "No change of status is recorded yet." in text
    assert "Current status" not in text


# --- validation -------------------------------------------------------------------------------
def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_a_ratification_names_one_of_the_parties():
    agreement = AgreementFactory(countries=["KZ", "RU"])
    source = SourceFactory(event=None)
    ratified = AgreementStep(
        agreement=agreement, status="ratified", date=dt.date(2026, 1, 1), source=source
    )
    assert errors_of(ratified)["party"] == ["Say which party ratified it."]
    ratified.party = "BY"
    assert errors_of(ratified)["party"] == ["This state is not a party to the agreement."]
    ratified.party = "KZ"
    ratified.full_clean()
    signed = AgreementStep(
        agreement=agreement, status="signed", date=dt.date(2025, 11, 12), source=source
    )
    signed.full_clean()  # a step concerning every party names none


def test_admin_refuses_a_ratification_without_its_party(client, superuser):
    log_in_verified(client, superuser)
    agreement = AgreementFactory()
    source = SourceFactory(event=None)
    url = reverse("admin:timeline_agreement_change", args=[agreement.pk])
    data = change_form_data(client.get(url))
    data.update(
        {
            "steps-0-status": "ratified",
            "steps-0-date": "2026-01-01",
            "steps-0-precision": "day",
            "steps-0-source": str(source.pk),
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Say which party ratified it." in response.content.decode()
    data["steps-0-party"] = "RU"
    assert client.post(url, data).status_code == 302
    assert agreement.steps.get().party == "RU"


# --- queries ----------------------------------------------------------------------------------
def count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(path).status_code == 200
    return len(context.captured_queries)


def grow(agreement, steps: int) -> None:
    first = dt.date(2000, 1, 1)
    for number in range(steps):
        step(agreement, "in_force", first + dt.timedelta(days=number), publisher=f"P{number}")


def test_agreement_pages_queries_do_not_grow_with_the_history(client):
    small, large = AgreementFactory(), AgreementFactory()
    for agreement in (small, large):
        agreement.signed_at = EventFactory(kind="signing")
        agreement.save()
        agreement.organisations.add(ActorFactory(kind="organisation"))
        agreement.signers.add(ActorFactory(), ActorFactory())
    grow(small, 10)
    grow(large, 100)
    assert count_queries(client, small.get_absolute_url()) == count_queries(
        client, large.get_absolute_url()
    )
    few = count_queries(client, "/en/agreements/")
    for _number in range(5):
        grow(AgreementFactory(organisations=[ActorFactory(kind="organisation")]), 20)
    assert count_queries(client, "/en/agreements/") == few
