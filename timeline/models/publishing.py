"""What is published from the record: calendar feeds, their cached fragments, private feeds."""

import secrets
from typing import cast

from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from .. import languages
from ..text import OneLineField
from .record import Actor, Event, Follows, Topic, Track, any_in, has_any_country
from .subscribers import Subscriber
from .tokens import hash_token


def feed_key(language: str, subject: str) -> str:
    """Return the key of the feed of *subject* ('all', 'topic:energy') in *language*."""
    return f"{language}/{subject}"


def private_subject(pk: int) -> str:
    """Return what the key of private feed *pk* names, whatever its language."""
    return f"private:{pk}"


def split_feed_key(key: str) -> tuple[str, str]:
    """Return (language, subject) of a feed key; ('', key) for a key without a language."""
    language, slash, subject = key.partition("/")
    if not slash or language not in languages.CODES:
        return "", key
    return language, subject


class Feed(models.Model):
    """A published calendar feed: where its bytes are stored, their validators, its events."""

    key = models.CharField(
        _("key"), max_length=120, unique=True, help_text=_("e.g. ru/all, en/topic:energy")
    )
    body_name = models.CharField(_("body name"), max_length=300, blank=True)
    gzip_name = models.CharField(_("gzip name"), max_length=300, blank=True)
    manifest_name = models.CharField(_("manifest name"), max_length=300, blank=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    etag = models.CharField(_("ETag"), max_length=80)
    last_modified = models.DateTimeField(
        _("last modified"), help_text=_("When the bytes last changed.")
    )
    published_at = models.DateTimeField(_("published at"))
    event_count = models.PositiveIntegerField(_("event count"), default=0)
    events: models.ManyToManyField[Event, "FeedMembership"] = models.ManyToManyField(
        Event,
        through="FeedMembership",
        related_name="feeds",
        verbose_name=_("events"),
    )

    class Meta:
        verbose_name = _("feed")
        verbose_name_plural = _("feeds")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def stored_names(self) -> tuple[str, str, str]:
        return self.body_name, self.gzip_name, self.manifest_name

    def read(self, gzipped: bool = False) -> bytes:
        """Return the published bytes (gzip-compressed if asked)."""
        with storages["feeds"].open(self.gzip_name if gzipped else self.body_name, "rb") as stored:
            return cast(bytes, stored.read())


class StoredFile(models.Model):
    """One part of a file kept in the database (the feeds' storage by default:
    timeline.feeds.db_storage): a file is its parts' bytes in order."""

    name = models.CharField(_("name"), max_length=300)
    part = models.PositiveIntegerField(_("part"), default=0)
    content = models.BinaryField(_("content"))
    size = models.PositiveBigIntegerField(_("size"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")
        constraints = [
            models.UniqueConstraint(fields=["name", "part"], name="one_stored_file_part")
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.part}]"


class FeedMembership(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, verbose_name=_("feed"))
    event = models.ForeignKey(Event, on_delete=models.CASCADE, verbose_name=_("event"))

    class Meta:
        verbose_name = _("feed membership")
        verbose_name_plural = _("feed memberships")
        constraints = [
            models.UniqueConstraint(fields=["feed", "event"], name="unique_feed_membership")
        ]

    def __str__(self) -> str:
        return _("%(event)s in %(feed)s") % {"event": self.event_id, "feed": self.feed_id}


class EventFragment(models.Model):
    """An event's rendered VEVENT in one language, valid while `version` matches the event's."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="fragments", verbose_name=_("event")
    )
    language = models.CharField(_("language"), max_length=8)
    version = models.CharField(_("version"), max_length=200)
    body = models.BinaryField(_("body"))

    class Meta:
        verbose_name = _("event fragment")
        verbose_name_plural = _("event fragments")
        constraints = [
            models.UniqueConstraint(fields=["event", "language"], name="unique_event_fragment")
        ]

    def __str__(self) -> str:
        return _("VEVENT of %(event)s") % {"event": f"{self.event_id} ({self.language})"}


class PrivateFeedQuerySet(models.QuerySet["PrivateFeed"]):
    def serving(self) -> "PrivateFeedQuerySet":
        """Return the feeds whose secret link works: active, and a subscriber's only while they
        are subscribed."""
        # A LEFT JOIN: a feed without a subscriber matches too.
        return self.filter(is_active=True, subscriber__unsubscribed_at__isnull=True)

    def including(self, event: Event) -> "PrivateFeedQuerySet":
        """Return the feeds served whose selection holds *event*: an editor's by its labels, a
        subscriber's by what the subscriber follows."""
        target = event.followed_through()
        selection = any_in(
            topics=target.topics, actors=target.actors, tracks=target.tracks
        ) | has_any_country(target.countries)
        chosen = PrivateFeed.objects.filter(selection).values("pk")
        followers = Subscriber.objects.following(event).values("pk")
        return self.serving().filter(Q(pk__in=chosen) | Q(subscriber__in=followers))

    def keys(self) -> list[str]:
        """Return the feed key of each, in the language it is written in (see `written_in`)."""
        rows = self.values_list("pk", Coalesce("subscriber__language", "language"))
        return [feed_key(language, private_subject(pk)) for pk, language in rows]

    def revoke(self) -> int:
        """Turn these feeds off (each saved, so their published bytes go too); return how many
        were on."""
        feeds = list(self.filter(is_active=True))
        for feed in feeds:
            feed.revoke()
        return len(feeds)


class PrivateFeed(models.Model):
    """A calendar of one reader's own selection, reached through a secret link.

    An editor's (made in the admin) selects by its own topics, countries, tracks and actors; a
    subscriber's (made on their preferences page) selects what the subscriber follows, live, in
    the subscriber's language, with alarms at their reminder lead times if they chose them.
    """

    NAME_MAX_LENGTH = 200

    name = OneLineField(
        _("name"), max_length=NAME_MAX_LENGTH, help_text=_("Who or what this feed is for.")
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    topics = models.ManyToManyField(Topic, blank=True, verbose_name=_("topics"))
    countries = CountryField(multiple=True, blank=True, verbose_name=_("countries"))
    tracks = models.ManyToManyField(Track, blank=True, verbose_name=_("tracks"))
    actors = models.ManyToManyField(Actor, blank=True, verbose_name=_("actors"))
    # English by default: the links issued before feeds had languages keep their English text.
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=[(code, languages.NAMES[code]) for code in languages.CODES],
        default=languages.ENGLISH,
        help_text=_("The language the calendar is written in."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    subscriber = models.OneToOneField(
        Subscriber,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar",
        verbose_name=_("subscriber"),
        help_text=_("A subscriber's own calendar of what they follow, in their language."),
    )
    alarms = models.BooleanField(
        _("alarms"),
        default=False,
        help_text=_("For a subscriber's calendar: alarms at the subscriber's reminder times."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    token_issued_at = models.DateTimeField(_("token issued at"), null=True, editable=False)

    objects = PrivateFeedQuerySet.as_manager()

    class Meta:
        verbose_name = _("private feed")
        verbose_name_plural = _("private feeds")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def subject(self) -> str:
        """Return what the feed's key names, whatever its language."""
        return private_subject(self.pk)

    @property
    def written_in(self) -> str:
        """Return the feed's language: its subscriber's (who may change it), else its own."""
        return self.subscriber.language if self.subscriber else self.language

    @property
    def key(self) -> str:
        return feed_key(self.written_in, self.subject)

    def followed(self) -> Follows:
        """Return what the feed selects: what its subscriber follows, else any of its topics,
        countries, tracks and actors."""
        if self.subscriber:
            return self.subscriber.followed()
        return Follows(
            topics=list(self.topics.values_list("pk", flat=True)),
            countries=[country.code for country in self.countries],
            actors=list(self.actors.values_list("pk", flat=True)),
            tracks=list(self.tracks.values_list("pk", flat=True)),
        )

    def issue_token(self) -> str:
        """Give the feed a new secret token, invalidating the old one; return it (shown once)."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_issued_at = timezone.now()
        return token

    def rotate(self) -> str:
        """Issue and save a new secret token (the old one stops at once); return it (shown once)."""
        token = self.issue_token()
        self.save(update_fields=["token_hash", "token_issued_at"])
        return token

    def revoke(self) -> None:
        """Turn the feed off: its secret link stops working."""
        self.is_active = False
        self.save(update_fields=["is_active"])
