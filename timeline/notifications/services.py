"""Change a subscriber's state: sign up, confirm, choose, leave, come back, pause, renew links.

Each change runs in one transaction, holds the subscriber's row lock while it reads and writes,
and brings the outbox in line only after the commit (so the sync sees what was committed).
The views and the admin call these; they never change a subscriber themselves.
"""

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.contrib.auth.base_user import BaseUserManager
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import languages
from ..models import Notification, Subscriber, Subscription
from ..models.subscribers import DEFAULT_DIGEST_TIME, News
from . import scheduling

# A new confirmation mail (with a new link) for an address not yet confirmed goes out at most
# this often, however often the form is sent: enough to recover a lost or expired link, too
# rarely to flood someone's inbox with sign-ups they never asked for.
RESEND_CONFIRMATION_AFTER = dt.timedelta(minutes=15)

# One thing followed, as a (field, value) pair of Subscription: ("topic_id", 3), ("country", "KZ").
Follow = tuple[str, object]


@dataclass(frozen=True)
class NewsChoice:
    """How a subscriber hears of new events, and when a digest of theirs comes."""

    news: str = News.NEVER
    digest_time: dt.time = DEFAULT_DIGEST_TIME
    digest_weekday: int = 0
    digest_reminders: bool = True


NEWS_FIELDS = ("news", "digest_time", "digest_weekday", "digest_reminders")


def _choose_news(subscriber: Subscriber, choice: NewsChoice, now: dt.datetime) -> list[str]:
    """Set the subscriber's news choice; return the fields changed for saving."""
    before = (subscriber.news, subscriber.digest_time, subscriber.digest_weekday)
    for name in NEWS_FIELDS:
        setattr(subscriber, name, getattr(choice, name))
    if before != (subscriber.news, subscriber.digest_time, subscriber.digest_weekday):
        # A digest's moment already past on the new schedule is not sent late.
        subscriber.digest_since = now
        return [*NEWS_FIELDS, "digest_since"]
    return list(NEWS_FIELDS)


class LinkRevoked(Exception):
    """The link the change came through was revoked meanwhile: change nothing."""


class NotConfirmed(Exception):
    """Only a confirmed address can come back after leaving."""


class Confirmation(enum.Enum):
    """What confirming did, so the page can say it."""

    CONFIRMED = "confirmed"  # now (or back after leaving): reminders start
    ALREADY = "already"  # confirmed and subscribed before: nothing changed


def queue_sync(*, subscriber_id: int) -> None:
    """Bring the subscriber's outbox in line once the current transaction commits."""
    transaction.on_commit(partial(scheduling.sync_subscriber, subscriber_id))


def _locked(subscriber: Subscriber) -> Subscriber:
    """Return the subscriber locked for update, unless its links were revoked meanwhile."""
    locked = (
        Subscriber.objects.select_for_update()
        .filter(pk=subscriber.pk, link_nonce=subscriber.link_nonce)
        .first()
    )
    if locked is None:
        raise LinkRevoked
    return locked


