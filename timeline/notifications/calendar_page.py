"""The personal calendar's part of the preferences page: its form, its buttons, what it shows.

The page (views.preferences) hands a POST naming one of ACTIONS to `change`, and renders the
template include "timeline/_personal_calendar.html" with `page_context`.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..feeds import calendar_links
from ..models import PrivateFeed, Subscriber
from . import services

# The buttons of the page's calendar forms, by the name they post.
START, ALARMS, ROTATE, STOP = "calendar_on", "calendar_alarms", "calendar_rotate", "calendar_off"
ACTIONS = (START, ALARMS, ROTATE, STOP)


class CalendarForm(forms.Form):
    """Whether the calendar rings alarms at the subscriber's reminder times."""

    alarms = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Alarms at my reminder times"),
        help_text=_(
            "Each event you are reminded of rings in your calendar at the times chosen above. "
            "Some calendar apps, Google Calendar among them, ignore alarms in a subscribed "
            "calendar."
        ),
    )


def requested(request: HttpRequest) -> str | None:
    """Return the calendar button a POST was sent with, if any."""
    return next((action for action in ACTIONS if action in request.POST), None)


def change(request: HttpRequest, subscriber: Subscriber, action: str) -> str | None:
    """Do what the button asks; return the calendar's new secret token (to show once), if any.

    Raise services.LinkRevoked as every change through the page does.
    """
    form = CalendarForm(request.POST)
    alarms = form.is_valid() and bool(form.cleaned_data["alarms"])
    if action == START:
        try:
            token = services.start_calendar(subscriber=subscriber, alarms=alarms)
        except services.NotSubscribed:
            return None
        if token is None:
            messages.info(request, gettext("Your calendar is already on."))
        return token
    if action == ROTATE:
        return services.rotate_calendar(subscriber=subscriber)
    if action == ALARMS and services.set_calendar_alarms(subscriber=subscriber, alarms=alarms):
        messages.success(request, gettext("Your calendar’s alarms are saved."))
    elif action == STOP and services.stop_calendar(subscriber=subscriber):
        messages.success(request, gettext("Your calendar is off: its link no longer works."))
    return None


def page_context(subscriber: Subscriber, token: str | None = None) -> dict[str, Any]:
    """Return what the page's calendar part shows; the secret link only with a *token* just
    made (it is never kept, so this is the one time it can be shown)."""
    calendar = PrivateFeed.objects.filter(subscriber=subscriber, is_active=True).first()
    context: dict[str, Any] = {
        "calendar": calendar,
        "calendar_form": CalendarForm(initial={"alarms": calendar.alarms} if calendar else None),
        "calendar_possible": bool(subscriber.confirmed_at and not subscriber.unsubscribed_at),
    }
    if token:
        url = settings.SITE_URL + reverse("timeline:feed-private", args=[token])
        title = f"{settings.SITE_NAME}: {gettext('What you follow')}"
        context["calendar_links"] = calendar_links.feed_links(url, title)
    return context
