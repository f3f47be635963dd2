"""Editors add and change; only Publishers publish and delete."""

import pytest
from django.urls import reverse

from timeline.models import Event

from .factories import EventFactory, PlaceFactory
from .test_admin import ADD_URL, edit, new_event_data

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:timeline_event_changelist")


def offered_actions(client) -> set[str]:
    form = client.get(CHANGELIST).context["action_form"]
    return {name for name, _ in form.fields["action"].choices if name}


def test_editor_can_add_and_change_but_not_publish(client, editor):
    client.force_login(editor)
    assert client.post(ADD_URL, new_event_data(PlaceFactory())).status_code == 302
    event = Event.objects.get()
    assert not event.published  # the posted "published=on" was ignored

    assert edit(client, event, title_en="Retitled", published="on").status_code == 302
    event.refresh_from_db()
    assert event.title == "Retitled" and not event.published

    assert offered_actions(client) == {
        "mark_cancelled",
        "duplicate",
        "export_selected_csv",
        "export_selected_ics",
    }
    client.post(CHANGELIST, {"action": "publish", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert not event.published


def test_editor_cannot_delete(client, editor):
    client.force_login(editor)
    event = EventFactory()
    url = reverse("admin:timeline_event_delete", args=[event.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert Event.objects.filter(pk=event.pk).exists()


def test_editor_edit_keeps_a_published_event_published(client, editor):
    client.force_login(editor)
    event = EventFactory(published=True)
    assert edit(client, event, title_en="Fixed a typo").status_code == 302
    event.refresh_from_db()
    assert event.published and event.title == "Fixed a typo"


def test_publisher_can_publish_and_delete(client, publisher):
    client.force_login(publisher)
    event = EventFactory(published=False)
    assert {"publish", "unpublish", "delete_selected"} <= offered_actions(client)
    client.post(CHANGELIST, {"action": "publish", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.published
    url = reverse("admin:timeline_event_delete", args=[event.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Event.objects.filter(pk=event.pk).exists()
