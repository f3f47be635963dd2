"""The editors' admin: the record with filters, search, actions, history and undo."""

from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_countries.filters import CountryFilter
from modeltranslation.admin import TranslationAdmin
from reversion.admin import VersionAdmin
from reversion.models import Version

from . import l10n, languages
from .import_admin import EventImportAdmin
from .models import (
    Actor,
    Agreement,
    AgreementStep,
    Event,
    Feed,
    Figure,
    Heartbeat,
    Metric,
    Notification,
    Place,
    PrivateFeed,
    Source,
    Subscriber,
    Subscription,
    Suppression,
    Topic,
    Track,
    allowed_published,
    may_publish,
)
from .models.record import Publishable
from .models.translations import (
    MISSING,
    Translated,
    TranslationState,
    needs_translation_of,
    state_field,
    text_field,
)
from .notifications import services

_Translated = TypeVar("_Translated", bound=Translated)


# --- Translations: the three languages side by side, and what each still needs -----------------
def translated_rows(*fields: str) -> tuple[tuple[str, ...], ...]:
    """Return one form row per field, its kk, ru and en columns side by side."""
    return tuple(tuple(text_field(field, code) for code in languages.CODES) for field in fields)


def translated_search(*fields: str) -> tuple[str, ...]:
    """Return search fields covering *fields* in every language."""
    return tuple(text_field(field, code) for field in fields for code in languages.CODES)


STATE_ROW = tuple(state_field(code) for code in languages.CODES)
STATE_MARKS = {MISSING: "✗", TranslationState.DRAFT: "✎", TranslationState.REVIEWED: "✓"}
STATE_LABELS = {
    MISSING: gettext_lazy("missing"),
    TranslationState.DRAFT: gettext_lazy("draft"),
    TranslationState.REVIEWED: gettext_lazy("reviewed"),
}


