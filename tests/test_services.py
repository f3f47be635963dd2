"""Subscriber state changes called directly, as the views and the admin call them.

The outbox is brought in line only once the change commits: each test runs in a transaction
that never commits, so the callbacks queued for the commit are caught and run by hand.
"""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DataError, OperationalError, connection, transaction
from django.utils import timezone

from timeline.models import Notification, Subscriber, Subscription
from timeline.notifications import links, scheduling, services

from .factories import EventFactory, TopicFactory

pytestmark = pytest.mark.django_db

Kind, State = Notification.Kind, Notification.State
# A country code too long for its column: the database refuses it half-way through a change.
BAD_FOLLOW = ("country", "XXX")


def upcoming(days: int, topic) -> object:
    start = (timezone.now() + dt.timedelta(days=days)).replace(second=0, microsecond=0)
    event = EventFactory(
        precision="minute", start_date=start.date(), start_time=start.time(), timezone="UTC"
    )
    event.topics.add(topic)
    return event


def active(email: str = "reader@example.com", **fields) -> Subscriber:
    return Subscriber.objects.create(email=email, **{"confirmed_at": timezone.now(), **fields})


def following(subscriber: Subscriber, topic) -> Subscriber:
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    return subscriber


def pending_reminders(subscriber: Subscriber):
    return Notification.objects.filter(
        subscriber=subscriber, kind=Kind.REMINDER, state=State.PENDING
    )


def confirmations(subscriber: Subscriber):
    return Notification.objects.filter(subscriber=subscriber, kind=Kind.CONFIRMATION)


def topics_of(subscriber: Subscriber) -> list:
    return [follow.topic for follow in subscriber.follows.order_by("pk")]


# --- sign up -----------------------------------------------------------------------------------
def test_sign_up_records_an_unconfirmed_address_and_queues_its_confirmation():
    topic = TopicFactory()

    services.sign_up(
        email="New@EXAMPLE.com",
        follows={("topic_id", topic.pk)},
        lead_times=[60],
        zone="Asia/Almaty",
    )

    subscriber = Subscriber.objects.get()
    assert subscriber.email == "New@example.com"
    assert subscriber.confirmed_at is None and not subscriber.active
    assert (subscriber.lead_times, subscriber.timezone) == ([60], "Asia/Almaty")
    assert topics_of(subscriber) == [topic]
    [confirmation] = confirmations(subscriber)
    assert confirmation.state == State.PENDING
    assert confirmation.key == f"confirm@{subscriber.link_nonce}"


def test_sign_up_changes_nothing_for_a_confirmed_address(django_capture_on_commit_callbacks):
    old, new = TopicFactory(), TopicFactory()
    known = following(active("known@example.com", lead_times=[60]), old)

    with django_capture_on_commit_callbacks() as callbacks:
        result = services.sign_up(
            email="KNOWN@example.com", follows={("topic_id", new.pk)}, lead_times=[0], zone="UTC"
        )

    assert result is None  # nothing a caller could answer differently with
    known.refresh_from_db()
    assert topics_of(known) == [old] and known.lead_times == [60]
    assert not known.outbox.exists() and not callbacks
    assert Subscriber.objects.count() == 1


def test_sign_up_again_replaces_choices_and_sends_a_new_link_only_after_a_while():
    first, second = TopicFactory(), TopicFactory()
    services.sign_up(
        email="lost@example.com", follows={("topic_id", first.pk)}, lead_times=[60], zone="UTC"
    )
    subscriber = Subscriber.objects.get()
    old_link = links.token_for(subscriber, links.CONFIRM_SALT)
    confirmations(subscriber).update(state=State.SENT)

    services.sign_up(
        email="lost@example.com", follows={("topic_id", second.pk)}, lead_times=[0], zone="UTC"
    )

    subscriber.refresh_from_db()
    assert topics_of(subscriber) == [second] and subscriber.lead_times == [0]
    assert confirmations(subscriber).count() == 1  # sent a moment ago: not again yet
    assert links.subscriber_from(old_link, links.CONFIRM_SALT) == subscriber

    later = timezone.now() - services.RESEND_CONFIRMATION_AFTER
    confirmations(subscriber).update(created_at=later)
    services.sign_up(
        email="lost@example.com", follows={("topic_id", second.pk)}, lead_times=[0], zone="UTC"
    )

    subscriber.refresh_from_db()
    assert confirmations(subscriber).filter(state=State.PENDING).get().key == (
        f"confirm@{subscriber.link_nonce}"
    )
    assert links.subscriber_from(old_link, links.CONFIRM_SALT) is None


def test_sign_up_after_leaving_asks_to_confirm_again():
    topic = TopicFactory()
    gone = active("back@example.com", unsubscribed_at=timezone.now())

    services.sign_up(
        email="back@example.com", follows={("topic_id", topic.pk)}, lead_times=[60], zone="UTC"
    )

    gone.refresh_from_db()
    assert gone.confirmed_at is None and gone.unsubscribed_at is not None
    assert confirmations(gone).get().state == State.PENDING


