"""Publishing is a permission on every path that writes an event through the admin.

An Editor (no `publish_event`) may change, add, revert and recover events, but whatever the
path, `published` keeps the value it had before the request: false for a new or recovered event.
"""

import pytest
from django.urls import reverse
from reversion.models import Version

from timeline.feeds import stamp
from timeline.models import AnnouncedSchedule, Event, Notification

from .admin_forms import change_form_data
from .factories import EventFactory, PlaceFactory
from .notify_helpers import follower, topic, upcoming_event
from .processes import wait_for
from .test_admin import ADD_URL, edit, new_event_data
from .two_factor import log_in_verified

CHANGELIST = reverse("admin:timeline_event_changelist")


def act(client, action: str, *events: Event):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [e.pk for e in events]})


def revert_url(event: Event, version: Version) -> str:
    return reverse("admin:timeline_event_revision", args=[event.pk, version.pk])


def revert(client, event: Event, version: Version):
    url = revert_url(event, version)
    return client.post(url, change_form_data(client.get(url)))


def recover(client, version: Version):
    url = reverse("admin:timeline_event_recover", args=[version.pk])
    return client.post(url, change_form_data(client.get(url)))


def published_version(event: Event) -> Version:
    """Return the newest version of *event* in which it was published."""
    stored = Version.objects.get_for_object(event)
    return next(version for version in stored if version.field_dict["published"])


def publish_then_unpublish(client, publisher, *events: Event) -> None:
    """Have a Publisher publish the events, then unpublish them, with the admin's actions."""
    log_in_verified(client, publisher)  # a superuser's session must be verified by a device
    assert act(client, "publish", *events).status_code == 302
    assert act(client, "unpublish", *events).status_code == 302
    for event in events:
        event.refresh_from_db()
        assert not event.published


def is_public(client, event: Event) -> bool:
    return client.get(reverse("timeline:event-detail", args=[event.slug])).status_code == 200


@pytest.mark.django_db
def test_editor_change_form_with_published_on_keeps_a_draft(client, editor):
    draft = EventFactory(published=False)
    client.force_login(editor)
    assert edit(client, draft, title_en="Retitled", published="on").status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Retitled" and not draft.published
    assert not is_public(client, draft)


@pytest.mark.django_db
def test_editor_add_form_with_published_on_makes_a_draft(client, editor):
    client.force_login(editor)
    response = client.post(ADD_URL, new_event_data(PlaceFactory(), published="on"))
    assert response.status_code == 302
    event = Event.objects.get()
    assert not event.published
    assert not is_public(client, event)


@pytest.mark.django_db
def test_editor_revert_to_a_published_version_keeps_the_event_unpublished(
    client, editor, publisher
):
    event = EventFactory(published=False, title="As published")
    publish_then_unpublish(client, publisher, event)
    assert edit(client, event, title_en="Renamed after").status_code == 302

    client.force_login(editor)
    assert revert(client, event, published_version(event)).status_code == 302

    assert not is_public(client, event)
    event.refresh_from_db()
    assert not event.published
    assert event.title == "As published"  # the rest of the version did come back
    # The revert's preview shows what saving it does.
    preview = client.get(revert_url(event, published_version(event)))
    assert preview.context["original"].published is False


@pytest.mark.django_db
def test_editor_revert_does_not_publish_the_other_events_of_the_revision(client, editor, publisher):
    # One action, one revision holding both events: reverting one brings back the whole revision.
    first, second = EventFactory(published=False), EventFactory(published=False)
    publish_then_unpublish(client, publisher, first, second)

    client.force_login(editor)
    assert revert(client, first, published_version(first)).status_code == 302

    assert not is_public(client, first) and not is_public(client, second)
    assert not Event.objects.filter(published=True).exists()


