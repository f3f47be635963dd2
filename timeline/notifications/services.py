"""Change a subscriber's state: sign up, confirm, choose, leave, come back, pause, renew links,
their private calendar, and stop (or start again) mail to an address that bounces or
complained.

Each change runs in one transaction, holds the subscriber's row lock while it reads and writes,
and brings the outbox in line only after the commit (so the sync sees what was committed).
The views and the admin call these; they never change a subscriber themselves.
"""

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import languages
from ..models import (
    Bounce,
    Notification,
    PrivateFeed,
    Subscriber,
    SubscriberLink,
    Subscription,
    Suppression,
)
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
    """Only a confirmed address, not suppressed, can come back after leaving."""


class NotSubscribed(Exception):
    """Only a confirmed address that has not left can have a calendar."""


class Confirmation(enum.Enum):
    """What confirming did, so the page can say it."""

    CONFIRMED = "confirmed"  # now (or back after leaving): reminders start
    ALREADY = "already"  # confirmed and subscribed before: nothing changed
    # They once reported our mail as spam: only their explicit "yes, send it again" lifts that.
    CONSENT_NEEDED = "consent_needed"


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
    - An address suppressed after a bounce or a complaint is treated as one that left: a fresh
      confirmation goes out (the one mail it may get), and only confirming it lifts the
      suppression (a complaint's only with the reader's explicit consent, see `confirm`).
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
    if subscriber.confirmed_at and not subscriber.unsubscribed_at and not subscriber.suppressed_at:
        return
    # Not confirmed yet, or they left (or their mail stopped) and ask to come back: (re)confirm.
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
    stale = last is not None and last.state in done and last.created_at <= resend_from
    # Only a confirmation asked for after the suppression may go to a suppressed address.
    before_suppression = (
        last is not None
        and subscriber.suppressed_at is not None
        and last.created_at <= subscriber.suppressed_at
    )
    if stale or before_suppression:
        # The same nonce would give back the row already sent: a new one revokes the old link.
        subscriber.revoke_links()
    scheduling.request_confirmation(subscriber, now)


@transaction.atomic
def confirm(
    *,
    subscriber: Subscriber,
    now: dt.datetime | None = None,
    wants_mail_after_complaint: bool = False,
) -> tuple[Confirmation, Subscriber]:
    """Confirm the address (or take back someone who left) and start their reminders.

    Confirming lifts a suppression after a bounce (the address takes mail again). After a
    complaint it lifts it only when the reader said explicitly that they want our mail again
    (*wants_mail_after_complaint*); without that nothing changes.
    """
    now = now or timezone.now()
    subscriber = _locked(subscriber)
    if subscriber.confirmed_at and not subscriber.unsubscribed_at and not subscriber.suppressed_at:
        return Confirmation.ALREADY, subscriber
    if subscriber.suppression_reason == Suppression.COMPLAINT and not wants_mail_after_complaint:
        return Confirmation.CONSENT_NEEDED, subscriber
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.unsubscribed_at = None
    subscriber.digest_since = now  # the first digest comes at its next moment
    _lift(subscriber, now)
    subscriber.save(
        update_fields=["confirmed_at", "unsubscribed_at", "digest_since", *LIFTED_FIELDS]
    )
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


# --- their calendar ----------------------------------------------------------------------------
# A private calendar feed of what they follow (timeline.feeds publishes it). Its secret link is
# returned once, when made, for the page to show; only its hash is kept.
@transaction.atomic
def start_calendar(*, subscriber: Subscriber, alarms: bool) -> str | None:
    """Turn the subscriber's calendar on; return its new secret token, or None if it was on."""
    subscriber = _locked(subscriber)
    if not subscriber.confirmed_at or subscriber.unsubscribed_at:
        raise NotSubscribed
    calendar = PrivateFeed.objects.filter(subscriber=subscriber).first()
    if calendar is not None and calendar.is_active:
        return None
    # Named for the editors, who see it in the admin.
    name = subscriber.email[: PrivateFeed.NAME_MAX_LENGTH]
    calendar = calendar or PrivateFeed(subscriber=subscriber, name=name)
    calendar.alarms = alarms
    calendar.is_active = True
    token = calendar.issue_token()
    calendar.save()
    return token


