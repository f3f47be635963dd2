"""Subscribers, what they follow, and the outbox of notifications to them."""

import datetime as dt
import secrets
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.timezone import now as current_time
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries.fields import CountryField

from .. import languages
from ..text import EMAIL_MAX_LENGTH, validate_email_local_part
from .record import Actor, Event, Follows, Topic, Track, any_in, validate_iana_zone

LEAD_TIME_CHOICES = [
    (10080, _("1 week before")),
    (1440, _("1 day before")),
    (60, _("1 hour before")),
    (0, _("At the start")),
]


def default_lead_times() -> list[int]:
    return [1440]


def lead_time_label(minutes: int) -> str:
    """Say when a reminder comes, in words, in the active language ("1 day before")."""
    labels = dict(LEAD_TIME_CHOICES)
    if minutes in labels:
        return str(labels[minutes])
    return ngettext("%(count)d minute before", "%(count)d minutes before", minutes) % {
        "count": minutes
    }


def new_trace_token() -> str:
    """Draw the random token that names one mail in its Message-ID and return address."""
    # Lower-case hex: mail systems may change the case of an address's local part.
    return secrets.token_hex(16)


class Suppression(models.TextChoices):
    """Why no more mail goes to an address (see notifications.bounces)."""

    HARD_BOUNCE = "hard_bounce", _("hard bounce")
    SOFT_BOUNCES = "soft_bounces", _("repeated soft bounces")
    COMPLAINT = "complaint", _("spam complaint")


class Bounce(models.TextChoices):
    """What a delivery report or a provider said of one mail."""

    HARD = "hard", _("hard bounce")
    SOFT = "soft", _("soft bounce")
    COMPLAINT = "complaint", _("spam complaint")


class News(models.TextChoices):
    """How a subscriber hears of events that newly match what they follow."""

    AT_ONCE = "at_once", _("At once, one email per event")
    DAILY = "daily", _("In a daily digest")
    WEEKLY = "weekly", _("In a weekly digest")
    NEVER = "never", _("Never")


# The choices that gather news, and changes to followed events, into one mail per period.
DIGESTS = (News.DAILY, News.WEEKLY)
DEFAULT_DIGEST_TIME = dt.time(8, 0)


class SubscriberQuerySet(models.QuerySet["Subscriber"]):
    def active(self) -> "SubscriberQuerySet":
        """Return those anything but a confirmation may be sent to (see `Subscriber.active`)."""
        return self.filter(
            confirmed_at__isnull=False,
            unsubscribed_at__isnull=True,
            paused=False,
            suppressed_at__isnull=True,
        )

    def reminded(self) -> "SubscriberQuerySet":
        """Return those who get reminders (see `Subscriber.gets_reminders`)."""
        return self.exclude(news__in=DIGESTS, digest_reminders=False)

    def following(self, event: Event) -> "SubscriberQuerySet":
        """Return the subscribers one of whose follows selects *event*."""
        return self.following_any(event.followed_through())

    def following_any(self, target: Follows) -> "SubscriberQuerySet":
        """Return the subscribers who follow one of the things in *target*."""
        follows = Subscription.objects.filter(
            any_in(
                event=target.events,
                topic=target.topics,
                actor=target.actors,
                track=target.tracks,
                country=target.countries,
            )
        )
        return self.filter(pk__in=follows.values("subscriber"))


