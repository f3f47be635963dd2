"""Links that open an event in Google Calendar or Outlook.com, ready to save, and those that add
a whole feed to a calendar app."""

import datetime as dt
from urllib.parse import urlencode

from .. import timing
from ..models import Event


def _dates(event: Event) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime, bool]:
    if event.precision == timing.MINUTE:
        return event.start_utc, event.end_utc or event.start_utc + dt.timedelta(hours=1), False
    last = event.end_date or event.start_date
    return event.start_date, last + dt.timedelta(days=1), True  # all-day ends are exclusive


def google(event: Event, page_url: str) -> str:
    """Return a Google Calendar "add event" link."""
    start, end, all_day = _dates(event)
    stamp = "%Y%m%d" if all_day else "%Y%m%dT%H%M%SZ"
    return "https://calendar.google.com/calendar/render?" + urlencode(
        {
            "action": "TEMPLATE",
            "text": event.title,
            "dates": f"{start:{stamp}}/{end:{stamp}}",
            "details": f"{event.summary}\n\n{page_url}".strip(),
            "location": str(event.place) if event.place_id else "",
            "ctz": event.zone,
        }
    )


def outlook(event: Event, page_url: str) -> str:
    """Return an Outlook.com "new event" link."""
    start, end, all_day = _dates(event)
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": event.title,
            "startdt": start.isoformat(),
            "enddt": end.isoformat(),
            "allday": "true" if all_day else "false",
            "body": f"{event.summary}\n\n{page_url}".strip(),
            "location": str(event.place) if event.place_id else "",
        }
    )


def feed_links(https_url: str, title: str) -> dict[str, str]:
    """Return the ways to add a feed to a calendar: its address (url), webcal://, and Google
    Calendar's and Outlook.com's "add by address" links."""
    webcal = "webcal://" + https_url.split("://", 1)[1]
    return {
        "url": https_url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?" + urlencode({"cid": webcal}),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?"
        + urlencode({"url": webcal, "name": title}),
    }