def _calendar(subscriber: Subscriber) -> PrivateFeed | None:
    """Return the subscriber's calendar that is on, locking the subscriber."""
    subscriber = _locked(subscriber)
    return PrivateFeed.objects.filter(subscriber=subscriber, is_active=True).first()


@transaction.atomic
def set_calendar_alarms(*, subscriber: Subscriber, alarms: bool) -> bool:
    """Turn the calendar's alarms on or off; return whether it is on (else nothing changes)."""
    calendar = _calendar(subscriber)
    if calendar is None:
        return False
    if calendar.alarms != alarms:
        calendar.alarms = alarms
        calendar.save(update_fields=["alarms"])
    return True


@transaction.atomic
def rotate_calendar(*, subscriber: Subscriber) -> str | None:
    """Give the calendar a new secret link (the old one stops at once); return its token, or
    None if the calendar is off."""
    calendar = _calendar(subscriber)
    return calendar.rotate() if calendar is not None else None


@transaction.atomic
def stop_calendar(*, subscriber: Subscriber) -> bool:
    """Turn the calendar off (its link stops working); return whether it was on."""
    _locked(subscriber)
    return PrivateFeed.objects.filter(subscriber=subscriber).revoke() > 0


# --- leave and come back -----------------------------------------------------------------------
@transaction.atomic
def leave(*, subscriber: Subscriber, now: dt.datetime | None = None) -> Subscriber:
    """Stop all mail to the subscriber (leaving twice keeps the first time) and their calendar."""
    subscriber = _locked(subscriber)
    if not subscriber.unsubscribed_at:
        subscriber.unsubscribed_at = now or timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
    PrivateFeed.objects.filter(subscriber=subscriber).revoke()
    queue_sync(subscriber_id=subscriber.pk)
    return subscriber


@transaction.atomic
def rejoin(*, subscriber: Subscriber) -> Subscriber:
    """Take back a confirmed subscriber who left: their reminders start again.

    An address suppressed after a bounce or a complaint comes back only by confirming anew.
    """
    subscriber = _locked(subscriber)
    if not subscriber.confirmed_at or subscriber.suppressed_at:
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


# --- bounces and complaints --------------------------------------------------------------------
class BounceResult(enum.Enum):
    """What a report about one mail changed, for the caller to say."""

    SUPPRESSED = "suppressed"  # no more mail goes to the address
    COUNTED = "counted"  # a soft bounce, counted towards SOFT_BOUNCE_LIMIT
    UNCHANGED = "unchanged"  # already suppressed for a reason at least as strong
    REPEATED = "repeated"  # this mail's report was taken before
    OUT_OF_DATE = "out_of_date"  # about mail sent before the address was taken back


# Which suppression outranks which: a complaint is lifted only with the reader's consent.
_RANK = {"": 0, Suppression.SOFT_BOUNCES: 1, Suppression.HARD_BOUNCE: 2, Suppression.COMPLAINT: 3}
_BOUNCE_RANK = {"": 0, Bounce.SOFT: 1, Bounce.HARD: 2, Bounce.COMPLAINT: 3}
LIFTED_FIELDS = (
    "suppressed_at",
    "suppression_reason",
    "suppression_lifted_at",
    "soft_bounces",
    "soft_bounces_since",
)


def soft_bounce_window() -> dt.timedelta:
    return dt.timedelta(days=settings.SOFT_BOUNCE_WINDOW_DAYS)


