"""The event admin's import pages (upload, dry run, confirm) and its CSV and .ics exports."""

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import exports, languages
from .import_forms import UploadForm, megabytes
from .imports import csv_format, reading, rows
from .imports.apply import AlreadyApplied, PlanChanged, apply_import
from .imports.plan import Change, Plan, dry_run
from .models import Event, ImportBatch

TEMPLATE_NAME = "timeline-events-template.csv"


class EventImportAdmin(admin.ModelAdmin[Event]):
    """Import events from .ics and CSV files, a dry run first; export the changelist's."""

    change_list_template = "admin/timeline/event/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("import/", wrap(self.import_view), name="timeline_event_import"),
            path(
                "import/template.csv",
                wrap(self.import_template_view),
                name="timeline_event_import_template",
            ),
            path("import/<uuid:batch_id>/", wrap(self.dry_run_view), name="timeline_event_dry_run"),
            path(
                "import/<uuid:batch_id>/confirm/",
                wrap(require_POST(self.confirm_view)),
                name="timeline_event_import_confirm",
            ),
            path(
                "export/<str:file_format>/",
                wrap(self.export_view),
                name="timeline_event_export",
            ),
        ]
        return [*own, *super().get_urls()]

    # --- who may import ---------------------------------------------------------------------
    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def _require_import(self, request: HttpRequest) -> None:
        if not self.has_import_permission(request):
            raise PermissionDenied

    def _own_batch(self, request: HttpRequest, batch_id: str) -> ImportBatch:
        # Another editor's upload is not theirs to see or apply: it does not exist for them.
        batch = ImportBatch.objects.filter(pk=batch_id, user=editor(request)).first()
        if batch is None:
            raise Http404(_("No such import."))
        return batch

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def _context(self, request: HttpRequest, title: str, **more: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "max_mb": megabytes(rows.max_bytes()),
            **more,
        }

    # --- upload --------------------------------------------------------------------------------
    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Take a file and the editor's reading options; keep it, then show its dry run."""
        self._require_import(request)
        language = translation.get_language() or ""
        if request.method == "POST":
            form = UploadForm(request.POST, request.FILES, language=language)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                data = upload.read()
                name = upload.name or ""
                try:
                    file_format = reading.file_format(data, name)
                except rows.FileRefused as refused:
                    form.add_error("file", refused.reason)
                else:
                    options = form.options()
                    batch = ImportBatch.objects.create(
                        user=editor(request),
                        filename=name,
                        format=file_format,
                        content=data,
                        language=options.language,
                        timezone=options.timezone,
                        encoding=options.encoding,
                    )
                    return redirect("admin:timeline_event_dry_run", batch.pk)
        else:
            form = UploadForm(language=language)
        context = self._context(request, _("Import events"), form=form)
        return TemplateResponse(request, "admin/timeline/event/import_upload.html", context)

    def import_template_view(self, request: HttpRequest) -> HttpResponse:
        """Send an empty CSV with the columns the importer reads."""
        self._require_import(request)
        return exports.attachment(csv_format.template_csv(), exports.CSV_TYPE, TEMPLATE_NAME)

    # --- dry run and confirm ----------------------------------------------------------------
    def dry_run_view(self, request: HttpRequest, batch_id: str) -> HttpResponse:
        """Show what importing the batch would do, row by row, and ask to confirm it."""
        self._require_import(request)
        batch = self._own_batch(request, batch_id)
        try:
            plan = dry_run(batch, request.user)
        except rows.FileRefused as refused:
            return self._refused(request, batch, refused)
        context = self._context(
            request,
            _("Dry run: %(file)s") % {"file": batch.filename},
            batch=batch,
            plan=plan,
            counts=[(change, plan.count(change)) for change in Change],
            confirm_url=reverse("admin:timeline_event_import_confirm", args=[batch.pk]),
        )
        return TemplateResponse(request, "admin/timeline/event/import_dry_run.html", context)

    def confirm_view(self, request: HttpRequest, batch_id: str) -> HttpResponse:
        """Apply the dry run the editor saw, or send them back to a new one if it changed."""
        self._require_import(request)
        batch = self._own_batch(request, batch_id)
        digest = request.POST.get("digest", "")
        dry_run_url = reverse("admin:timeline_event_dry_run", args=[batch.pk])
        try:
            plan = apply_import(batch, request.user, digest)
        except AlreadyApplied:
            # A second click, or a second tab: the first confirmation wrote it all.
            self.message_user(
                request,
                _("Nothing more was written: %(file)s was imported already.")
                % {"file": batch.filename},
                messages.WARNING,
            )
            return HttpResponseRedirect(dry_run_url)
        except rows.FileRefused as refused:
            return self._refused(request, batch, refused)
        except PlanChanged:
            self.message_user(
                request,
                _(
                    "The record or the file changed since this dry run: nothing was imported. "
                    "Check the new dry run below, then confirm again."
                ),
                messages.WARNING,
            )
            return HttpResponseRedirect(dry_run_url)
        self.message_user(request, imported_message(plan, batch.filename), messages.SUCCESS)
        return redirect("admin:timeline_event_changelist")

    def _refused(
        self, request: HttpRequest, batch: ImportBatch, refused: rows.FileRefused
    ) -> HttpResponse:
        context = self._context(
            request, _("File refused: %(file)s") % {"file": batch.filename}, batch=batch
        )
        context.update(reason=refused.reason, line=refused.line)
        return TemplateResponse(request, "admin/timeline/event/import_refused.html", context)

    # --- exports ------------------------------------------------------------------------------
    def export_view(self, request: HttpRequest, file_format: str) -> HttpResponse:
        """Send the events the changelist shows with the same filters and search."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if file_format not in ("csv", "ics"):
            raise Http404(_("No such export format."))
        try:
            events = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return redirect("admin:timeline_event_changelist")
        return self._export(events, file_format)

    def _export(self, events: QuerySet[Event], file_format: str) -> HttpResponse:
        events = events.select_related("place", "track", "part_of").prefetch_related(
            "participants", "topics", "sources"
        )
        if file_format == "csv":
            return exports.csv_download(events)
        language = languages.supported(translation.get_language()) or languages.DEFAULT
        return exports.ics_download(events, language)

    @admin.action(description=gettext_lazy("Export selected as CSV"), permissions=["view"])
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse:
        return self._export(queryset, "csv")

    @admin.action(description=gettext_lazy("Export selected as .ics"), permissions=["view"])
    def export_selected_ics(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse:
        return self._export(queryset, "ics")


def editor(request: HttpRequest) -> User:
    """Return the editor using an admin view (admin_view lets no one else in)."""
    return cast(User, request.user)


def imported_message(plan: Plan, filename: str) -> str:
    """Say how many events an import added and changed."""
    return _("Imported %(new)d new and %(changed)d changed events from %(file)s.") % {
        "new": plan.count(Change.NEW),
        "changed": plan.count(Change.CHANGED),
        "file": filename,
    }
