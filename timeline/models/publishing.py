"""What is published from the record: calendar feeds, their cached fragments, private feeds."""

import secrets
from typing import cast

from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from .. import languages
from ..text import OneLineField
from .record import Actor, Event, Follows, Topic, Track, any_in, has_any_country
from .tokens import hash_token


def feed_key(language: str, subject: str) -> str:
    """Return the key of the feed of *subject* ('all', 'topic:energy') in *language*."""
    return f"{language}/{subject}"


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
        with default_storage.open(self.gzip_name if gzipped else self.body_name, "rb") as stored:
            return cast(bytes, stored.read())


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
    def including(self, event: Event) -> "PrivateFeedQuerySet":
        """Return the active private feeds whose selection holds *event*."""
        target = event.followed_through()
        selection = any_in(
            topics=target.topics, actors=target.actors, tracks=target.tracks
        ) | has_any_country(target.countries)
        chosen = PrivateFeed.objects.filter(selection).values("pk")
        return self.filter(is_active=True, pk__in=chosen)


class PrivateFeed(models.Model):
    """A calendar of one reader's own selection, reached through a secret link."""

    name = OneLineField(_("name"), max_length=200, help_text=_("Who or what this feed is for."))
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
        return f"private:{self.pk}"

    @property
    def key(self) -> str:
        return feed_key(self.language, self.subject)

    def followed(self) -> Follows:
        """Return what the feed selects: any of its topics, countries, tracks and actors."""
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
