"""The record: events with their places, actors, topics, tracks and sources."""

import datetime as dt
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField
from django_stubs_ext import StrOrPromise
from modeltranslation.manager import MultilingualManager

from .. import languages, milestones, timing
from ..text import SUMMARY_MAX_LENGTH, LongTextField, OneLineField
from .translations import Translated

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, PermissionsMixin


def validate_iana_zone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name, such as 'Asia/Almaty'."""
    if value and not timing.is_iana_zone(value):
        raise ValidationError(
            _("“%(value)s” is not an IANA time zone name; use a name such as Asia/Almaty."),
            code="invalid_zone",
            params={"value": value},
        )


def validate_event_date(value: dt.date) -> None:
    """Refuse a date outside the years the timeline can place on the UTC line."""
    if value and not timing.in_range(value):
        raise ValidationError(
            _("Give a date between %(earliest)s and %(latest)s."),
            code="date_out_of_range",
            params={
                "earliest": timing.EARLIEST_DATE.isoformat(),
                "latest": timing.LATEST_DATE.isoformat(),
            },
        )


class Precision(models.TextChoices):
    MINUTE = timing.MINUTE, _("Exact time")
    DAY = timing.DAY, _("Day")
    MONTH = timing.MONTH, _("Month")
    QUARTER = timing.QUARTER, _("Quarter")
    YEAR = timing.YEAR, _("Year")


class Place(Translated):
    translated_fields = ("name",)

    name = OneLineField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    country = CountryField(verbose_name=_("country"))
    timezone = models.CharField(
        _("time zone"), max_length=64, validators=[validate_iana_zone], help_text=_("IANA name")
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}, {self.country.name}"

    _saved_timezone: str | None

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, and move the events that take their time zone from this place."""
        super().save(*args, **kwargs)
        if getattr(self, "_saved_timezone", self.timezone) != self.timezone:
            for event in self.events.filter(timezone=""):
                event.save()
        self._saved_timezone = self.timezone

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        instance = super().from_db(db, field_names, values)
        instance._saved_timezone = instance.__dict__.get("timezone")
        return instance

    def clean(self) -> None:
        """Require a name, and both coordinates or neither."""
        super().clean()
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError(_("Give both latitude and longitude, or neither."))


_Label = TypeVar("_Label", bound=models.Model)


class LabelQuerySet(models.QuerySet[_Label]):
    """Actors, topics and tracks: what readers may be shown of them."""

    def in_use(self) -> Self:
        """Return those that a published event carries: drafts reveal nothing of theirs."""
        carried = self.model._default_manager.filter(events__published=True).values("pk")
        return self.filter(pk__in=carried)


class Label(Translated):
    """What events are tagged with (actors, topics, tracks), listed to readers by name."""

    # modeltranslation's manager (lookups on `name` go to the reader's language), declared here
    # rather than patched in at run time, so that type checkers see it.
    objects = MultilingualManager.from_queryset(LabelQuerySet)()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return str(getattr(self, "name", ""))