class NeedsTranslationFilter(admin.SimpleListFilter):
    title = gettext_lazy("needs translation into")
    parameter_name = "needs_translation"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [(code, languages.NAMES[code]) for code in languages.CODES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        language = self.value()
        if language not in languages.CODES:
            return queryset
        return queryset.filter(needs_translation_of(queryset.model.translated_fields, language))


class TranslatedAdmin(TranslationAdmin[_Translated]):
    """Edit a record's kk, ru and en texts side by side, each marked draft or reviewed."""

    class Media:
        css = {"all": ("timeline/admin-translations.css",)}

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        # No language is required of every record (Translated.clean asks for one of the three).
        if field is not None and getattr(db_field, "translated_field", None) is not None:
            field.required = False
        return field

    @admin.display(description=gettext_lazy("translations"))
    def translations(self, record: Translated) -> str:
        return format_html_join(
            " ",
            '<span class="translation-state {}" title="{}">{} {}</span>',
            (
                (state, STATE_LABELS[state], code, STATE_MARKS[state])
                for code in languages.CODES
                for state in [record.translation_state(code)]
            ),
        )


# Where revision_view and recover_view keep, for the request, the published flags from before.
PUBLISHED_BEFORE = "_timeline_published_before"


_Published = TypeVar("_Published", bound=Publishable)


class PublishGuardAdmin(VersionAdmin[_Published]):
    """Let only those with the publish permission change `published`, on every admin path."""

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return may_publish(request.user)

    # --- publishing is a permission on every path that writes an event ----------------------
    def revision_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        with transaction.atomic():
            self._hold_published(request, version_id)
            return super().revision_view(request, object_id, version_id, extra_context)

    def recover_view(
        self, request: HttpRequest, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        with transaction.atomic():
            self._hold_published(request, version_id)
            return super().recover_view(request, version_id, extra_context)

    def _hold_published(self, request: HttpRequest, version_id: str) -> None:
        # The revert rewrites every event of the revision, `published` included, before the
        # change form runs: note the flags first (locked till the end, so they stay true).
        version = Version.objects.select_related("revision").filter(pk=version_id).first()
        if version is None:
            return  # the view answers 404
        model = self.model
        object_ids = version.revision.version_set.get_for_model(model).values_list(
            "object_id", flat=True
        )
        pks = {model._meta.pk.to_python(object_id) for object_id in object_ids}
        stored = dict(
            model._default_manager.select_for_update()
            .filter(pk__in=pks)
            .values_list("pk", "published")
        )
        # A recovered event did not exist: it was not published.
        setattr(request, PUBLISHED_BEFORE, {pk: stored.get(pk, False) for pk in pks})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        held = getattr(request, PUBLISHED_BEFORE, None)
        if held:
            # Inside the revert's transaction, before the form is built: undo what it published or
            # unpublished for whoever may not, so neither the form nor the commit ever shows it.
            rows = self.model._default_manager.filter(pk__in=held)
            for pk, value in rows.values_list("pk", "published"):
                allowed = allowed_published(request.user, before=held[pk], wanted=value)
                if allowed != value:
                    rows.filter(pk=pk).update(published=allowed)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(
        self, request: HttpRequest, obj: _Published, form: forms.ModelForm[_Published], change: bool
    ) -> None:
        before = self._published_before(request, obj)
        obj.published = allowed_published(request.user, before=before, wanted=obj.published)
        super().save_model(request, obj, form, change)

    def _published_before(self, request: HttpRequest, obj: _Published) -> bool:
        held: dict[int, bool] = getattr(request, PUBLISHED_BEFORE, None) or {}
        if obj.pk in held:
            return held[obj.pk]
        if obj.pk is None:
            return False
        stored = self.model._default_manager.select_for_update().filter(pk=obj.pk)
        return bool(stored.values_list("published", flat=True).first())

    def get_readonly_fields(
        self, request: HttpRequest, obj: _Published | None = None
    ) -> list[str] | tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not self.has_publish_permission(request):
            fields += ("published",)
        return fields


SOURCE_FIELDS = (
    "kind",
    "url",
    "url_is_item",
    "archived_url",
    "title",
    "publisher",
    ("published_on", "published_precision"),
    "language",
    "quote",
)


class SourceInline(admin.TabularInline[Source, Event]):
    model = Source
    extra = 1
    fields = SOURCE_FIELDS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Event)
class EventAdmin(EventImportAdmin, TranslatedAdmin[Event], PublishGuardAdmin[Event]):
    list_display = (
        "title",
        "local_start",
        "precision",
        "kind",
        "status",
        "published",
        "translations",
    )
    list_filter = (
        NeedsTranslationFilter,
        "status",
        "kind",
        "topics",
        ("countries", CountryFilter),
        "track",
        "precision",
        "published",
    )
    list_select_related = ("place",)
    search_fields = (
        *translated_search("title", "description"),
        *(f"participants__{field}" for field in translated_search("name")),
    )
    date_hierarchy = "start_utc"
    autocomplete_fields = ("place", "participants", "topics", "track", "part_of")
    prepopulated_fields = {"slug": ("title_en",)}
    inlines = [SourceInline]
    actions = [
        "publish",
        "unpublish",
        "mark_cancelled",
        "duplicate",
        "export_selected_csv",
        "export_selected_ics",
    ]
    readonly_fields = (
        "uid",
        "sequence",
        "start_utc",
        "end_utc",
        "created_at",
        "updated_at",
        "parts",
    )
    fieldsets = (
        (None, {"fields": ("slug", "kind", "status", "published")}),
        (
            gettext_lazy("Text (Kazakh, Russian, English)"),
            {"fields": (*translated_rows("title", "summary", "description"), STATE_ROW)},
        ),
        (
            gettext_lazy("When"),
            {
                "fields": (
                    "precision",
                    ("start_date", "start_time"),
                    ("end_date", "end_time"),
                    "timezone",
                    ("start_utc", "end_utc"),
                )
            },
        ),
        (
            gettext_lazy("Where and who"),
            {"fields": ("part_of", "parts", "place", "countries", "participants", "topics")},
        ),
        (gettext_lazy("Track"), {"fields": ("track", ("baseline_date", "baseline_precision"))}),
        (gettext_lazy("Record"), {"fields": ("uid", "sequence", "created_at", "updated_at")}),
    )

    @admin.display(description=gettext_lazy("parts"))
    def parts(self, event: Event) -> str:
        """List the events that are part of this one, in order, each linked to its page."""
        parts = event.parts.order_by("start_utc", "pk") if event.pk else Event.objects.none()
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({})</li>',
            (
                (reverse("admin:timeline_event_change", args=[part.pk]), part.title, part.when)
                for part in parts
            ),
        )
        return format_html('<ul class="parts">{}</ul>', items) if items else _("None")

    @admin.display(description=gettext_lazy("local start"), ordering="start_utc")
    def local_start(self, event: Event) -> str:
        return f"{event.when} ({event.effective_timezone})"

    def _set_published(self, request: HttpRequest, queryset: QuerySet[Event], value: bool) -> None:
        events = [event for event in queryset if event.published != value]
        for event in events:
            event.published = value
            event.save(update_fields=["published", "updated_at"])
        count = len(events)
        if value:
            done = ngettext("Published %(count)d event.", "Published %(count)d events.", count)
        else:
            done = ngettext("Unpublished %(count)d event.", "Unpublished %(count)d events.", count)
        self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Publish selected events"), permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        self._set_published(request, queryset, True)

    @admin.action(description=gettext_lazy("Unpublish selected events"), permissions=["publish"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        self._set_published(request, queryset, False)

    @admin.action(
        description=gettext_lazy("Mark selected events cancelled"), permissions=["change"]
    )
    def mark_cancelled(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        events = [event for event in queryset if event.status != Event.Status.CANCELLED]
        for event in events:
            event.status = Event.Status.CANCELLED
            event.save()
        count = len(events)
        done = ngettext("Cancelled %(count)d event.", "Cancelled %(count)d events.", count)
        self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy("Duplicate selected events as drafts"), permissions=["add"]
    )
    def duplicate(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        copies = [event.duplicate() for event in queryset]
        count = len(copies)
        done = ngettext("Created %(count)d draft copy.", "Created %(count)d draft copies.", count)
        self.message_user(request, done % {"count": count}, messages.SUCCESS)


@admin.register(Place)
class PlaceAdmin(TranslatedAdmin[Place], VersionAdmin[Place]):
    list_display = ("name", "country", "timezone", "translations")
    list_filter = (NeedsTranslationFilter, "country")
    search_fields = translated_search("name")
    prepopulated_fields = {"slug": ("name_en",)}
    fieldsets = (
        (None, {"fields": (*translated_rows("name"), STATE_ROW)}),
        (None, {"fields": ("slug", "country", "timezone", ("latitude", "longitude"))}),
    )


@admin.register(Actor)
class ActorAdmin(TranslatedAdmin[Actor], VersionAdmin[Actor]):
    list_display = ("name", "kind", "role", "country", "translations")
    list_filter = (NeedsTranslationFilter, "kind", "country")
    search_fields = translated_search("name", "role")
    prepopulated_fields = {"slug": ("name_en",)}
    fieldsets = (
        (None, {"fields": (*translated_rows("name", "role"), STATE_ROW)}),
        (None, {"fields": ("slug", "kind", "country")}),
    )


@admin.register(Topic)
class TopicAdmin(TranslatedAdmin[Topic], VersionAdmin[Topic]):
    list_display = ("name", "slug", "translations")
    list_filter = (NeedsTranslationFilter,)
    search_fields = translated_search("name")
    prepopulated_fields = {"slug": ("name_en",)}
    fieldsets = (
        (None, {"fields": (*translated_rows("name", "description"), STATE_ROW)}),
        (None, {"fields": ("slug",)}),
    )


@admin.register(Track)
class TrackAdmin(TranslatedAdmin[Track], VersionAdmin[Track]):
    list_display = ("name", "slug", "translations")
    list_filter = (NeedsTranslationFilter,)
    search_fields = translated_search("name")
    prepopulated_fields = {"slug": ("name_en",)}
    fieldsets = (
        (None, {"fields": (*translated_rows("name", "description"), STATE_ROW)}),
        (None, {"fields": ("slug", "countries")}),
    )


@admin.register(Source)
class SourceAdmin(VersionAdmin[Source]):
    """Sources on their own: those of figures and agreements, and every event's."""

    list_display = ("publisher", "title", "kind", "published_on", "language", "url_is_item")
    list_filter = ("kind", "language", "url_is_item", "publisher")
    search_fields = ("title", "publisher", "url", "quote")
    autocomplete_fields = ("event",)
    fields = ("event", *SOURCE_FIELDS)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Metric)
class MetricAdmin(TranslatedAdmin[Metric], VersionAdmin[Metric]):
    list_display = ("name", "nature", "unit", "translations")
    list_filter = (NeedsTranslationFilter, "nature", "unit")
    search_fields = translated_search("name")
    prepopulated_fields = {"slug": ("name_en",)}
    fieldsets = (
        (None, {"fields": (*translated_rows("name", "description"), STATE_ROW)}),
        (None, {"fields": ("slug", "nature", "unit", "countries", "topic")}),
    )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The public CSV answers only for a metric with published figures.
        metric = self.get_object(request, object_id)
        published = metric is not None and metric.figures.published().exists()
        context = {"has_published_figures": published, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)


@admin.register(Figure)
class FigureAdmin(PublishGuardAdmin[Figure]):
    list_display = (
        "metric",
        "qualifier",
        "value",
        "currency",
        "period_start",
        "period_end",
        "kind",
        "stated_by",
        "source",
        "published",
    )
    list_filter = ("metric", "kind", "source__kind", "published")
    list_select_related = ("metric", "stated_by", "source")
    search_fields = ("quote", "source__title", "source__publisher")
    autocomplete_fields = ("metric", "stated_by", "source", "stated_at")
    fieldsets = (
        (None, {"fields": ("metric", "kind", "published")}),
        (
            gettext_lazy("Value"),
            {"fields": (("qualifier", "value", "currency"),)},
        ),
        (
            gettext_lazy("Period"),
            {"fields": (("period_start", "period_end", "period_precision"),)},
        ),
        (
            gettext_lazy("Attribution"),
            {"fields": ("stated_by", "stated_at", "source", "quote")},
        ),
    )


class AgreementStepInline(admin.TabularInline[AgreementStep, Agreement]):
    model = AgreementStep
    extra = 1
    fields = ("status", "party", "date", "precision", "source", "note")
    autocomplete_fields = ("source",)


@admin.register(Agreement)
class AgreementAdmin(TranslatedAdmin[Agreement], PublishGuardAdmin[Agreement]):
    list_display = ("title", "kind", "signed_at", "published", "translations")
    list_filter = (NeedsTranslationFilter, "kind", "published")
    search_fields = translated_search("title")
    prepopulated_fields = {"slug": ("title_en",)}
    autocomplete_fields = ("organisations", "signers", "signed_at")
    inlines = [AgreementStepInline]
    fieldsets = (
        (None, {"fields": ("slug", "kind", "published")}),
        (
            gettext_lazy("Text (Kazakh, Russian, English)"),
            {"fields": (*translated_rows("title", "summary"), STATE_ROW)},
        ),
        (
            gettext_lazy("Parties"),
            {"fields": ("countries", "organisations", "signers", "signed_at")},
        ),
    )


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin[Heartbeat]):
    list_display = ("name", "beat_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Heartbeat | None = None) -> bool:
        return False


@admin.register(PrivateFeed)
class PrivateFeedAdmin(admin.ModelAdmin[PrivateFeed]):
    list_display = ("name", "language", "is_active", "created_at", "token_issued_at")
    list_filter = ("is_active", "language", ("subscriber", admin.EmptyFieldListFilter))
    search_fields = ("name",)
    filter_horizontal = ("topics", "tracks", "actors")
    # A subscriber's calendar is made on their preferences page, never given to another.
    readonly_fields = ("token_issued_at", "subscriber")
    actions = ["rotate_token", "revoke"]

    def _announce(self, request: HttpRequest, feed: PrivateFeed, token: str) -> None:
        url = request.build_absolute_uri(reverse("timeline:feed-private", args=[token]))
        self.message_user(
            request,
            format_html(
                _("Secret link for “{}” (shown once; only its hash is kept): <code>{}</code>"),
                feed.name,
                url,
            ),
            messages.WARNING,
        )

    def save_model(
        self,
        request: HttpRequest,
        obj: PrivateFeed,
        form: forms.ModelForm[PrivateFeed],
        change: bool,
    ) -> None:
        token = None if change else obj.issue_token()
        super().save_model(request, obj, form, change)
        if token:
            self._announce(request, obj, token)

    @admin.action(description=gettext_lazy("Issue a new secret link (the old one stops working)"))
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[PrivateFeed]) -> None:
        for feed in queryset:
            self._announce(request, feed, feed.rotate())

    @admin.action(description=gettext_lazy("Revoke: the secret link stops working"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[PrivateFeed]) -> None:
        for feed in queryset:
            feed.revoke()
        count = queryset.count()
        done = ngettext("Revoked %(count)d feed.", "Revoked %(count)d feeds.", count)
        self.message_user(request, done % {"count": count}, messages.SUCCESS)


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin[Feed]):
    list_display = ("key", "event_count", "etag", "last_modified", "published_at")
    search_fields = ("key",)
    fields = ("key", "event_count", "etag", "last_modified", "published_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Feed | None = None) -> bool:
        return False


# --- Email subscribers and their outbox ---------------------------------------------------------
class SubscriptionInline(admin.TabularInline[Subscription, Subscriber]):
    model = Subscription
    extra = 0
    fields = ("topic", "country", "actor", "track", "event")
    autocomplete_fields = ("topic", "actor", "track", "event")
    verbose_name = gettext_lazy("follow")
    verbose_name_plural = gettext_lazy("follows (each row: exactly one thing)")


# Set only by bounces and complaints (notifications.services); lifted by the action below.
SUPPRESSION_FIELDS = (
    "suppressed_at",
    "suppression_reason",
    "last_bounce_at",
    "bounce_status",
    "bounce_diagnostic",
    "soft_bounces",
    "soft_bounces_since",
    "suppression_lifted_at",
)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin[Subscriber]):
    list_display = (
        "email",
        "confirmed_at",
        "paused",
        "unsubscribed_at",
        "suppression",
        "language",
        "timezone",
    )
    list_filter = (
        "paused",
        "language",
        "news",
        ("confirmed_at", admin.EmptyFieldListFilter),
        ("unsubscribed_at", admin.EmptyFieldListFilter),
        "suppression_reason",
    )
    search_fields = ("email",)
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", *SUPPRESSION_FIELDS)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "email",
                    "language",
                    "timezone",
                    "lead_times",
                    "news",
                    "digest_time",
                    "digest_weekday",
                    "digest_reminders",
                    "confirmed_at",
                    "paused",
                    "unsubscribed_at",
                    "created_at",
                )
            },
        ),
        (gettext_lazy("Bounces and complaints"), {"fields": SUPPRESSION_FIELDS}),
    )
    inlines = [SubscriptionInline]
    actions = ["pause", "resume", "revoke_links", "lift_bounce_suppression"]

    @admin.display(description=gettext_lazy("suppressed"), ordering="suppressed_at")
    def suppression(self, subscriber: Subscriber) -> str:
        """Say why and since when no mail goes to the address ("" if it does)."""
        if not subscriber.suppressed_at:
            return ""
        return _("%(reason)s, %(moment)s") % {
            "reason": subscriber.get_suppression_reason_display(),
            "moment": f"{l10n.moment(subscriber.suppressed_at, 'UTC')} UTC",
        }

    def save_related(
        self,
        request: HttpRequest,
        form: forms.ModelForm[Subscriber],
        formsets: Any,
        change: bool,
    ) -> None:
        super().save_related(request, form, formsets, change)
        services.queue_sync(subscriber_id=form.instance.pk)

    @admin.action(
        description=gettext_lazy("Pause mail to the selected subscribers"), permissions=["change"]
    )
    def pause(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        paused = services.pause(subscriber_ids=queryset.values_list("pk", flat=True))
        done = ngettext("Paused %(count)d subscriber.", "Paused %(count)d subscribers.", paused)
        self.message_user(request, done % {"count": paused}, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy("Resume mail to the selected subscribers"), permissions=["change"]
    )
    def resume(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        resumed = services.resume(subscriber_ids=queryset.values_list("pk", flat=True))
        done = ngettext("Resumed %(count)d subscriber.", "Resumed %(count)d subscribers.", resumed)
        self.message_user(request, done % {"count": resumed}, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy(
            "Revoke the links in every email sent to the selected subscribers"
        ),
        permissions=["change"],
    )
    def revoke_links(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        revoked = services.revoke_links(subscriber_ids=queryset.values_list("pk", flat=True))
        done = ngettext(
            "Revoked the links of %(count)d subscriber.",
            "Revoked the links of %(count)d subscribers.",
            revoked,
        )
        self.message_user(request, done % {"count": revoked}, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy(
            "Lift the bounce suppression of the selected subscribers (never a complaint's)"
        ),
        permissions=["change"],
    )
    def lift_bounce_suppression(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        lifted = services.lift_bounce_suppression(subscriber_ids=ids)
        done = ngettext(
            "Mail goes again to %(count)d subscriber.",
            "Mail goes again to %(count)d subscribers.",
            lifted,
        )
        self.message_user(request, done % {"count": lifted}, messages.SUCCESS)
        complained = queryset.filter(suppression_reason=Suppression.COMPLAINT).count()
        if complained:
            kept = ngettext(
                "%(count)d subscriber reported our mail as spam: only they can lift that, by "
                "signing up again and confirming.",
                "%(count)d subscribers reported our mail as spam: only they can lift that, by "
                "signing up again and confirming.",
                complained,
            )
            self.message_user(request, kept % {"count": complained}, messages.WARNING)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = (
        "subscriber",
        "event",
        "kind",
        "state",
        "due_at",
        "attempts",
        "sent_at",
        "bounce",
        "short_error",
    )
    list_filter = ("state", "kind", "bounce")
    list_select_related = ("subscriber", "event")
    search_fields = ("subscriber__email", "event__title")
    date_hierarchy = "due_at"
    actions = ["retry_failed"]
    readonly_fields = (
        "subscriber",
        "event",
        "kind",
        "key",
        "lead_minutes",
        "due_at",
        "state",
        "attempts",
        "uncertain_attempts",
        "last_error",
        "claimed_until",
        "sent_at",
        "trace_token",
        "bounce",
        "bounced_at",
        "payload",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description=gettext_lazy("last error"))
    def short_error(self, notification: Notification) -> str:
        return Truncator(notification.last_error).chars(60)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        # The outbox is the dispatcher's: rows are only looked at, or sent again by the action.
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(
        description=gettext_lazy("Retry failed: send the selected failed rows again now"),
        permissions=["change"],
    )
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = queryset.filter(state=Notification.State.FAILED).update(
            state=Notification.State.PENDING, due_at=timezone.now(), claimed_until=None
        )
        done = ngettext(
            "Queued %(count)d failed row again.", "Queued %(count)d failed rows again.", count
        )
        self.message_user(request, done % {"count": count}, messages.SUCCESS)