@transaction.atomic
def record_bounce(
    *,
    notification: Notification,
    bounce: Bounce,
    status: str = "",
    diagnostic: str = "",
    now: dt.datetime | None = None,
) -> BounceResult:
    """Record what a delivery report or a provider said of one mail; suppress when it must.

    A hard bounce or a complaint suppresses the address at once. Soft bounces are counted, one
    per mail however often it is reported, and suppress once SOFT_BOUNCE_LIMIT of them fall
    within SOFT_BOUNCE_WINDOW_DAYS of the first (a soft bounce after the window starts a new
    count). A report about mail sent before a suppression was lifted changes nothing.
    """
    now = now or timezone.now()
    subscriber = Subscriber.objects.select_for_update().get(pk=notification.subscriber_id)
    row = Notification.objects.select_for_update().get(pk=notification.pk)
    sent = row.sent_at or row.created_at
    if subscriber.suppression_lifted_at and sent < subscriber.suppression_lifted_at:
        return BounceResult.OUT_OF_DATE
    if _BOUNCE_RANK[row.bounce] >= _BOUNCE_RANK[bounce]:
        return BounceResult.REPEATED
    first_of_this_mail = not row.bounce
    row.bounce, row.bounced_at = bounce, now
    row.save(update_fields=["bounce", "bounced_at", "updated_at"])
    if bounce != Bounce.COMPLAINT:
        subscriber.last_bounce_at = now
        subscriber.bounce_status = status[:16]
        subscriber.bounce_diagnostic = diagnostic[:1000]
    reason: str = {
        Bounce.HARD: Suppression.HARD_BOUNCE,
        Bounce.COMPLAINT: Suppression.COMPLAINT,
    }.get(bounce, "")
    if bounce == Bounce.SOFT and first_of_this_mail:
        since = subscriber.soft_bounces_since
        if since is None or now - since > soft_bounce_window():
            subscriber.soft_bounces, subscriber.soft_bounces_since = 0, now
        subscriber.soft_bounces += 1
        if subscriber.soft_bounces >= settings.SOFT_BOUNCE_LIMIT:
            reason = Suppression.SOFT_BOUNCES
    fields = [
        "last_bounce_at",
        "bounce_status",
        "bounce_diagnostic",
        "soft_bounces",
        "soft_bounces_since",
    ]
    if _RANK[reason] <= _RANK[subscriber.suppression_reason]:
        subscriber.save(update_fields=fields)
        if reason:
            return BounceResult.UNCHANGED
        return BounceResult.COUNTED if bounce == Bounce.SOFT else BounceResult.UNCHANGED
    subscriber.suppressed_at, subscriber.suppression_reason = now, reason
    subscriber.save(update_fields=[*fields, "suppressed_at", "suppression_reason"])
    # Only a confirmation asked for from now on can lift it (sign_up, confirm).
    SubscriberLink.objects.filter(
        subscriber=subscriber, purpose=SubscriberLink.Purpose.CONFIRM
    ).delete()
    queue_sync(subscriber_id=subscriber.pk)
    return BounceResult.SUPPRESSED


def _lift(subscriber: Subscriber, now: dt.datetime) -> None:
    """Clear a suppression and its soft bounce count (the caller saves LIFTED_FIELDS)."""
    if subscriber.suppressed_at:
        subscriber.suppression_lifted_at = now
    subscriber.suppressed_at, subscriber.suppression_reason = None, ""
    subscriber.soft_bounces, subscriber.soft_bounces_since = 0, None


@transaction.atomic
def lift_bounce_suppression(
    *, subscriber_ids: Iterable[int], now: dt.datetime | None = None
) -> int:
    """Let mail go again to addresses suppressed after bounces (an editor's decision).

    A complaint's suppression is left alone: only the reader can lift it, by confirming again.
    Return how many were lifted.
    """
    now = now or timezone.now()
    subscribers = list(
        Subscriber.objects.select_for_update()
        .filter(pk__in=list(subscriber_ids), suppressed_at__isnull=False)
        .exclude(suppression_reason=Suppression.COMPLAINT)
        .order_by("pk")
    )
    for subscriber in subscribers:
        _lift(subscriber, now)
        subscriber.save(update_fields=LIFTED_FIELDS)
        queue_sync(subscriber_id=subscriber.pk)
    return len(subscribers)