def test_a_sign_up_that_fails_half_way_leaves_nothing(django_capture_on_commit_callbacks):
    topic = TopicFactory()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(DataError):
        services.sign_up(
            email="new@example.com",
            follows={("topic_id", topic.pk), BAD_FOLLOW},
            lead_times=[60],
            zone="UTC",
        )

    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()
    assert not Notification.objects.exists()
    assert not callbacks


# --- confirm -----------------------------------------------------------------------------------
def test_confirming_starts_reminders_after_the_commit(django_capture_on_commit_callbacks):
    topic = TopicFactory()
    upcoming(3, topic)
    subscriber = following(Subscriber.objects.create(email="new@example.com"), topic)

    with django_capture_on_commit_callbacks() as callbacks:
        outcome, confirmed = services.confirm(subscriber=subscriber)
        assert not pending_reminders(subscriber).exists()

    assert outcome is services.Confirmation.CONFIRMED
    assert confirmed.active
    assert not pending_reminders(subscriber).exists()  # not before the commit
    for callback in callbacks:
        callback()
    assert pending_reminders(subscriber).exists()

    with django_capture_on_commit_callbacks() as callbacks:
        outcome, _ = services.confirm(subscriber=confirmed)
    assert outcome is services.Confirmation.ALREADY and not callbacks


def test_confirming_brings_back_someone_who_left():
    when = timezone.now() - dt.timedelta(days=30)
    gone = active(confirmed_at=when, unsubscribed_at=timezone.now())

    outcome, back = services.confirm(subscriber=gone)

    assert outcome is services.Confirmation.CONFIRMED
    back.refresh_from_db()
    assert back.active and back.confirmed_at == when


def test_a_revoked_link_changes_nothing():
    subscriber = Subscriber.objects.create(email="new@example.com")
    stale = Subscriber.objects.get(pk=subscriber.pk)
    subscriber.revoke_links()

    for change in (services.confirm, services.leave, services.renew_links):
        with pytest.raises(services.LinkRevoked):
            change(subscriber=stale)
    with pytest.raises(services.LinkRevoked):
        services.set_preferences(subscriber=stale, follows=set(), lead_times=[0], zone="UTC")

    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None and subscriber.unsubscribed_at is None
    assert subscriber.lead_times != [0]


# --- preferences -------------------------------------------------------------------------------
def test_setting_preferences_replaces_choices_and_resyncs(django_capture_on_commit_callbacks):
    energy, transit = TopicFactory(), TopicFactory()
    energy_event, transit_event = upcoming(3, energy), upcoming(4, transit)
    subscriber = following(active(lead_times=[1440]), energy)
    Subscription.objects.create(subscriber=subscriber, topic=energy)  # a duplicate row
    scheduling.sync_subscriber(subscriber.pk)

    with django_capture_on_commit_callbacks(execute=True):
        services.set_preferences(
            subscriber=subscriber,
            follows={("topic_id", energy.pk), ("topic_id", transit.pk)},
            lead_times=[1440, 60],
            zone="Asia/Almaty",
        )

    subscriber.refresh_from_db()
    assert topics_of(subscriber) == [energy, transit]
    assert (subscriber.lead_times, subscriber.timezone) == ([1440, 60], "Asia/Almaty")
    leads = {(n.event, n.lead_minutes) for n in pending_reminders(subscriber)}
    assert leads == {(e, m) for e in (energy_event, transit_event) for m in (60, 1440)}

    with django_capture_on_commit_callbacks(execute=True):
        services.set_preferences(
            subscriber=subscriber, follows={("topic_id", transit.pk)}, lead_times=[60], zone="UTC"
        )

    assert topics_of(subscriber) == [transit]
    assert {(n.event, n.lead_minutes) for n in pending_reminders(subscriber)} == {
        (transit_event, 60)
    }


def test_preferences_that_fail_half_way_change_nothing(django_capture_on_commit_callbacks):
    energy, transit = TopicFactory(), TopicFactory()
    subscriber = following(active(lead_times=[1440], timezone="Asia/Almaty"), energy)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(DataError):
        services.set_preferences(
            subscriber=subscriber,
            follows={("topic_id", transit.pk), BAD_FOLLOW},
            lead_times=[60],
            zone="UTC",
        )

    subscriber.refresh_from_db()
    assert topics_of(subscriber) == [energy]
    assert (subscriber.lead_times, subscriber.timezone) == ([1440], "Asia/Almaty")
    assert not callbacks


def test_apply_follows_makes_the_follows_exactly_those_wanted():
    keep, drop, add = TopicFactory(), TopicFactory(), TopicFactory()
    subscriber = following(following(following(active(), keep), keep), drop)

    services.apply_follows(
        subscriber=subscriber,
        wanted={("topic_id", keep.pk), ("topic_id", add.pk), ("country", "KZ")},
    )

    keys = {services.follow_key(follow) for follow in subscriber.follows.all()}
    assert keys == {("topic_id", keep.pk), ("topic_id", add.pk), ("country", "KZ")}
    assert subscriber.follows.count() == 3


