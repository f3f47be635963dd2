"""Export events as an iCalendar file that the .ics import reads back unchanged.

Unlike a feed, each VEVENT carries only what the import reads: UID, title, description,
status, dates and times (with their zone), and the event's address.
"""

from collections.abc import Iterable

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from ..feeds import ical
from ..feeds.publishing import ICAL_STATUS, calendar_times
from ..models import Event
from ..models.translations import shown


def events_ics(events: Iterable[Event], language: str) -> bytes:
    """Return a VCALENDAR of the events dated to the day or minute, texts in *language*."""
    with translation.override(language):
        entries = [export_event(event, language) for event in events if event.is_calendar_dated]
        site = settings.SITE_URL + "/"
        meta = ical.CalendarMeta(
            name=settings.SITE_NAME,
            description=_("Events exported from the timeline for editing and import."),
            url=site,
            source=site,
            zones=ical.zones_of(entries),
            languages={"NAME": language, "DESCRIPTION": language},
        )
    return ical.render_calendar(meta, (ical.render_event(entry) for entry in entries))


def export_event(event: Event, language: str) -> ical.CalendarEvent:
    """Return the calendar view of one event as the export writes it."""
    start, end = calendar_times(event)
    # Each text says its language, so the import puts a fallback back where it came from.
    title = shown(event, "title", language)
    description = shown(event, "description", language)
    return ical.CalendarEvent(
        uid=event.calendar_uid,
        sequence=event.sequence,
        # Not "Cancelled: …" as in feeds: STATUS says so, and the title is read back as is.
        summary=title.text,
        status=ICAL_STATUS[event.status],
        start=start,
        end=end,
        timezone=event.effective_timezone,
        created=event.created_at,
        last_modified=event.updated_at,
        description=description.text,
        url=settings.SITE_URL + event.get_absolute_url(),
        languages={"SUMMARY": title.language, "DESCRIPTION": description.language},
    )