class Subscriber(models.Model):
    """Someone who gets email about what they follow, once they confirmed their address."""

    email = models.EmailField(
        _("email"), max_length=EMAIL_MAX_LENGTH, unique=True, validators=[validate_email_local_part]
    )
    # Every mail to them is written in it. Named in its own language, as a reader picks it.
    language = models.CharField(
        _("language"),
        max_length=8,
        default=languages.DEFAULT,
        choices=[(code, languages.NAMES[code]) for code in languages.CODES],
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_iana_zone]
    )
    lead_times = models.JSONField(
        _("lead times"), default=default_lead_times, help_text=_("Minutes before the start.")
    )
    # Those who signed up before the choice existed asked for reminders only: never, for them;
    # the sign-up form offers a weekly digest.
    news = models.CharField(
        _("news of new events"), max_length=8, choices=News.choices, default=News.NEVER
    )
    digest_time = models.TimeField(
        _("digest time"),
        default=DEFAULT_DIGEST_TIME,
        help_text=_("When the digest comes, in the subscriber's time zone."),
    )
    digest_weekday = models.PositiveSmallIntegerField(
        _("digest weekday"),
        default=0,
        choices=sorted(WEEKDAYS.items()),
        help_text=_("The day a weekly digest comes."),
    )
    digest_reminders = models.BooleanField(
        _("reminders while on a digest"),
        default=True,
        help_text=_("Whether reminders still come while news comes in a digest."),
    )
    # Digests fall due from here on: a choice made now brings no digest for a moment already past.
    digest_since = models.DateTimeField(_("digests since"), default=current_time, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    paused = models.BooleanField(
        _("paused"), default=False, help_text=_("Paused subscribers are sent nothing.")
    )
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    # Set by a bounce or a complaint (notifications.services): no mail of any kind goes out.
    suppressed_at = models.DateTimeField(_("suppressed at"), null=True, blank=True)
    suppression_reason = models.CharField(
        _("suppression reason"), max_length=16, choices=Suppression.choices, blank=True
    )
    # When a suppression was last lifted: reports about mail sent before it are out of date.
    suppression_lifted_at = models.DateTimeField(_("suppression lifted at"), null=True, blank=True)
    # What the last delivery report said (RFC 3463 status, the receiving server's words).
    last_bounce_at = models.DateTimeField(_("last bounce at"), null=True, blank=True)
    bounce_status = models.CharField(_("last bounce status"), max_length=16, blank=True)
    bounce_diagnostic = models.CharField(_("last bounce diagnostic"), max_length=1000, blank=True)
    # Soft bounces (of distinct mails) counted since the first of the current window.
    soft_bounces = models.PositiveIntegerField(_("soft bounces"), default=0)
    soft_bounces_since = models.DateTimeField(_("soft bounces since"), null=True, blank=True)
    # Changes whenever the subscriber's links are revoked (a generation mark, not a secret:
    # links are random tokens kept only as hashes, in SubscriberLink).
    link_nonce = models.CharField(_("link nonce"), max_length=32, default="", editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                name="subscriber_language_is_ours", condition=Q(language__in=languages.CODES)
            ),
            models.CheckConstraint(
                name="subscriber_news_is_a_choice", condition=Q(news__in=News.values)
            ),
            models.CheckConstraint(
                name="subscriber_digest_weekday_is_a_day", condition=Q(digest_weekday__lte=6)
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.link_nonce:
            self.new_link_nonce()
        super().save(*args, **kwargs)

    def new_link_nonce(self) -> None:
        """Draw a new generation mark, so work begun under the old links sees the revocation."""
        self.link_nonce = secrets.token_hex(16)

    def revoke_links(self) -> None:
        """Revoke every preferences, unsubscribe and confirmation link given out so far, and
        their calendar's."""
        from .publishing import PrivateFeed  # which imports this module

        self.new_link_nonce()
        self.save(update_fields=["link_nonce"])
        self.links.all().delete()
        PrivateFeed.objects.filter(subscriber=self).revoke()

    @property
    def active(self) -> bool:
        """Tell whether anything but a confirmation may be sent (`SubscriberQuerySet.active`)."""
        return (
            bool(self.confirmed_at)
            and not self.paused
            and not self.unsubscribed_at
            and not self.suppressed_at
        )

    @property
    def on_digest(self) -> bool:
        """Tell whether news (and changes to followed events) come in a daily or weekly mail."""
        return self.news in DIGESTS

    @property
    def gets_reminders(self) -> bool:
        """Tell whether reminders go to this subscriber (`SubscriberQuerySet.reminded`)."""
        return not (self.on_digest and not self.digest_reminders)

    def followed(self) -> Follows:
        """Return everything this subscriber follows."""
        rows = list(self.follows.all())
        return Follows(
            topics=[row.topic_id for row in rows if row.topic_id],
            countries=[row.country.code for row in rows if row.country],
            actors=[row.actor_id for row in rows if row.actor_id],
            tracks=[row.track_id for row in rows if row.track_id],
            events=[row.event_id for row in rows if row.event_id],
        )

    @property
    def lead_time_labels(self) -> list[str]:
        """Say when reminders come, in words, earliest first ("1 day before", "At the start")."""
        return [lead_time_label(minutes) for minutes in sorted(self.lead_times, reverse=True)]


class SubscriberLink(models.Model):
    """One link given to a subscriber (in a mail or on a page), kept only as its token's hash."""

    class Purpose(models.TextChoices):
        CONFIRM = "confirm", _("confirm the address")
        MANAGE = "manage", _("preferences and unsubscribe")

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="links", verbose_name=_("subscriber")
    )
    purpose = models.CharField(_("purpose"), max_length=8, choices=Purpose.choices)
    # SHA-256 of a 256-bit random token; the token itself is only ever in the link.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("subscriber link")
        verbose_name_plural = _("subscriber links")

    def __str__(self) -> str:
        return _("%(purpose)s link of %(subscriber)s") % {
            "purpose": self.get_purpose_display(),
            "subscriber": self.subscriber_id,
        }


class Subscription(models.Model):
    """One thing a subscriber follows: a topic, country, actor, track or single event."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="follows", verbose_name=_("subscriber")
    )
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("topic")
    )
    country = CountryField(blank=True, verbose_name=_("country"))
    actor = models.ForeignKey(
        Actor, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("actor")
    )
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("track")
    )
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("event")
    )

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(
                name="subscription_follows_exactly_one_thing",
                condition=(
                    Q(
                        topic__isnull=False,
                        actor__isnull=True,
                        track__isnull=True,
                        event__isnull=True,
                        country="",
                    )
                    | Q(
                        topic__isnull=True,
                        actor__isnull=False,
                        track__isnull=True,
                        event__isnull=True,
                        country="",
                    )
                    | Q(
                        topic__isnull=True,
                        actor__isnull=True,
                        track__isnull=False,
                        event__isnull=True,
                        country="",
                    )
                    | Q(
                        topic__isnull=True,
                        actor__isnull=True,
                        track__isnull=True,
                        event__isnull=False,
                        country="",
                    )
                    | (
                        Q(
                            topic__isnull=True,
                            actor__isnull=True,
                            track__isnull=True,
                            event__isnull=True,
                        )
                        & ~Q(country="")
                    )
                ),
            )
        ]

    def __str__(self) -> str:
        return _("%(subscriber)s follows %(followed)s") % {
            "subscriber": self.subscriber,
            "followed": self.followed,
        }

    @property
    def followed(self) -> Topic | Actor | Track | Event | str:
        """Return the one thing followed (a country by its name)."""
        return self.topic or self.actor or self.track or self.event or self.country.name


class AnnouncedSchedule(models.Model):
    """What followers were last told of an event's time, place and status (for change notices)."""

    event = models.OneToOneField(
        Event,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="announced",
        verbose_name=_("event"),
    )
    data = models.JSONField(_("data"))
    # What a follow had to name to select the event (`Event.followed_through`, less the event
    # itself; nothing while unpublished) when the outbox was last brought in line: who it newly
    # selects since is told of it. Null on rows from before news existed: no one is, that once.
    followed = models.JSONField(_("followed through"), null=True, blank=True)
    # The event revision the outbox was last brought in line with.
    revision = models.PositiveIntegerField(_("revision"), default=0)

    class Meta:
        verbose_name = _("announced schedule")
        verbose_name_plural = _("announced schedules")

    def __str__(self) -> str:
        return _("announced schedule of %(event)s") % {"event": self.event_id}


class Notification(models.Model):
    """One logical email: created once, claimed by one dispatcher, sent once."""

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Confirm your address")
        REMINDER = "reminder", _("Reminder")
        RESCHEDULED = "rescheduled", _("Changed")
        CANCELLED = "cancelled", _("Cancelled")
        DATE_ANNOUNCED = "date_announced", _("Date announced")
        NEWS = "news", _("New event")
        DIGEST = "digest", _("Digest")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="outbox", verbose_name=_("subscriber")
    )
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("event"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Tells apart notifications of one kind: the lead time of a reminder, the round of a notice,
    # the period of a digest ("daily:2026-12-01", "weekly:2026-W49").
    key = models.CharField(_("key"), max_length=60, default="")
    lead_minutes = models.PositiveIntegerField(_("lead minutes"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), db_index=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    # Who holds the lease: the claiming run, and its database session (dead session, dead claimer).
    claim_token = models.UUIDField(_("claim token"), null=True, blank=True, editable=False)
    claimed_by = models.PositiveIntegerField(_("claimed by"), null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True, editable=False)
    # Tries whose outcome is unknown: the connection dropped while the message was handed over.
    uncertain_attempts = models.PositiveIntegerField(_("uncertain attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Names this mail in its Message-ID and return address, so a bounce or a complaint about it
    # finds its way back (notifications.tracing). Random, never an id: no one can guess it to
    # report someone else's mail. NULL (not "": it is unique) on rows sent before it existed.
    trace_token = models.CharField(  # noqa: DJ001
        _("trace token"),
        max_length=32,
        unique=True,
        null=True,
        default=new_trace_token,
        editable=False,
    )
    bounce = models.CharField(_("bounce"), max_length=10, blank=True, choices=Bounce.choices)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    # For reminders: the start the reminder was scheduled for; for notices: the old and new
    # schedules as data (notifications.changes), told in the reader's language when sent; for
    # digests: the period's start and end (notifications.digests).
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Not a column: the dispatcher sets the batch's link token here before building the mail.
    link_token: str
    # Not a column: what a digest tells, worked out when it is sent (notifications.digests).
    digest: Any

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "event", "kind", "key"], name="one_notification_per_purpose"
            ),
            models.UniqueConstraint(
                fields=["subscriber", "kind", "key"],
                condition=Q(event__isnull=True),
                name="one_eventless_notification_per_purpose",
            ),
        ]
        indexes = [models.Index(fields=["state", "due_at"])]

    def __str__(self) -> str:
        return _("%(kind)s to %(subscriber)s (%(state)s)") % {
            "kind": self.get_kind_display(),
            "subscriber": self.subscriber_id,
            "state": self.get_state_display(),
        }


class WebhookReceipt(models.Model):
    """A signed provider webhook post already taken, kept while a replay of it could pass."""

    # The SHA-256 of the provider's one-time token (Mailgun's signature "token").
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    received_at = models.DateTimeField(_("received at"), db_index=True, editable=False)

    class Meta:
        verbose_name = _("webhook receipt")
        verbose_name_plural = _("webhook receipts")

    def __str__(self) -> str:
        return str(self.received_at)


class DigestItem(models.Model):
    """One thing a subscriber on a digest is owed in a digest: an event new to them, or a change.

    The digest that tells it records itself here in the transaction that marks it sent, so each
    item is in exactly one digest. An item no longer worth telling when a digest is made (its
    event unpublished or no longer followed) is deleted then.
    """

    class Kind(models.TextChoices):
        NEWS = "news", _("New event")
        CHANGE = "change", _("Changed")

    subscriber = models.ForeignKey(
        Subscriber,
        on_delete=models.CASCADE,
        related_name="digest_items",
        verbose_name=_("subscriber"),
    )
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="digest_items", verbose_name=_("event")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    # For a change: the schedule the subscriber was last told of (notifications.changes); the
    # digest tells it against the event's schedule when it is made.
    old = models.JSONField(_("old schedule"), null=True, blank=True)
    held_at = models.DateTimeField(_("held at"), default=timezone.now)
    # Set as the digest is marked sent, in the same statement. Neither indexed nor checked by
    # the database, so that costs little more than marking any other row: items are looked up
    # by subscriber, and go with their subscriber, as the digest does.
    digest = models.ForeignKey(
        Notification,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="digest_items",
        verbose_name=_("told in"),
    )

    class Meta:
        verbose_name = _("digest item")
        verbose_name_plural = _("digest items")
        constraints = [
            # A subscriber hears of an event as new once, ever.
            models.UniqueConstraint(
                fields=["subscriber", "event"],
                condition=Q(kind="news"),
                name="one_news_item_per_event",
            ),
            # Later changes before the digest add nothing: it tells the first old against now.
            models.UniqueConstraint(
                fields=["subscriber", "event"],
                condition=Q(kind="change", digest__isnull=True),
                name="one_pending_change_per_event",
            ),
        ]

    def __str__(self) -> str:
        return _("%(kind)s of %(event)s for %(subscriber)s") % {
            "kind": self.get_kind_display(),
            "event": self.event_id,
            "subscriber": self.subscriber_id,
        }