class Actor(Label):
    translated_fields = ("name", "role")

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ORGANISATION = "organisation", _("Organisation")

    name = OneLineField(pgettext_lazy("person or organisation", "name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PERSON)
    role = OneLineField(_("role"), max_length=300, blank=True)
    country = CountryField(blank=True, verbose_name=_("country"))

    class Meta(Label.Meta):
        verbose_name = _("actor")
        verbose_name_plural = _("actors")

    def __str__(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


class Topic(Label):
    translated_fields = ("name", "description")

    name = OneLineField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = LongTextField(_("description"), blank=True)

    class Meta(Label.Meta):
        verbose_name = _("topic")
        verbose_name_plural = _("topics")


class Track(Label):
    """A long project whose milestones are followed against their baseline dates."""

    translated_fields = ("name", "description")

    name = OneLineField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = LongTextField(_("description"), blank=True)
    countries = CountryField(multiple=True, blank=True, verbose_name=_("countries"))

    class Meta(Label.Meta):
        verbose_name = _("track")
        verbose_name_plural = _("tracks")


def is_calendar_precision(precision: str) -> bool:
    """Tell whether an event at this precision is dated to the day (so calendars can hold it)."""
    return precision not in timing.COARSER_THAN_DAY


CALENDAR_PRECISIONS = tuple(p for p in Precision.values if is_calendar_precision(p))


# Ids given as values or as a query of them ("the pk of the topic with this slug").
Ids = Collection[int] | models.QuerySet[Any, Any]


@dataclass(frozen=True)
class Follows:
    """What is followed: ids of topics, actors, tracks and single events, and country codes.

    A follow selects the events carrying one of its topics, actors or countries, on one of its
    tracks, or named by it. `EventQuerySet.matching` is that rule; `Event.followed_through` is
    its inverse, the follows that select a given event.
    """

    topics: "Ids" = ()
    countries: Collection[str] = ()
    actors: "Ids" = ()
    tracks: "Ids" = ()
    events: "Ids" = ()


def any_in(**lookups: Collection[Any] | models.QuerySet[Any, Any]) -> Q:
    """Match rows where any of these fields is among its values."""
    selection = Q(pk__in=[])
    for field, values in lookups.items():
        # Only parts with values: an empty one would still join its table.
        if isinstance(values, models.QuerySet) or values:
            selection |= Q(**{f"{field}__in": values})
    return selection


def has_country(code: str, field: str = "countries") -> Q:
    """Match rows whose comma-separated country codes in *field* include exactly *code*."""
    if not code or "," in code:
        return Q(pk__in=[])
    return (
        Q(**{field: code})
        | Q(**{f"{field}__startswith": f"{code},"})
        | Q(**{f"{field}__endswith": f",{code}"})
        | Q(**{f"{field}__contains": f",{code},"})
    )


def has_any_country(codes: Iterable[str], field: str = "countries") -> Q:
    """Match rows whose country codes in *field* include any of *codes*."""
    selection = Q(pk__in=[])
    for code in codes:
        selection |= has_country(code, field)
    return selection


class EventQuerySet(models.QuerySet["Event"]):
    def published(self) -> "EventQuerySet":
        """Return the events readers may see."""
        return self.filter(published=True)

    def in_calendars(self) -> "EventQuerySet":
        """Return the events calendars hold: published and dated to the day or minute."""
        return self.published().filter(precision__in=CALENDAR_PRECISIONS)

    def getting_reminders(self) -> "EventQuerySet":
        """Return the events reminders go out for: in calendars and still going ahead."""
        return self.in_calendars().filter(status__in=Event.REMINDED_STATUSES)

    def matching(self, follows: Follows) -> "EventQuerySet":
        """Return the events any of these follows selects, each once."""
        selection = any_in(
            pk=follows.events,
            topics=follows.topics,
            participants=follows.actors,
            track=follows.tracks,
        ) | has_any_country(follows.countries)
        # Through many-to-many links an event would come once per match; a subquery does not.
        return self.filter(pk__in=Event.objects.filter(selection).values("pk"))

    def country_codes(self) -> set[str]:
        """Return the codes of the countries these events are tagged with."""
        values = self.order_by().values_list("countries", flat=True).distinct()
        return {code for value in values for code in value.split(",") if code}


class Publishable(models.Model):
    """A record readers see only once someone with the publish permission publishes it."""

    published = models.BooleanField(
        _("published"), default=False, help_text=_("Drafts are seen only in the admin.")
    )

    class Meta:
        abstract = True


class Event(Translated, Publishable):
    translated_fields = ("title", "summary", "description")

    class Kind(models.TextChoices):
        VISIT = "visit", _("Visit")
        MEETING = "meeting", _("Meeting")
        TALKS = "talks", _("Talks")
        SIGNING = "signing", _("Signing")
        SUMMIT = "summit", _("Summit")
        OPENING = "opening", _("Opening")
        MILESTONE = "milestone", _("Milestone")
        STATEMENT = "statement", _("Statement")

    class Status(models.TextChoices):
        TENTATIVE = "tentative", _("Tentative")
        CONFIRMED = "confirmed", _("Confirmed")
        POSTPONED = "postponed", _("Postponed")
        CANCELLED = "cancelled", _("Cancelled")
        COMPLETED = "completed", _("Completed")

    UPCOMING_STATUSES = frozenset({Status.TENTATIVE, Status.CONFIRMED, Status.POSTPONED})
    REMINDED_STATUSES = frozenset({Status.TENTATIVE, Status.CONFIRMED})

    # Changes to any of these are changes of time, place or status: they bump `sequence`.
    SCHEDULE_FIELDS = (
        "precision",
        "start_date",
        "start_time",
        "end_date",
        "end_time",
        "timezone",
        "place_id",
        "status",
        "start_utc",
        "end_utc",
    )

    uid = models.UUIDField(_("UID"), default=uuid.uuid4, unique=True, editable=False)
    # The UID a calendar file gave an imported event, kept so that the calendar that exported
    # it recognises it back; "" for events made here, whose calendar UID is `uid`.
    ical_uid = models.CharField(
        _("calendar UID"), max_length=255, blank=True, default="", editable=False
    )
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    title = OneLineField(_("title"), max_length=300)
    summary = LongTextField(
        _("summary"),
        blank=True,
        max_length=SUMMARY_MAX_LENGTH,
        help_text=_("One or two sentences."),
    )
    description = LongTextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MEETING)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CONFIRMED
    )
    precision = models.CharField(
        _("date precision"), max_length=10, choices=Precision.choices, default=Precision.DAY
    )
    start_date = models.DateField(
        _("start date"),
        help_text=_("Local date; for a month, quarter or year, any day in it."),
        validators=[validate_event_date],
    )
    start_time = models.TimeField(
        _("start time"), null=True, blank=True, help_text=_("Local time; exact time only.")
    )
    end_date = models.DateField(
        _("end date"),
        null=True,
        blank=True,
        help_text=_("Last local day (inclusive)."),
        validators=[validate_event_date],
    )
    end_time = models.TimeField(_("end time"), null=True, blank=True)
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_iana_zone],
        help_text=_("IANA name; leave blank to use the place's."),
    )
    start_utc = models.DateTimeField(_("start (UTC)"), editable=False, db_index=True)
    end_utc = models.DateTimeField(_("end (UTC, exclusive)"), null=True, editable=False)
    # The zone in force (its own, else its place's), kept so feeds group by zone without a join.
    zone = models.CharField(_("zone"), max_length=64, default="UTC", editable=False)

    place = models.ForeignKey(
        Place,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("place"),
    )
    participants = models.ManyToManyField(
        Actor, blank=True, related_name="events", verbose_name=_("participants")
    )
    topics = models.ManyToManyField(
        Topic, blank=True, related_name="events", verbose_name=_("topics")
    )
    countries = CountryField(multiple=True, blank=True, verbose_name=_("countries"))
    track = models.ForeignKey(
        Track,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("track"),
    )
    part_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="parts",
        verbose_name=_("part of"),
        help_text=_("E.g. a round of talks is part of the state visit it was held during."),
    )
    baseline_date = models.DateField(
        _("baseline date"),
        null=True,
        blank=True,
        help_text=_("Milestones: the originally planned date."),
        validators=[validate_event_date],
    )
    baseline_precision = models.CharField(
        _("baseline precision"), max_length=10, choices=Precision.choices, blank=True, default=""
    )

    sequence = models.PositiveIntegerField(_("sequence"), default=0, editable=False)
    # Goes up on every change of the event or of what it shows (place, topics, sources), so
    # a cached rendering is current exactly when its revision matches.
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)
    # The revision the calendar feeds last published: behind `revision` means a publish is owed.
    feeds_revision = models.PositiveIntegerField(_("feeds revision"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = MultilingualManager.from_queryset(EventQuerySet)()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["start_utc", "title"]
        permissions = [("publish_event", _("Can publish and unpublish events"))]
        indexes = [models.Index(fields=["published", "start_utc"])]
        constraints = [
            models.UniqueConstraint(
                fields=["ical_uid"],
                condition=~Q(ical_uid=""),
                name="event_ical_uid_unique",
            )
        ]

    def __str__(self) -> str:
        return self.title

    # --- saving -----------------------------------------------------------------------------
    _saved_schedule: tuple[Any, ...] | None
    # `published` as last read or saved (None when unknown): parts name only a published whole.
    _saved_published: bool | None

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save with the UTC span; bump the sequence on a change of time, place or status."""
        self._normalise()
        if not self.slug:
            self.slug = unique_slug(self.slug_title())
        span = self._span(self.effective_timezone)
        self.start_utc, self.end_utc = span.start, span.end
        self.zone = self.effective_timezone
        saved = getattr(self, "_saved_schedule", None)
        if saved is not None and saved != self._schedule():
            self.sequence += 1
        self.revision += 1
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {
                *update_fields,
                *("sequence", "revision", "start_utc", "end_utc", "zone"),
            }
        super().save(*args, **kwargs)
        self._saved_schedule = self._schedule()
        self._saved_published = self.published

    def get_absolute_url(self) -> str:
        return reverse("timeline:event-detail", kwargs={"slug": self.slug})

    def slug_title(self) -> str:
        """Return the title a new slug is made from: the English one, else the first written."""
        # Slugs are ASCII: English first, then the next language's title.
        english_first = (self.text_in("title", code) for code in reversed(languages.CODES))
        return next((title for title in english_first if title), "")

    @property
    def calendar_uid(self) -> str:
        """Return the UID calendars know the event by: the imported one, else its own."""
        return self.ical_uid or str(self.uid)

    @property
    def published_whole(self) -> "Event | None":
        """Return the event this one is part of, if readers may see it, else None."""
        whole = self.part_of if self.part_of_id else None
        return whole if whole is not None and whole.published else None

    def publication_changed(self) -> bool:
        """Tell whether `published` may differ from when the event was last read or saved.

        Right after a save (in post_save) it compares with the stored row from before; an
        instance not read from the database (a raw save, a new event) counts as changed.
        """
        return getattr(self, "_saved_published", None) != self.published

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        instance = super().from_db(db, field_names, values)
        instance._saved_schedule = instance._schedule()
        instance._saved_published = instance.__dict__.get("published")
        return instance

    def _schedule(self) -> tuple[Any, ...]:
        return tuple(self.__dict__.get(name) for name in self.SCHEDULE_FIELDS)

    # --- time -------------------------------------------------------------------------------
    @property
    def effective_timezone(self) -> str:
        """Return the event's zone: its own, else its place's, else UTC."""
        if self.timezone:
            return self.timezone
        if self.place_id and self.place is not None and self.place.timezone:
            return self.place.timezone
        return "UTC"

    @property
    def is_calendar_dated(self) -> bool:
        """Tell whether the date is known to the day (so it belongs in calendars)."""
        return is_calendar_precision(self.precision)

    @property
    def goes_in_calendars(self) -> bool:
        """Tell whether calendar feeds hold this event (as `EventQuerySet.in_calendars`)."""
        return self.published and self.is_calendar_dated

    @property
    def gets_reminders(self) -> bool:
        """Tell whether reminders go out for this event (as `EventQuerySet.getting_reminders`)."""
        return self.goes_in_calendars and self.status in self.REMINDED_STATUSES

    def followed_through(self) -> Follows:
        """Return what a follow must name to select this event (the inverse of `matching`)."""
        return Follows(
            topics=[topic.pk for topic in self.topics.all()],
            countries=[country.code for country in self.countries],
            actors=[actor.pk for actor in self.participants.all()],
            tracks=[self.track_id] if self.track_id else [],
            events=[self.pk],
        )

    @property
    def when(self) -> str:
        """Return the date at its precision in the active language, e.g. '11–12 Nov 2025'."""
        return self.when_in()

    def when_in(self, language: str | None = None) -> str:
        """Return the date at its precision in *language* (default: the active one)."""
        return timing.describe(
            self.precision,
            self.start_date,
            self.start_time,
            self.end_date,
            self.end_time,
            still_to_come=self.status in self.UPCOMING_STATUSES,
            language=language,
        )

    @property
    def local_start(self) -> dt.datetime:
        """Return the start as an aware datetime in the event's zone."""
        return self.start_utc.astimezone(timing.zone(self.effective_timezone))

    @property
    def baseline_label(self) -> str:
        """Return the baseline date at its precision in the active language, or ''."""
        return self.baseline_label_in()

    def baseline_label_in(self, language: str | None = None) -> str:
        """Return the baseline date at its precision in *language*, or ''."""
        if not self.baseline_date:
            return ""
        return timing.describe(
            self.baseline_precision or timing.DAY,
            self.baseline_date,
            still_to_come=False,
            language=language,
        )

    @property
    def slip_days(self) -> int | None:
        """Return how many days the milestone has moved from its baseline (later is positive)."""
        if not self.baseline_date:
            return None
        return (
            self.start_date - timing.period_start(self.baseline_date, self.baseline_precision)
        ).days

    @property
    def slip(self) -> milestones.Slip | None:
        """Return how far the milestone has moved from its baseline, at the dates' precision."""
        if not self.baseline_date:
            return None
        return milestones.slip(
            self.baseline_date, self.baseline_precision, self.start_date, self.precision
        )

    # --- validation -------------------------------------------------------------------------
    def _normalise(self) -> None:
        if self.precision in timing.COARSER_THAN_DAY and self.start_date:
            self.start_date = timing.period_start(self.start_date, self.precision)
        if self.end_time is not None and self.end_date is None:
            self.end_date = self.start_date
        if self.baseline_date and not self.baseline_precision:
            self.baseline_precision = timing.DAY

    def clean(self) -> None:
        """Check the event as an editor would expect, with messages that say what to fix."""
        super().clean()
        errors: dict[str, list[StrOrPromise]] = {}

        def add(field: str, message: StrOrPromise) -> None:
            errors.setdefault(field, []).append(message)

        named = {"precision": Precision(self.precision).label.lower() if self.precision else ""}
        if self.precision == Precision.MINUTE:
            if self.start_time is None:
                add("start_time", _("An event with an exact time needs a start time."))
        else:
            if self.start_time is not None:
                add(
                    "start_time",
                    _(
                        "A time was given for a %(precision)s-precision event: clear the time, "
                        "or set the precision to exact time."
                    )
                    % named,
                )
            if self.end_time is not None:
                add("end_time", _("A %(precision)s-precision event has no end time.") % named)
        if self.precision in timing.COARSER_THAN_DAY and self.end_date is not None:
            add(
                "end_date",
                _("An event known only to the %(precision)s has no end date; leave it blank.")
                % named,
            )
        if self.kind == self.Kind.MILESTONE and not self.track_id:
            add("track", _("A milestone belongs to a track; choose one."))
        if self.baseline_date and self.kind != self.Kind.MILESTONE:
            add("baseline_date", _("Only milestones keep a baseline date."))
        if self.baseline_precision and not self.baseline_date:
            add("baseline_date", _("Give the baseline date for this baseline precision."))
        # A date out of range is refused by its field; no span can be computed from it.
        dates = (self.start_date, self.end_date, self.baseline_date)
        placeable = all(timing.in_range(day) for day in dates if day)
        if not errors and placeable and self.start_date:
            self._normalise()
            zone_name = self.timezone or (
                self.place.timezone if self.place_id and self.place is not None else ""
            )
            if self.precision == Precision.MINUTE and not zone_name:
                add("timezone", _("An event with an exact time needs a time zone or a place."))
            elif not zone_name or timing.is_iana_zone(zone_name):
                self._check_span(add, zone_name or "UTC")
        if self.part_of_id and self.part_of is not None:
            self._check_part_of(add, self.part_of, dates_known=not errors and placeable)
        if errors:
            raise ValidationError(errors)

    def local_days(self) -> tuple[dt.date, dt.date]:
        """Return the first and last local day the event's date covers, at its precision."""
        last = self.end_date or (
            timing.period_end(self.start_date, self.precision) - dt.timedelta(days=1)
        )
        return timing.period_start(self.start_date, self.precision), last

    def _check_part_of(
        self, add: Callable[[str, StrOrPromise], None], whole: "Event", *, dates_known: bool
    ) -> None:
        seen = {self.pk} if self.pk else set()
        ancestor: Event | None = whole
        while ancestor is not None:
            if ancestor.pk in seen:
                add("part_of", _("An event cannot be part of itself or of one of its own parts."))
                return
            seen.add(ancestor.pk)
            ancestor = ancestor.part_of
        if not dates_known or not self.start_date:
            return
        first, last = self.local_days()
        whole_first, whole_last = whole.local_days()
        if first < whole_first or last > whole_last:
            add(
                "part_of",
                _("A part must fall within the dates of the event it is part of (%(when)s).")
                % {"when": whole.when},
            )

    def _check_span(self, add: Callable[[str, StrOrPromise], None], zone_name: str) -> None:
        try:
            span = self._span(zone_name)
        except timing.LocalTimeError as exc:
            add("start_time" if self.start_time else "start_date", str(exc))
            return
        if span.end is not None and span.end <= span.start:
            ends_earlier_day = self.end_date is not None and self.end_date < self.start_date
            field = "end_time" if self.end_time is not None and not ends_earlier_day else "end_date"
            add(field, _("The end is before the start."))

    def utc_span(self) -> timing.Span:
        """Return the UTC span computed from the local fields with today's tzdata."""
        return self._span(self.effective_timezone)

    def _span(self, zone_name: str) -> timing.Span:
        return timing.utc_span(
            self.precision,
            zone_name,
            self.start_date,
            self.start_time,
            self.end_date,
            self.end_time,
        )

    def duplicate(self) -> "Event":
        """Return a saved, unpublished copy with a new UID and slug, and the same links."""
        copy = Event.objects.get(pk=self.pk)
        copy.pk = copy.id = None
        copy._state.adding = True
        copy._saved_schedule = None
        copy.uid = uuid.uuid4()
        copy.ical_uid = ""
        copy.title = f"{self.title} (copy)"
        copy.slug = unique_slug(copy.title)
        copy.published = False
        copy.sequence = 0
        copy.save()
        copy.participants.set(self.participants.all())
        copy.topics.set(self.topics.all())
        for source in self.sources.all():
            source.pk = source.id = None
            source.event = copy
            source._state.adding = True
            source.save()
        return copy

    def keep_sequence_monotonic(self) -> None:
        """Before a raw save (revert, recover, fixture load), never let the sequence go down.

        A raw save restores an old version's fields, sequence included; calendar clients ignore
        an update whose SEQUENCE is not higher than the one they hold.
        """
        current = Event.objects.filter(pk=self.pk).first()
        if current is None:
            return
        self._saved_published = current.published
        changed = current._schedule() != tuple(getattr(self, name) for name in self.SCHEDULE_FIELDS)
        self.sequence = max(self.sequence, current.sequence + (1 if changed else 0))
        self._saved_schedule = self._schedule()
        ignore = ("updated_at", "revision", "feeds_revision", "sequence")
        if differs_from_stored(self, current, ignore=ignore):
            # An old version coming back is still a change, made now.
            self.updated_at = timezone.now()
            self.revision = current.revision + 1
        else:
            self.revision = current.revision


PUBLISH_PERMISSION = "timeline.publish_event"


def may_publish(user: "PermissionsMixin | AnonymousUser") -> bool:
    """Tell whether *user* may publish and unpublish events."""
    return user.has_perm(PUBLISH_PERMISSION)


def allowed_published(
    user: "PermissionsMixin | AnonymousUser", *, before: bool, wanted: bool
) -> bool:
    """Return the `published` value *user* may leave an event with, *before* being its old one."""
    # Every path that writes an event for a user (admin forms, actions, revert, recover, import)
    # passes the value stored before the request changed anything, false for a new or recovered
    # event: so whoever cannot publish can neither publish nor unpublish, whatever the path.
    return wanted if may_publish(user) else before


def differs_from_stored(
    instance: models.Model, stored: models.Model, ignore: Collection[str] = ()
) -> bool:
    """Tell whether any concrete field of *instance* differs from the *stored* row."""
    return any(
        getattr(instance, field.attname) != getattr(stored, field.attname)
        for field in instance._meta.concrete_fields
        if field.attname not in ignore
    )


def unique_slug(title: str, exclude_pk: int | None = None) -> str:
    """Return a slug for *title* that no other event uses."""
    return unique_slugs([title], exclude_pk)[0]


def unique_slugs(titles: Sequence[str], exclude_pk: int | None = None) -> list[str]:
    """Return a slug for each title that no other event and no earlier title uses.

    A title that slugifies to nothing (Cyrillic, say) gives "event"; a slug taken gets the
    first free "-2", "-3"… One query per distinct base, however many titles share it.
    """
    bases = [slugify(title)[:180] or "event" for title in titles]
    taken: dict[str, set[str]] = {}
    for base in dict.fromkeys(bases):
        same = Event.objects.filter(slug__regex=rf"^{re.escape(base)}(-[0-9]+)?$")
        # pk=None excludes nothing, which is what no *exclude_pk* means.
        same = same.exclude(pk=exclude_pk)  # type: ignore[misc]
        taken[base] = set(same.values_list("slug", flat=True))
    slugs = []
    for base in bases:
        used = taken[base]
        candidate, number = base, 1
        while candidate in used:
            number += 1
            candidate = f"{base}-{number}"
        used.add(candidate)
        slugs.append(candidate)
    return slugs


@receiver(pre_save, sender=Event)
def _before_raw_event_save(sender: type[Event], instance: Event, raw: bool, **kwargs: Any) -> None:
    # Raw saves (reversion's revert and recover, loaddata) bypass Event.save().
    if raw:
        instance.keep_sequence_monotonic()


class SourceKind(models.TextChoices):
    OFFICIAL = "official", _("Official")
    MEDIA = "media", _("Media")
    OTHER = "other", _("Other")


# Official sources come first wherever sources are listed.
SOURCE_KIND_ORDER = (SourceKind.OFFICIAL, SourceKind.MEDIA, SourceKind.OTHER)


class SourceQuerySet(models.QuerySet["Source"]):
    def official_first(self) -> "SourceQuerySet":
        """Order official sources first, then media, then others, each oldest first."""
        rank = models.Case(
            *(models.When(kind=kind, then=index) for index, kind in enumerate(SOURCE_KIND_ORDER)),
            default=len(SOURCE_KIND_ORDER),
        )
        return self.order_by(rank, "published_on", "pk")


def sources_official_first(lookup: str = "sources") -> "models.Prefetch[Any]":
    """Return the prefetch of an event's sources in the order readers see them, official first."""
    return models.Prefetch(lookup, queryset=Source.objects.official_first())


def is_home_page(url: str) -> bool:
    """Tell whether *url* is a site's front page ('/', '/en', '/ru/') rather than an item on it."""
    path = urlsplit(url).path.strip("/")
    return path == "" or (path.lower() in languages.CODES and not urlsplit(url).query)


class Source(models.Model):
    """A publication that reports a fact: an event, a figure or a step of an agreement."""

    Kind = SourceKind

    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sources",
        verbose_name=_("event"),
    )
    kind = models.CharField(
        _("kind of source"),
        max_length=10,
        choices=SourceKind.choices,
        default=SourceKind.MEDIA,
        help_text=_("Official: a government's or state body's own publication."),
    )
    url = models.URLField(_("URL"), max_length=600)
    url_is_item = models.BooleanField(
        _("URL is the item's own address"),
        default=True,
        help_text=_(
            "Untick when the item's own address is not known and the URL is only the "
            "publisher's site: readers are told so."
        ),
    )
    archived_url = models.URLField(
        _("archived copy"), max_length=600, blank=True, help_text=_("E.g. a Wayback Machine copy.")
    )
    title = OneLineField(_("title"), max_length=300, blank=True)
    publisher = OneLineField(_("publisher"), max_length=200)
    published_on = models.DateField(_("publication date"), validators=[validate_event_date])
    published_precision = models.CharField(
        _("publication date precision"),
        max_length=10,
        choices=[(p, label) for p, label in Precision.choices if p != Precision.MINUTE],
        default=Precision.DAY,
    )
    quote = LongTextField(_("quote"), blank=True)
    # Sources are not translated: readers are told which language each is written in.
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=[(code, languages.NAMES[code]) for code in languages.CODES],
        help_text=_("The language the source itself is written in."),
    )

    objects = SourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["published_on", "pk"]

    def __str__(self) -> str:
        name = f"{self.publisher}, {self.published_label}"
        return f"{name}: {self.title}" if self.title else name

    @property
    def is_official(self) -> bool:
        """Tell whether a government or state body published it."""
        return self.kind == SourceKind.OFFICIAL

    @property
    def published_label(self) -> str:
        """Return the publication date at its precision in the active language."""
        return self.published_label_in()

    def published_label_in(self, language: str | None = None) -> str:
        """Return the publication date at its precision, e.g. '12 Nov 2025' or 'November 2025'."""
        return timing.describe(
            self.published_precision or Precision.DAY,
            self.published_on,
            still_to_come=False,
            language=language,
        )

    def clean(self) -> None:
        """Refuse a site's front page given as an item's address."""
        super().clean()
        if self.published_on and self.published_precision:
            self.published_on = timing.period_start(self.published_on, self.published_precision)
        if self.url and self.url_is_item and is_home_page(self.url):
            raise ValidationError(
                {
                    "url": _(
                        "This is a site's front page, not an item on it: give the item's own "
                        "address, or untick “URL is the item's own address”."
                    )
                }
            )
