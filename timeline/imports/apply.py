"""Write a confirmed dry run: all of it in one transaction and one history revision, or nothing."""

from typing import TYPE_CHECKING

import reversion
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Event, ImportBatch
from ..models.record import unique_slugs
from .plan import Change, Plan, PlannedRow, dry_run
from .rows import FileRefused

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser


class PlanChanged(Exception):
    """The record or the upload changed since the dry run the editor confirmed."""


class AlreadyApplied(PlanChanged):
    """This upload was imported already."""


def revision_comment(batch: ImportBatch, user: "User") -> str:
    """Return the history comment of an import: which file, and who imported it."""
    return _("Imported from %(file)s by %(user)s") % {
        "file": batch.filename,
        "user": user.get_username(),
    }


def apply_import(batch: ImportBatch, user: "User", digest: str) -> Plan:
    """Write the dry run the editor saw (named by its *digest*), or raise and write nothing."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.applied_at is not None:
            raise AlreadyApplied(_("This file was imported already."))
        plan = dry_run(batch, user)
        if plan.digest != digest:
            raise PlanChanged(
                _("The record changed since the dry run; check the changes again before importing.")
            )
        with reversion.create_revision():
            write_plan(plan)
            reversion.set_user(user if user.is_authenticated else None)
            reversion.set_comment(revision_comment(batch, user))
        batch.applied_at = timezone.now()
        batch.applied_digest = digest
        batch.save(update_fields=["applied_at", "applied_digest"])
    return plan


def write_plan(plan: Plan) -> None:
    """Save the new and changed events, wholes before the parts the file gives them."""
    writing = [row for row in plan.rows if row.change in (Change.NEW, Change.CHANGED)]
    unnamed = [row.event for row in writing if row.event is not None and not row.event.slug]
    for event, slug in zip(
        unnamed, unique_slugs([event.slug_title() for event in unnamed]), strict=True
    ):
        event.slug = slug
    saved: dict[str, Event] = {}
    waiting = list(writing)
    while waiting:
        ready = [row for row in waiting if not row.whole_in_file or row.whole_in_file in saved]
        if not ready:
            # Parts naming each other as wholes: no order saves them.
            row = waiting[0]
            raise FileRefused(
                _("Line %(line)s: events in the file are given as parts of each other.")
                % {"line": row.line},
                line=row.line,
            )
        for row in ready:
            event = _save(row, saved)
            saved[row.key] = event
            saved[event.slug] = event
        waiting = [row for row in waiting if row not in ready]


def _save(row: PlannedRow, saved: dict[str, Event]) -> Event:
    event = row.event
    assert event is not None  # noqa: S101 - only planned writes come here
    if row.whole_in_file:
        event.part_of = saved[row.whole_in_file]
        try:
            event.clean()
        except ValidationError as error:
            raise FileRefused(
                _("Line %(line)s: %(reason)s")
                % {"line": row.line, "reason": "; ".join(error.messages)},
                line=row.line,
            ) from error
    event.save()
    for name, labels in row.links.items():
        getattr(event, name).set(labels)
    return event
