"""The dry run: match what a file gives to the record and say, field by field, what would change.

Matching (the key): an event the file gives with a UID is the event whose calendar UID
(`Event.calendar_uid`) it is; one without a UID (a CSV row) is the event with its slug. A key
nobody has yet makes a new event, which keeps the file's UID as its calendar UID. Only the
fields the file gives are compared and written: a column or property it lacks is left alone.
"""

import copy
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from .. import languages
from ..feeds.publishing import ICAL_STATUS
from ..models import Actor, Event, ImportBatch, Place, Topic, Track, allowed_published
from .csv_format import COLUMNS
from .reading import read_upload
from .rows import TEXT_FIELDS, Incoming, Reading, ReadOptions, Refused

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser


class Change(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(frozen=True)
class Difference:
    """One field that would change: its name, its label for editors, old and new as shown."""

    field: str
    label: str
    old: str
    new: str


@dataclass
class PlannedRow:
    """What the import would do with one row of the file."""

    line: int
    change: Change
    key: str
    title: str = ""
    differences: list[Difference] = field(default_factory=list)
    reason: str = ""
    value: str = ""
    notes: list[str] = field(default_factory=list)
    # The event as it would be saved (not saved), with its links; None for refused rows.
    event: Event | None = None
    links: dict[str, list[Any]] = field(default_factory=dict)
    # The key of a whole given in the same file, linked once that whole is saved.
    whole_in_file: str = ""


@dataclass
class Plan:
    """The whole dry run: a row per row of the file, and a digest of what it would write."""

    format: str
    rows: list[PlannedRow]
    digest: str = ""

    def count(self, change: Change) -> int:
        """Return how many rows would have this change."""
        return sum(1 for row in self.rows if row.change == change)

    @property
    def writes(self) -> bool:
        """Tell whether confirming would write anything."""
        return any(row.change in (Change.NEW, Change.CHANGED) for row in self.rows)


# The fields that name other records: by slug, found with one query per kind.
REFERENCES: Mapping[str, type[Place] | type[Track]] = {"place": Place, "track": Track}
MANY: Mapping[str, type[Topic] | type[Actor]] = {"topics": Topic, "participants": Actor}


def options_of(batch: ImportBatch) -> ReadOptions:
    """Return the reading options the editor chose for this upload."""
    return ReadOptions(language=batch.language, timezone=batch.timezone, encoding=batch.encoding)


def dry_run(batch: ImportBatch, user: "User") -> Plan:
    """Read an uploaded file and plan its import, writing nothing."""
    reading = read_upload(bytes(batch.content), batch.filename, options_of(batch))
    return plan_import(reading, user)


def canonical_uid(uid: str) -> str | None:
    """Return *uid* as a UUID in this site's own spelling, or None if it is not one."""
    try:
        spelled = str(uuid.UUID(uid))
    except ValueError:
        return None
    return spelled if spelled == uid.lower() else None


def plan_import(reading: Reading, user: "User") -> Plan:
    """Match each row of *reading* to the record and work out what confirming would write."""
    incoming = reading.incoming
    matcher = _Matcher(incoming)
    planned: list[PlannedRow] = []
    seen: dict[str, int] = {}
    for row in reading.rows:
        if isinstance(row, Refused):
            planned.append(_refused(row.line, "", row.reason, row.value))
            continue
        key = row.uid or str(row.values.get("slug") or "")
        if not key:
            planned.append(
                _refused(row.line, "", _("The row gives neither a UID nor a slug to match it by."))
            )
            continue
        if key in seen:
            reason = _("The same event was given on line %(line)s.") % {"line": seen[key]}
            planned.append(_refused(row.line, key, reason, key))
            continue
        seen[key] = row.line
        done = _plan_row(row, key, matcher, reading.format, user)
        if done.event is not None and done.event.pk is not None:
            # The same recorded event may be named once by its UID and once by its slug.
            first = seen.setdefault(f"\x00{done.event.pk}", row.line)
            if first != row.line:
                reason = _("The same event was given on line %(line)s.") % {"line": first}
                done = _refused(row.line, key, reason, key)
        planned.append(done)
    _refuse_taken_slugs(planned, matcher)
    plan = Plan(format=reading.format, rows=planned)
    plan.digest = _digest(plan, matcher.existing_events())
    return plan


def _refused(line: int, key: str, reason: str, value: str = "") -> PlannedRow:
    return PlannedRow(line=line, change=Change.REFUSED, key=key, reason=reason, value=value)


class _Matcher:
    """The events and labels a file names, each read from the database once."""

    def __init__(self, rows: Sequence[Incoming]) -> None:
        uids = {row.uid for row in rows if row.uid}
        own = {canonical for uid in uids if (canonical := canonical_uid(uid))}
        slugs = {str(row.values["slug"]) for row in rows if row.values.get("slug")}
        wholes = {str(row.values["part_of"]) for row in rows if row.values.get("part_of")}
        whole_uuids = {canonical for key in wholes if (canonical := canonical_uid(key))}
        # Links are read only when the file gives them: they are compared only then.
        given = [name for name in MANY if any(name in row.values for row in rows)]
        events = (
            Event.objects.filter(
                Q(ical_uid__in=uids | wholes)
                | Q(uid__in=own | whole_uuids)
                | Q(slug__in=slugs | wholes)
            )
            .select_related("place", "track", "part_of")
            .prefetch_related(*given)
        )
        self.by_uid: dict[str, Event] = {}
        self.by_slug: dict[str, Event] = {}
        for event in events:
            self.by_uid[event.calendar_uid] = event
            self.by_slug[event.slug] = event
        self.in_file = {row.uid for row in rows if row.uid} | slugs
        self.labels: dict[str, dict[str, Any]] = {}
        for name, model in {**REFERENCES, **MANY}.items():
            wanted: set[str] = set()
            for row in rows:
                value = row.values.get(name)
                if isinstance(value, str) and value:
                    wanted.add(value)
                elif isinstance(value, (list, tuple)):
                    wanted.update(str(item) for item in value)
            found = model._default_manager.filter(slug__in=wanted) if wanted else []
            self.labels[name] = {label.slug: label for label in found}

    def find(self, row: Incoming) -> Event | None:
        """Return the event this row is, by UID if it gives one, else by slug."""
        if row.uid:
            return self.by_uid.get(row.uid)
        return self.by_slug.get(str(row.values.get("slug") or ""))

    def whole(self, key: str) -> Event | None:
        """Return the recorded event a part names as its whole, by UID or slug."""
        return self.by_uid.get(key) or self.by_slug.get(key)

    def existing_events(self) -> list[Event]:
        """Return every recorded event the file names."""
        return list({event.pk: event for event in self.by_uid.values()}.values())


def _plan_row(row: Incoming, key: str, matcher: _Matcher, format: str, user: "User") -> PlannedRow:
    existing = matcher.find(row)
    notes = list(row.notes)
    if existing is not None:
        event = copy.copy(existing)
    else:
        event = Event(published=False)
        if row.uid:
            own = canonical_uid(row.uid)
            if own:
                event.uid = uuid.UUID(own)
            else:
                event.ical_uid = row.uid
    values = dict(row.values)
    if existing is not None:
        _keep_equivalents(values, existing, format)
    links: dict[str, list[Any]] = {}
    whole_in_file = ""
    for name, wanted in values.items():
        if name in REFERENCES:
            if wanted:
                label = matcher.labels[name].get(str(wanted))
                if label is None:
                    return _unknown(row, key, name, str(wanted))
                setattr(event, name, label)
            else:
                setattr(event, name, None)
        elif name in MANY:
            found = []
            for slug in wanted or ():
                label = matcher.labels[name].get(str(slug))
                if label is None:
                    return _unknown(row, key, name, str(slug))
                found.append(label)
            links[name] = found
        elif name == "part_of":
            if not wanted:
                event.part_of = None
            elif (whole := matcher.whole(str(wanted))) is not None:
                event.part_of = whole
            elif str(wanted) in matcher.in_file:
                event.part_of = None
                whole_in_file = str(wanted)
            else:
                return _unknown(row, key, name, str(wanted))
        elif name == "countries":
            event.countries = list(wanted or ())
        elif name == "published":
            before = existing.published if existing is not None else False
            allowed = allowed_published(user, before=before, wanted=bool(wanted))  # type: ignore[arg-type]
            if allowed != bool(wanted):
                notes.append(
                    _("You may not publish or unpublish events: it stays published.")
                    if allowed
                    else _("You may not publish or unpublish events: it stays a draft.")
                )
            event.published = allowed
        elif name == "slug":
            if wanted:
                event.slug = str(wanted)
        else:
            setattr(event, name, wanted)
    try:
        # Slugs are checked against each other at once (_refuse_taken_slugs), and a new
        # event without one gets it on saving.
        # References were found above: validating them again would cost a query each.
        event.full_clean(
            exclude=["place", "track", "part_of", *([] if event.slug else ["slug"])],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as error:
        return _invalid(row, key, error)
    title = next(
        (event.text_in("title", code) for code in languages.CODES if event.text_in("title", code)),
        "",
    )
    planned = PlannedRow(
        line=row.line,
        change=Change.NEW if existing is None else Change.UNCHANGED,
        key=key,
        title=title,
        notes=notes,
        event=event,
        links=links,
        whole_in_file=whole_in_file,
    )
    planned.differences = _differences(existing, event, values, links, whole_in_file)
    if existing is not None and planned.differences:
        planned.change = Change.CHANGED
    return planned


def _keep_equivalents(values: dict[str, Any], existing: Event, format: str) -> None:
    """Drop values that say what the event already says in another way.

    A zone equal to the one the event takes from its place leaves it taking it from the place;
    iCalendar's three statuses leave a status they stand for as it is (a postponed event is
    TENTATIVE in calendars, a completed one CONFIRMED).
    """
    zone = values.get("timezone")
    if zone and not existing.timezone and zone == existing.effective_timezone:
        del values["timezone"]
    status = values.get("status")
    if format == "ics" and status and ICAL_STATUS.get(status) == ICAL_STATUS[existing.status]:
        del values["status"]


def _unknown(row: Incoming, key: str, name: str, value: str) -> PlannedRow:
    what = {
        "place": _("No place has the slug “%(value)s”; add the place first."),
        "track": _("No track has the slug “%(value)s”; add the track first."),
        "topics": _("No topic has the slug “%(value)s”; add the topic first."),
        "participants": _("No person or organisation has the slug “%(value)s”; add them first."),
        "part_of": _("No event, here or in the file, has the UID or slug “%(value)s”."),
    }[name]
    return _refused(row.line, key, what % {"value": value}, value)


def _invalid(row: Incoming, key: str, error: ValidationError) -> PlannedRow:
    messages = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    names = [name for name in messages if name and name != "__all__"]
    field_name = names[0] if names else ""
    reason = "; ".join(
        f"{_label(name)}: {message}" if name and name != "__all__" else message
        for name, errors in messages.items()
        for message in errors
    )
    value = row.values.get(field_name, "") if field_name else ""
    return _refused(row.line, key, reason, _shown(value))


def _label(name: str) -> str:
    """Return the editor's name of a field, with its language for a translated one."""
    base, _sep, code = name.rpartition("_")
    if base in TEXT_FIELDS and code in languages.CODES:
        return f"{_verbose_name(base)} [{code}]"
    return _verbose_name(name)


def _verbose_name(name: str) -> str:
    try:
        found = Event._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(found, "verbose_name", name))


def _shown(value: Any) -> str:
    """Return a value as the dry run shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(sorted(str(item) for item in value))
    return str(value)


def _stored(event: Event | None, name: str) -> Any:
    """Return what the event holds for one of the import's fields, as the file would give it."""
    if event is None:
        return None
    if name in REFERENCES:
        label = getattr(event, name)
        return label.slug if label is not None else ""
    if name == "part_of":
        whole = event.part_of if event.part_of_id else None
        return whole.slug if whole is not None else ""
    if name == "countries":
        return tuple(sorted(country.code for country in event.countries))
    return getattr(event, name)


def _differences(
    existing: Event | None,
    event: Event,
    values: Mapping[str, Any],
    links: Mapping[str, list[Any]],
    whole_in_file: str,
) -> list[Difference]:
    differences = []
    for name in _ordered(values):
        if name in MANY:
            old = (
                tuple(sorted(label.slug for label in getattr(existing, name).all()))
                if existing is not None
                else ()
            )
            new: Any = tuple(sorted(label.slug for label in links[name]))
        elif name == "part_of" and whole_in_file:
            old, new = _stored(existing, name), whole_in_file
        else:
            old, new = _stored(existing, name), _stored(event, name)
        if existing is None and name == "slug" and not new:
            continue
        if _shown(old) != _shown(new) or (existing is None and _shown(new)):
            differences.append(Difference(name, _label(name), _shown(old), _shown(new)))
    return differences


def _ordered(values: Iterable[str]) -> list[str]:
    """Return field names in the order of the CSV format's columns."""
    order = {name: index for index, name in enumerate(COLUMNS)}
    return sorted(values, key=lambda name: order.get(name, len(order)))


def _refuse_taken_slugs(planned: list[PlannedRow], matcher: _Matcher) -> None:
    """Refuse rows whose slug another event has, in the record or earlier in the file."""
    wanted = {
        row.event.slug: row
        for row in planned
        if row.event is not None and row.event.slug and row.change != Change.REFUSED
    }
    taken = dict(Event.objects.filter(slug__in=list(wanted)).values_list("slug", "pk"))
    claimed: dict[str, int] = {}
    for row in planned:
        event = row.event
        if event is None or not event.slug or row.change == Change.REFUSED:
            continue
        owner = taken.get(event.slug)
        if (owner is not None and owner != event.pk) or event.slug in claimed:
            row.change = Change.REFUSED
            row.reason = _("Another event already has the slug “%(slug)s”.") % {"slug": event.slug}
            row.value = event.slug
            row.event = None
        else:
            claimed[event.slug] = row.line


def _digest(plan: Plan, existing: Iterable[Event]) -> str:
    """Return a digest of what the plan would write and of the records it was planned against."""
    digest = hashlib.sha256(plan.format.encode())
    for row in plan.rows:
        digest.update(f"\x1e{row.line}\x1f{row.change}\x1f{row.key}\x1f{row.reason}".encode())
        for difference in row.differences:
            digest.update(f"\x1f{difference.field}={difference.old}>{difference.new}".encode())
    for event in sorted(existing, key=lambda event: event.pk):
        digest.update(f"\x1e{event.pk}:{event.revision}".encode())
    return digest.hexdigest()
