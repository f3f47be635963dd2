"""Editing the record through the admin, as an editor would, with history and undo."""

import datetime as dt

import pytest
from django.urls import reverse
from reversion.models import Version

from timeline.models import Event

from .admin_forms import change_form_data
from .factories import ActorFactory, EventFactory, PlaceFactory, TopicFactory
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:timeline_event_add")


def new_event_data(place, **overrides) -> dict:
    data = {
        "title_en": "Signing of the alliance declaration",
        "slug": "signing-alliance-declaration",
        "kind": "signing",
        "status": "confirmed",
        "published": "on",
        "summary_en": "Presidents sign the declaration.",
        "description_en": "Three-sided; text, with commas.",
        "description_ru": "Трёхсторонний; текст, с запятыми.",
        "translation_kk": "draft",
        "translation_ru": "draft",
        "translation_en": "reviewed",
        "precision": "minute",
        "start_date": "2025-11-12",
        "start_time": "12:30",
        "timezone": "",
        "place": str(place.pk),
        "countries": ["KZ", "RU"],
        "sources-TOTAL_FORMS": "2",
        "sources-INITIAL_FORMS": "0",
        "sources-MIN_NUM_FORMS": "0",
        "sources-MAX_NUM_FORMS": "1000",
        "sources-0-url": "https://astanatimes.com/2025/11/declaration/",
        "sources-0-publisher": "The Astana Times",
        "sources-0-published_on": "2025-11-12",
        "sources-0-published_precision": "day",
        "sources-0-kind": "media",
        "sources-0-language": "en",
        "sources-0-url_is_item": "on",
        "sources-1-url": "https://www.akorda.kz/en/declaration",
        "sources-1-publisher": "Akorda press service",
        "sources-1-published_on": "2025-11-12",
        "sources-1-published_precision": "day",
        "sources-1-kind": "official",
        "sources-1-language": "en",
        "sources-1-url_is_item": "on",
        "sources-1-quote": "An alliance.",
    }
    data.update(overrides)
    return data


def edit(client, event: Event, **changes):
    url = reverse("admin:timeline_event_change", args=[event.pk])
    data = change_form_data(client.get(url))
    data.update(changes)
    return client.post(url, data)