# --- sign up and confirm -----------------------------------------------------------------------
@transaction.atomic
def sign_up(
    *,
    email: str,
    follows: set[Follow],
    lead_times: list[int],
    zone: str,
    language: str = languages.DEFAULT,
    news: NewsChoice | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record a sign-up; what happens depends on the address, what the caller learns does not.

    - A new address: an unconfirmed subscriber with these choices, and a confirmation mail
      (in *language*, as every mail to them).
    - An address not confirmed yet (or one that left): these choices replace the earlier ones
      (nothing is sent to it but the confirmation), and the confirmation is queued again.
    - A confirmed address still subscribed (paused or not): nothing changes, nothing is sent,
      so no one can change what someone else follows by typing their address.
    """
    now = now or timezone.now()
    language = _ours(language)
    email = BaseUserManager.normalize_email(email)
    subscriber = Subscriber.objects.select_for_update().filter(email__iexact=email).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = Subscriber.objects.create(email=email)
        except IntegrityError:  # the same address signed up at the same moment
            subscriber = Subscriber.objects.select_for_update().get(email__iexact=email)
    if subscriber.confirmed_at and not subscriber.unsubscribed_at:
        return
    # Not confirmed yet, or they left and now ask to come back: (re)confirm the address.
    subscriber.confirmed_at = None
    subscriber.lead_times = lead_times
    subscriber.timezone = zone
    subscriber.language = language
    chosen = _choose_news(subscriber, news or NewsChoice(), now)
    subscriber.save(update_fields=["confirmed_at", "lead_times", "timezone", "language", *chosen])
    apply_follows(subscriber=subscriber, wanted=follows)
    _request_confirmation(subscriber, now)


def _ours(language: str) -> str:
    """Return *language* if mail can be written in it; refuse any other."""
    if language not in languages.CODES:
        raise ValueError(f"Mail is written in {', '.join(languages.CODES)}, not {language!r}.")
    return language


def _request_confirmation(subscriber: Subscriber, now: dt.datetime) -> None:
    """Queue the confirmation; with a new link if the last one went out a while ago."""
    last = Notification.objects.filter(
        subscriber=subscriber,
        event=None,
        kind=Notification.Kind.CONFIRMATION,
        key=f"confirm@{subscriber.link_nonce}",
    ).first()
    done = (Notification.State.SENT, Notification.State.FAILED, Notification.State.SKIPPED)
    resend_from = now - RESEND_CONFIRMATION_AFTER
    if last is not None and last.state in done and last.created_at <= resend_from:
        # The same nonce would give back the row already sent: a new one revokes the old link.
        subscriber.revoke_links()
    scheduling.request_confirmation(subscriber, now)


@transaction.atomic
def confirm(
    *, subscriber: Subscriber, now: dt.datetime | None = None
) -> tuple[Confirmation, Subscriber]:
    """Confirm the address (or take back someone who left) and start their reminders."""
    subscriber = _locked(subscriber)
    if subscriber.confirmed_at and not subscriber.unsubscribed_at:
        return Confirmation.ALREADY, subscriber
    now = now or timezone.now()
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.unsubscribed_at = None
    subscriber.digest_since = now  # the first digest comes at its next moment
    subscriber.save(update_fields=["confirmed_at", "unsubscribed_at", "digest_since"])
    queue_sync(subscriber_id=subscriber.pk)
    return Confirmation.CONFIRMED, subscriber


# --- what they follow --------------------------------------------------------------------------
@transaction.atomic
def set_preferences(
    *,
    subscriber: Subscriber,
    follows: set[Follow],
    lead_times: list[int],
    zone: str,
    language: str | None = None,
    news: NewsChoice | None = None,
    now: dt.datetime | None = None,
) -> Subscriber:
    """Replace what the subscriber follows, when they are reminded, their time zone and (if
    given) the language of their mail, which every mail not yet sent is then written in, and
    how they hear of new events. What they were owed but not sent goes where news now goes."""
    subscriber = _locked(subscriber)
    now = now or timezone.now()
    chosen: list[str] = []
    if subscriber.timezone != zone:
        subscriber.digest_since = now  # a new clock: the next moment on it, not one past
        chosen.append("digest_since")
    subscriber.lead_times = lead_times
    subscriber.timezone = zone
    if language is not None:
        subscriber.language = _ours(language)
    if news is not None:
        chosen += _choose_news(subscriber, news, now)
    subscriber.save(update_fields=["lead_times", "timezone", "language", *set(chosen)])
    apply_follows(subscriber=subscriber, wanted=follows)
    queue_sync(subscriber_id=subscriber.pk)
    return subscriber


def follow_key(follow: Subscription) -> Follow:
    """Return the (field, value) pair a stored follow stands for (as FollowForm.follows)."""
    for field in ("topic_id", "actor_id", "track_id", "event_id"):
        if getattr(follow, field):
            return field, getattr(follow, field)
    return "country", follow.country.code


@transaction.atomic
def apply_follows(*, subscriber: Subscriber, wanted: set[Follow]) -> None:
    """Make the subscriber follow exactly *wanted*: drop the rest, add what is missing.

    A part of the changes above, which bring the outbox in line once they commit.
    """
    Subscriber.objects.select_for_update().filter(pk=subscriber.pk).values_list("pk").first()
    kept: set[Follow] = set()
    dropped = []
    for follow in subscriber.follows.all():
        key = follow_key(follow)
        if key in wanted and key not in kept:
            kept.add(key)
        else:
            dropped.append(follow.pk)
    Subscription.objects.filter(pk__in=dropped).delete()
    Subscription.objects.bulk_create(
        [Subscription(subscriber=subscriber, **{field: value}) for field, value in wanted - kept]
    )


# --- leave and come back -----------------------------------------------------------------------
@transaction.atomic
def leave(*, subscriber: Subscriber, now: dt.datetime | None = None) -> Subscriber:
    """Stop all mail to the subscriber (leaving twice keeps the first time)."""
    subscriber = _locked(subscriber)
    if not subscriber.unsubscribed_at:
        subscriber.unsubscribed_at = now or timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
    queue_sync(subscriber_id=subscriber.pk)
    return subscriber


@transaction.atomic
def rejoin(*, subscriber: Subscriber) -> Subscriber:
    """Take back a confirmed subscriber who left: their reminders start again."""
    subscriber = _locked(subscriber)
    if not subscriber.confirmed_at:
        raise NotConfirmed
    if subscriber.unsubscribed_at:
        subscriber.unsubscribed_at = None
        subscriber.digest_since = timezone.now()  # no digest for a moment while they were away
        subscriber.save(update_fields=["unsubscribed_at", "digest_since"])
    queue_sync(subscriber_id=subscriber.pk)
    return subscriber


# --- the editors' actions ----------------------------------------------------------------------
def pause(*, subscriber_ids: Iterable[int]) -> int:
    """Pause mail to these subscribers; return how many were not paused already."""
    return _set_paused(subscriber_ids, paused=True)


def resume(*, subscriber_ids: Iterable[int]) -> int:
    """Resume mail to these subscribers; return how many were paused."""
    return _set_paused(subscriber_ids, paused=False)


@transaction.atomic
def _set_paused(subscriber_ids: Iterable[int], *, paused: bool) -> int:
    subscribers = list(
        Subscriber.objects.select_for_update().filter(pk__in=list(subscriber_ids)).order_by("pk")
    )
    changed = [subscriber for subscriber in subscribers if subscriber.paused != paused]
    for subscriber in changed:
        subscriber.paused = paused
        # Resumed: digests come at their next moment, not for one that passed while paused.
        subscriber.digest_since = subscriber.digest_since if paused else timezone.now()
        subscriber.save(update_fields=["paused", "digest_since"])
    # Every one selected, changed or not: a sync also repairs an outbox out of line.
    for subscriber in subscribers:
        queue_sync(subscriber_id=subscriber.pk)
    return len(changed)


# --- links -------------------------------------------------------------------------------------
@transaction.atomic
def renew_links(*, subscriber: Subscriber) -> Subscriber:
    """Revoke every link the subscriber was given; the returned subscriber has the new mark."""
    subscriber = _locked(subscriber)
    subscriber.revoke_links()
    return subscriber


@transaction.atomic
def revoke_links(*, subscriber_ids: Iterable[int]) -> int:
    """Revoke every link given to these subscribers; return how many they were."""
    subscribers = list(
        Subscriber.objects.select_for_update().filter(pk__in=list(subscriber_ids)).order_by("pk")
    )
    for subscriber in subscribers:
        subscriber.revoke_links()
    return len(subscribers)