# --- leave and come back -----------------------------------------------------------------------
def test_leaving_and_coming_back(django_capture_on_commit_callbacks):
    topic = TopicFactory()
    upcoming(3, topic)
    subscriber = following(active(), topic)
    scheduling.sync_subscriber(subscriber.pk)

    with django_capture_on_commit_callbacks() as callbacks:
        gone = services.leave(subscriber=subscriber)
    assert gone.unsubscribed_at is not None and not gone.active
    assert pending_reminders(subscriber).exists()  # not before the commit
    for callback in callbacks:
        callback()
    assert not pending_reminders(subscriber).exists()

    left_at = gone.unsubscribed_at
    assert services.leave(subscriber=gone).unsubscribed_at == left_at  # leaving twice: once

    with django_capture_on_commit_callbacks(execute=True):
        back = services.rejoin(subscriber=gone)
    back.refresh_from_db()
    assert back.active
    assert pending_reminders(subscriber).exists()


def test_only_a_confirmed_address_can_come_back(django_capture_on_commit_callbacks):
    pending = Subscriber.objects.create(email="new@example.com", unsubscribed_at=timezone.now())

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(services.NotConfirmed):
        services.rejoin(subscriber=pending)

    pending.refresh_from_db()
    assert pending.unsubscribed_at is not None and not callbacks


# --- pause and resume (the admin) --------------------------------------------------------------
def test_pausing_and_resuming_counts_changes_and_resyncs_everyone_selected(
    django_capture_on_commit_callbacks,
):
    topic = TopicFactory()
    upcoming(3, topic)
    reader = following(active("reader@example.com"), topic)
    resting = following(active("resting@example.com", paused=True), topic)
    scheduling.sync_subscriber(reader.pk)
    ids = [reader.pk, resting.pk]

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.pause(subscriber_ids=ids) == 1
    assert pending_reminders(reader).exists()  # not before the commit
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    assert not pending_reminders(reader).exists()
    assert Subscriber.objects.filter(paused=True).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert services.resume(subscriber_ids=ids) == 2

    assert pending_reminders(reader).exists() and pending_reminders(resting).exists()
    assert not Subscriber.objects.filter(paused=True).exists()


def test_admin_edits_are_resynced_after_the_commit(django_capture_on_commit_callbacks):
    topic = TopicFactory()
    upcoming(3, topic)
    subscriber = following(active(), topic)

    with django_capture_on_commit_callbacks() as callbacks:
        services.queue_sync(subscriber_id=subscriber.pk)
    assert not pending_reminders(subscriber).exists()
    for callback in callbacks:
        callback()
    assert pending_reminders(subscriber).exists()


# --- links -------------------------------------------------------------------------------------
def test_renewing_links_revokes_the_old_ones():
    subscriber = active()
    old = links.token_for(subscriber)
    nonce = subscriber.link_nonce

    renewed = services.renew_links(subscriber=subscriber)

    assert links.subscriber_from(old) is None
    assert Subscriber.objects.get().link_nonce == renewed.link_nonce != nonce
    assert links.subscriber_from(links.token_for(renewed)) == subscriber


def test_an_editor_revokes_the_links_of_several_subscribers():
    first, second, other = active("a@example.com"), active("b@example.com"), active("c@x.org")
    tokens = {reader.pk: links.token_for(reader) for reader in (first, second, other)}

    assert services.revoke_links(subscriber_ids=[first.pk, second.pk]) == 2

    assert links.subscriber_from(tokens[first.pk]) is None
    assert links.subscriber_from(tokens[second.pk]) is None
    assert links.subscriber_from(tokens[other.pk]) == other


# --- the row lock ------------------------------------------------------------------------------
def _locked_elsewhere(subscriber_id: int) -> bool:
    """Tell whether another connection holds the subscriber's row lock."""

    def try_lock() -> bool:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM timeline_subscriber WHERE id = %s FOR UPDATE NOWAIT",
                    [subscriber_id],
                )
            return False
        except OperationalError:
            return True
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(try_lock).result()


# Changes that write nothing here, so only the lock they take holds the row.
NO_OPS = {
    "pause": lambda s: services.pause(subscriber_ids=[s.pk]),
    "resume": lambda s: services.resume(subscriber_ids=[s.pk]),
    "confirm": lambda s: services.confirm(subscriber=s),
    "rejoin": lambda s: services.rejoin(subscriber=s),
    "apply_follows": lambda s: services.apply_follows(subscriber=s, wanted=set()),
    "sign_up": lambda s: services.sign_up(email=s.email, follows=set(), lead_times=[], zone="UTC"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", NO_OPS)
def test_changes_hold_the_subscribers_row_lock(change):
    subscriber = active(paused=change == "pause")
    assert not _locked_elsewhere(subscriber.pk)

    with transaction.atomic():
        NO_OPS[change](subscriber)
        assert _locked_elsewhere(subscriber.pk)