def test_create_edit_revert_delete_recover(client, superuser):
    log_in_verified(client, superuser)
    moscow = PlaceFactory(name="Moscow", country="RU", timezone="Europe/Moscow")

    response = client.post(ADD_URL, new_event_data(moscow))
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = Event.objects.get(slug="signing-alliance-declaration")
    assert event.sources.count() == 2
    assert event.start_utc == dt.datetime(2025, 11, 12, 9, 30, tzinfo=dt.UTC)
    assert event.sequence == 0
    uid = event.uid

    # Edit: a new time is a change of time, so the sequence goes up.
    assert edit(client, event, start_time="15:00").status_code == 302
    event.refresh_from_db()
    assert event.local_start.strftime("%H:%M") == "15:00"
    assert event.sequence == 1

    # History lists both versions, with who made them.
    history = client.get(reverse("admin:timeline_event_history", args=[event.pk]))
    assert history.status_code == 200
    versions = list(Version.objects.get_for_object(event))
    assert len(versions) == 2
    assert all(v.revision.user == superuser for v in versions)

    # Revert to the first version: the old time comes back, and the sequence still goes up.
    first = versions[-1]
    revert_url = reverse("admin:timeline_event_revision", args=[event.pk, first.pk])
    page = client.get(revert_url)
    assert page.status_code == 200
    assert client.post(revert_url, change_form_data(page)).status_code == 302
    event.refresh_from_db()
    assert event.local_start.strftime("%H:%M") == "12:30"
    assert event.sequence == 2
    assert event.sources.count() == 2

    # Delete, then recover from the deleted list.
    delete_url = reverse("admin:timeline_event_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Event.objects.filter(uid=uid).exists()
    deleted = Version.objects.get_deleted(Event)
    assert deleted.count() == 1
    recoverlist = client.get(reverse("admin:timeline_event_recoverlist"))
    assert "Signing of the alliance declaration" in recoverlist.content.decode()
    recover_url = reverse("admin:timeline_event_recover", args=[deleted[0].pk])
    page = client.get(recover_url)
    assert client.post(recover_url, change_form_data(page)).status_code == 302
    recovered = Event.objects.get(uid=uid)
    assert recovered.sources.count() == 2
    assert recovered.sequence >= 2


def test_validation_errors_are_shown_on_the_form(client, superuser):
    log_in_verified(client, superuser)
    place = PlaceFactory()
    response = client.post(
        ADD_URL, new_event_data(place, precision="year", start_date="2026-01-01")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "A time was given for a year-precision event" in errors["start_time"][0]
    assert not Event.objects.exists()

    response = client.post(ADD_URL, new_event_data(place, end_date="2025-11-11", end_time="10:00"))
    assert response.context["adminform"].form.errors["end_date"] == ["The end is before the start."]
    response = client.post(ADD_URL, new_event_data(place, timezone="Almaty"))
    assert "not an IANA time zone name" in response.context["adminform"].form.errors["timezone"][0]


def test_changelist_shows_local_start_and_filters(client, superuser):
    log_in_verified(client, superuser)
    putin = ActorFactory(name="Vladimir Putin")
    nuclear = TopicFactory(name="Nuclear")
    almaty = PlaceFactory(timezone="Asia/Almaty")
    talks = EventFactory(
        title="Talks in Almaty",
        precision="minute",
        start_time=dt.time(10),
        place=almaty,
        countries=["KZ"],
    )
    talks.participants.add(putin)
    other = EventFactory(title="Opening in Omsk", countries=["RU"])
    other.topics.add(nuclear)
    url = reverse("admin:timeline_event_changelist")

    page = client.get(url).content.decode()
    assert "11 Nov 2025, 10:00 (Asia/Almaty)" in page

    found = client.get(url, {"q": "Putin"}).context["cl"].result_list
    assert list(found) == [talks]
    found = client.get(url, {"countries__contains": "RU"}).context["cl"].result_list
    assert list(found) == [other]
    found = client.get(url, {"topics__id__exact": nuclear.pk}).context["cl"].result_list
    assert list(found) == [other]
    assert client.get(url, {"precision__exact": "minute"}).context["cl"].result_count == 1


def test_actions_publish_cancel_and_duplicate(client, superuser):
    log_in_verified(client, superuser)
    event = EventFactory(published=False)
    url = reverse("admin:timeline_event_changelist")

    def act(action):
        return client.post(url, {"action": action, "_selected_action": [event.pk]})

    act("publish")
    event.refresh_from_db()
    assert event.published
    act("mark_cancelled")
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED and event.sequence == 1
    act("duplicate")
    copy = Event.objects.exclude(pk=event.pk).get()
    assert not copy.published and copy.uid != event.uid
    act("unpublish")
    event.refresh_from_db()
    assert not event.published


def test_uid_and_sequence_are_read_only_and_view_on_site_links_the_page(client, superuser):
    log_in_verified(client, superuser)
    event = EventFactory()
    response = client.get(reverse("admin:timeline_event_change", args=[event.pk]))
    form = response.context["adminform"].form
    assert "uid" not in form.fields and "sequence" not in form.fields
    page = response.content.decode()
    assert str(event.uid) in page
    assert "View on site" in page
    assert client.get(event.get_absolute_url()).status_code == 200


def test_autocomplete_finds_places_actors_and_topics(client, superuser):
    log_in_verified(client, superuser)
    PlaceFactory(name="Omsk", country="RU", timezone="Asia/Omsk")
    response = client.get(
        reverse("admin:autocomplete"),
        {"term": "oms", "app_label": "timeline", "model_name": "event", "field_name": "place"},
    )
    assert [r["text"] for r in response.json()["results"]] == ["Omsk, Russia"]
