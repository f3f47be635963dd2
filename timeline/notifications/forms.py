"""Public forms: signing up for email about what one follows, and changing it later."""

from collections.abc import Iterable
from typing import Any, TypeVar, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _
from django_countries import countries as all_countries
from django_stubs_ext import StrOrPromise

from .. import l10n, languages, timing
from ..models import DIGESTS, LEAD_TIME_CHOICES, Actor, Event, News, Subscriber, Topic, Track
from ..models.subscribers import DEFAULT_DIGEST_TIME
from ..text import EMAIL_MAX_LENGTH, validate_email_local_part
from .services import NewsChoice

NOTHING_FOLLOWED = _(
    "Choose at least one thing to follow: a topic, a country, a person or organisation, "
    "a project or an event."
)
NO_LEAD_TIME = _("Choose at least one time to be reminded.")
BAD_DIGEST_TIME = _("Enter the time as hours and minutes, for example 08:00.")
NO_DIGEST_TIME = _("Enter the time your digest comes, for example 08:00.")
FOLLOW_FIELDS = ("topics", "countries", "actors", "tracks", "events")


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(timing.available_zones())]


def weekday_choices() -> list[tuple[int, str]]:
    """Return the days of the week, Monday first, named in the active language."""
    return [(index, l10n.weekday(index)) for index in range(7)]