@pytest.mark.django_db
def test_editor_recovers_a_deleted_published_event_as_a_draft(client, editor, publisher):
    client.force_login(publisher)
    event = EventFactory(published=False)
    assert act(client, "publish", event).status_code == 302
    delete_url = reverse("admin:timeline_event_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    deleted = Version.objects.get_deleted(Event).get()
    assert deleted.field_dict["published"]

    client.force_login(editor)
    assert recover(client, deleted).status_code == 302

    recovered = Event.objects.get(uid=event.uid)
    assert not is_public(client, recovered)
    assert not recovered.published
    assert recovered.title == event.title


@pytest.mark.django_db
def test_editor_actions_cannot_publish_or_unpublish_and_duplicates_are_drafts(client, editor):
    draft, live = EventFactory(published=False), EventFactory(published=True)
    client.force_login(editor)

    act(client, "publish", draft)
    act(client, "unpublish", live)
    draft.refresh_from_db()
    live.refresh_from_db()
    assert (draft.published, live.published) == (False, True)

    assert act(client, "mark_cancelled", draft, live).status_code == 302
    draft.refresh_from_db()
    live.refresh_from_db()
    assert (draft.published, live.published) == (False, True)
    assert draft.status == live.status == Event.Status.CANCELLED

    assert act(client, "duplicate", live).status_code == 302
    copy = Event.objects.get(title=f"{live.title} (copy)")
    assert not copy.published
    assert not is_public(client, copy)


@pytest.mark.django_db
def test_publisher_revert_and_recover_bring_back_published(client, publisher):
    event = EventFactory(published=False)
    publish_then_unpublish(client, publisher, event)

    assert revert(client, event, published_version(event)).status_code == 302
    event.refresh_from_db()
    assert event.published and is_public(client, event)

    delete_url = reverse("admin:timeline_event_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert recover(client, Version.objects.get_deleted(Event).get()).status_code == 302
    assert Event.objects.get(uid=event.uid).published


@pytest.mark.django_db
def test_superuser_revert_brings_back_published(client, superuser):
    event = EventFactory(published=False)
    publish_then_unpublish(client, superuser, event)
    assert revert(client, event, published_version(event)).status_code == 302
    event.refresh_from_db()
    assert event.published


# --- through the worker: feeds and followers' mail -------------------------------------------
def handled_by_worker(event: Event) -> bool:
    """Tell whether the worker has published and synced the event's last committed change."""
    revision = Event.objects.get(pk=event.pk).revision
    return AnnouncedSchedule.objects.filter(event=event, revision=revision).exists()


def pending_mail(event: Event) -> int:
    return Notification.objects.filter(event=event, state=Notification.State.PENDING).count()


def in_public_feed(client, event: Event) -> bool:
    """Tell whether a poll of the public feed, once the worker's publish is in, lists *event*."""
    # As a poll after FEED_STAMP_CHECK_SECONDS would: this process reads the worker's new publish
    # stamp now, not up to a quarter second later (tests/test_feed_serving.py checks that bound).
    stamp.forget()
    return str(event.uid) in client.get("/feeds/all.ics").content.decode()


@pytest.mark.slow
def test_editor_revert_reaches_neither_feeds_nor_followers(
    client, editor, publisher, celery_worker_process
):
    energy = topic()
    follower("reader@example.com", energy)
    event = upcoming_event(energy, published=False)

    client.force_login(publisher)
    assert act(client, "publish", event).status_code == 302
    wait_for(lambda: handled_by_worker(event), timeout=60)
    # Published, it is in the feeds and its follower has reminders coming.
    assert in_public_feed(client, event) and pending_mail(event) > 0
    assert act(client, "unpublish", event).status_code == 302
    wait_for(lambda: handled_by_worker(event))
    assert not in_public_feed(client, event) and pending_mail(event) == 0

    client.force_login(editor)
    assert revert(client, event, published_version(event)).status_code == 302
    wait_for(lambda: handled_by_worker(event))

    assert not in_public_feed(client, event)
    assert pending_mail(event) == 0
    assert not is_public(client, event)