def country_choices(extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Return (code, name) for the countries of published events (and *extra*), by name."""
    codes = Event.objects.published().country_codes() | {code for code in extra if code}
    return sorted(((code, all_countries.name(code) or code) for code in codes), key=lambda c: c[1])


_M = TypeVar("_M", bound=Model)


def checkboxes(queryset: QuerySet[_M], label: StrOrPromise) -> forms.ModelMultipleChoiceField[_M]:
    return forms.ModelMultipleChoiceField(
        queryset=queryset, required=False, label=label, widget=forms.CheckboxSelectMultiple
    )


class LanguageSelect(forms.Select):
    """A choice of language, each option named in its own language and marked so."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        option["attrs"]["lang"] = option["value"]
        return option


def language_field() -> forms.ChoiceField:
    """Return the choice of the language every mail to the subscriber is written in.

    Not required: a form from before the choice existed leaves it out (the view decides).
    """
    return forms.ChoiceField(
        choices=[(code, languages.NAMES[code]) for code in languages.CODES],
        required=False,
        initial=languages.DEFAULT,
        label=_("Language of the emails"),
        widget=LanguageSelect,
    )


class FollowForm(forms.Form):
    """What to follow, when to be reminded, and in which time zone times are shown."""

    topics = checkboxes(Topic.objects.in_use(), _("Topics"))
    countries = forms.MultipleChoiceField(
        choices=(), required=False, label=_("Countries"), widget=forms.CheckboxSelectMultiple
    )
    actors = checkboxes(Actor.objects.in_use(), _("People and organisations"))
    tracks = checkboxes(Track.objects.in_use(), _("Long-running projects"))
    lead_times = forms.TypedMultipleChoiceField(
        choices=LEAD_TIME_CHOICES,
        coerce=int,
        required=False,  # none at all is for those who take news instead (see clean)
        label=_("Remind me"),
        initial=[1440],
        widget=forms.CheckboxSelectMultiple,
    )
    # Not required: a form from before the choice existed leaves them out (nothing changes).
    news = forms.ChoiceField(
        choices=News.choices,
        required=False,
        initial=News.WEEKLY,
        label=_("News of new events"),
        help_text=_("When an event matching what you follow is added to the timeline."),
        widget=forms.RadioSelect,
    )
    digest_time = forms.TimeField(
        required=False,
        initial=DEFAULT_DIGEST_TIME,
        label=_("Time of the digest"),
        help_text=_("On your clock, in the time zone below."),
        # The HTML time input's own format, not a reader's: hours and minutes.
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        error_messages={"invalid": BAD_DIGEST_TIME},
    )
    digest_weekday = forms.TypedChoiceField(
        choices=weekday_choices,
        coerce=int,
        required=False,
        initial=0,
        label=_("Day of the weekly digest"),
    )
    digest_reminders = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Keep sending reminders while news comes in a digest"),
    )
    timezone = forms.ChoiceField(
        choices=zone_choices,
        initial="UTC",
        label=_("Your time zone"),
        help_text=_("Times in the emails are shown in this zone, and in the event's own."),
    )
    language = language_field()

    def __init__(self, *args: Any, extra_countries: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        countries = cast(forms.MultipleChoiceField, self.fields["countries"])
        countries.choices = country_choices(extra_countries)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        news = self.cleaned_data.get("news") or ""
        if not self.cleaned_data.get("lead_times") and news in ("", News.NEVER):
            self.add_error("lead_times", ValidationError(NO_LEAD_TIME, code="required"))
        missing_time = self.cleaned_data.get("digest_time") is None
        if news in DIGESTS and missing_time and "digest_time" not in self.errors:
            self.add_error("digest_time", ValidationError(NO_DIGEST_TIME, code="required"))
        failed = any(name in self.errors for name in (*FOLLOW_FIELDS, "event"))
        if not failed and not self.follows():
            raise ValidationError(NOTHING_FOLLOWED, code="nothing_followed")
        return cleaned

    def news_choice(self) -> NewsChoice | None:
        """Return how the subscriber hears of new events; None from a form without the choice."""
        data = self.cleaned_data
        if not data.get("news"):
            return None
        return NewsChoice(
            news=data["news"],
            digest_time=(data.get("digest_time") or DEFAULT_DIGEST_TIME).replace(
                second=0, microsecond=0
            ),
            digest_weekday=data.get("digest_weekday") or 0,
            digest_reminders=bool(data.get("digest_reminders")),
        )

    def follows(self) -> set[tuple[str, object]]:
        """Return what the form chooses to follow, as (field, value) pairs of Subscription."""
        data = self.cleaned_data
        wanted = {("topic_id", topic.pk) for topic in data.get("topics") or ()}
        wanted |= {("country", code) for code in data.get("countries") or ()}
        wanted |= {("actor_id", actor.pk) for actor in data.get("actors") or ()}
        wanted |= {("track_id", track.pk) for track in data.get("tracks") or ()}
        wanted |= {("event_id", event.pk) for event in self.followed_events()}
        return wanted

    def followed_events(self) -> list[Event]:
        return list(self.cleaned_data.get("events") or ())

    def chosen_lead_times(self) -> list[int]:
        """Return the chosen lead times, longest first, each once."""
        return sorted(set(self.cleaned_data.get("lead_times") or ()), reverse=True)

    def follow_fields(self) -> list[forms.BoundField]:
        """Return the bound checkbox groups that have something to choose from."""
        return [self[name] for name in FOLLOW_FIELDS if name in self.fields and len(self[name])]


class SubscribeForm(FollowForm):
    email = forms.EmailField(
        max_length=EMAIL_MAX_LENGTH,
        validators=[validate_email_local_part],
        label=_("Email address"),
        help_text=_("We send one message to confirm it; nothing else until you do."),
        # Our own words: Django's Kazakh catalogue has none for this message.
        error_messages={"invalid": _("Enter a valid email address.")},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    # "Follow this event": the slug of one published event.
    event = forms.SlugField(required=False, max_length=200, widget=forms.HiddenInput)

    field_order = ["email"]

    def clean_event(self) -> Event | None:
        slug = self.cleaned_data.get("event")
        if not slug:
            return None
        event = Event.objects.published().filter(slug=slug).first()
        if event is None:
            raise ValidationError(_("This event cannot be followed."), code="unknown_event")
        return event

    def followed_events(self) -> list[Event]:
        event = self.cleaned_data.get("event")
        return [event] if event else []


class PreferencesForm(FollowForm):
    """A subscriber's follows, lead times and zone, filled in with what they have now."""

    events = checkboxes(Event.objects.none(), _("Single events"))

    def __init__(self, subscriber: Subscriber, *args: Any, **kwargs: Any) -> None:
        follows = list(subscriber.follows.all())
        super().__init__(
            *args, extra_countries=[f.country.code for f in follows if f.country], **kwargs
        )
        event_ids = [follow.event_id for follow in follows if follow.event_id]
        events = cast(forms.ModelMultipleChoiceField[Event], self.fields["events"])
        events.queryset = Event.objects.filter(pk__in=event_ids)
        # What they follow stays offered (and kept on save) even if no published event has it now.
        model: Any  # Topic, Actor or Track; as their join, mypy would mix their querysets
        for name, model, attribute in (
            ("topics", Topic, "topic_id"),
            ("actors", Actor, "actor_id"),
            ("tracks", Track, "track_id"),
        ):
            followed = [getattr(f, attribute) for f in follows if getattr(f, attribute)]
            field = cast(forms.ModelMultipleChoiceField[Any], self.fields[name])
            field.queryset = model.objects.in_use() | model.objects.filter(pk__in=followed)
        self.initial.update(
            {
                "topics": [f.topic_id for f in follows if f.topic_id],
                "countries": [f.country.code for f in follows if f.country],
                "actors": [f.actor_id for f in follows if f.actor_id],
                "tracks": [f.track_id for f in follows if f.track_id],
                "events": event_ids,
                "lead_times": list(subscriber.lead_times),
                "timezone": subscriber.timezone,
                "language": subscriber.language,
                "news": subscriber.news,
                "digest_time": subscriber.digest_time,
                "digest_weekday": subscriber.digest_weekday,
                "digest_reminders": subscriber.digest_reminders,
            }
        )

    def clean(self) -> dict[str, Any] | None:
        try:
            return super().clean()
        except ValidationError:
            raise ValidationError(
                _("%(problem)s To stop all mail, use “Leave” below instead."),
                code="nothing_followed",
                params={"problem": NOTHING_FOLLOWED},
            ) from None
