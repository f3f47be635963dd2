"""Email subscriptions: sign up (double opt-in), confirm, change preferences, unsubscribe.

Every page reached by a secret link answers the same neutral 404 for a forged, expired or
revoked token, and the sign-up answers the same way whether or not the address is known.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import languages
from ..models import Event, Subscriber
from ..security import ratelimit
from ..security.client_ip import client_ip
from ..security.headers import csrf_protect_secret_link
from . import calendar_page, links, services
from .forms import PreferencesForm, SubscribeForm


def _invalid_link(request: HttpRequest) -> HttpResponse:
    """Answer a bad link without saying why (forged, expired and revoked look the same)."""
    return render(request, "timeline/subscription_invalid.html", status=404)


class _BadLink(Exception):
    """The secret link opens nothing: unknown, expired or revoked."""


def _holder(token: str, salt: str, max_age: int | None = None) -> Subscriber:
    """Return the subscriber a secret link belongs to, or raise _BadLink."""
    subscriber = links.subscriber_from(token, salt, max_age=max_age)
    if subscriber is None:
        raise _BadLink
    return subscriber


def _secret_link_page(
    view: Callable[[HttpRequest, str], HttpResponse],
) -> Callable[[HttpRequest, str], HttpResponse]:
    """Serve a page reached by a secret link: never cached, GET, HEAD or POST; a bad link, or
    one revoked while its request ran, gets the same answer as any other."""

    @never_cache
    @require_http_methods(["GET", "HEAD", "POST"])
    @wraps(view)
    def answer(request: HttpRequest, token: str) -> HttpResponse:
        try:
            return view(request, token)
        except (_BadLink, services.LinkRevoked):
            return _invalid_link(request)

    return answer


# --- sign up -----------------------------------------------------------------------------------
@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """Show the sign-up form (?event=<slug> preselects one event) and take sign-ups."""
    if request.method == "POST":
        email = request.POST.get("email", "")
        if wait := ratelimit.check(request, "form-client", "form-address", email):
            return ratelimit.too_many(request, wait)
        form = SubscribeForm(request.POST)
        if form.is_valid():
            services.sign_up(
                email=form.cleaned_data["email"],
                follows=form.follows(),
                lead_times=form.chosen_lead_times(),
                zone=form.cleaned_data["timezone"],
                language=form.cleaned_data["language"] or _page_language(request),
                news=form.news_choice(),
            )
            return redirect("timeline:subscribe-sent")
    else:
        slug = request.GET.get("event", "")
        known = slug and Event.objects.published().filter(slug=slug).exists()
        initial = {"language": _page_language(request)}
        form = SubscribeForm(initial={**initial, "event": slug} if known else initial)
    slug = form["event"].value()
    event = Event.objects.published().filter(slug=slug).first() if slug else None
    return render(request, "timeline/subscribe.html", {"form": form, "event": event})


def _page_language(request: HttpRequest) -> str:
    """Return the language of the page: mail comes in it unless the reader chooses another."""
    return languages.supported(request.LANGUAGE_CODE) or languages.DEFAULT


def subscribe_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "timeline/subscribe_sent.html")


# --- secret links ------------------------------------------------------------------------------
@csrf_protect_secret_link  # its page sends no Referer, so browsers post with Origin: null
@_secret_link_page
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Show what a confirmation link confirms (GET); confirm it and start reminders (POST).

    Mail scanners open every link in a mail, so opening this one must change nothing.
    """
    # Counted before the token is looked at: every post does the same work, right token or not.
    if request.method == "POST" and (wait := ratelimit.hit("confirm-client", client_ip(request))):
        return ratelimit.too_many(request, wait)
    max_age = settings.CONFIRMATION_MAX_AGE_HOURS * 3600
    subscriber = _holder(token, links.CONFIRM_SALT, max_age=max_age)
    if request.method != "POST":
        follows = subscriber.follows.select_related("topic", "actor", "track", "event")
        return render(
            request,
            "timeline/subscription_confirm.html",
            {"subscriber": subscriber, "follows": follows},
        )
    # After a spam report only this explicit answer (its own button) lifts the suppression.
    consent = request.POST.get("wants_mail_after_complaint") == "1"
    outcome, subscriber = services.confirm(
        subscriber=subscriber, wants_mail_after_complaint=consent
    )
    if outcome is services.Confirmation.ALREADY:
        return redirect(_manage_path(subscriber))
    if outcome is services.Confirmation.CONSENT_NEEDED:
        return redirect(request.path)  # the page asks the question
    return render(
        request,
        "timeline/subscription_confirmed.html",
        {"subscriber": subscriber, "manage_path": _manage_path(subscriber)},
    )


def _manage_path(subscriber: Subscriber) -> str:
    return reverse("timeline:subscription", args=[links.token_for(subscriber, links.MANAGE_SALT)])


@csrf_protect_secret_link  # its page sends no Referer, so browsers post with Origin: null
@_secret_link_page
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Change what one follows, when reminders come and in which zone; or leave."""
    subscriber = _holder(token, links.MANAGE_SALT)
    form = PreferencesForm(subscriber)
    if request.method == "POST":
        if wait := ratelimit.check(request, "form-client", "form-address", subscriber.email):
            return ratelimit.too_many(request, wait)
        if "new_links" in request.POST:
            return _renew_links(request, subscriber)
        if action := calendar_page.requested(request):
            return _change_calendar(request, subscriber, action)
        if "leave" in request.POST or "rejoin" in request.POST:
            left = "leave" in request.POST
            try:
                if left:
                    services.leave(subscriber=subscriber)
                else:
                    services.rejoin(subscriber=subscriber)
            except services.NotConfirmed:
                return redirect(request.path)
            messages.success(
                request,
                _("You have left: we will send you nothing more.")
                if left
                else _("Welcome back: reminders are on again."),
            )
            return redirect(request.path)
        form = PreferencesForm(subscriber, request.POST)
        if form.is_valid():
            services.set_preferences(
                subscriber=subscriber,
                follows=form.follows(),
                lead_times=form.chosen_lead_times(),
                zone=form.cleaned_data["timezone"],
                language=form.cleaned_data["language"] or None,
                news=form.news_choice(),
            )
            messages.success(request, _("Your choices are saved."))
            return redirect(request.path)
    return _preferences_page(request, subscriber, form)


def _preferences_page(
    request: HttpRequest,
    subscriber: Subscriber,
    form: PreferencesForm,
    calendar_token: str | None = None,
) -> HttpResponse:
    context = {"form": form, "subscriber": subscriber}
    return render(
        request,
        "timeline/subscription_preferences.html",
        {**context, **calendar_page.page_context(subscriber, calendar_token)},
    )


def _change_calendar(request: HttpRequest, subscriber: Subscriber, action: str) -> HttpResponse:
    """Turn the calendar on or off, change its alarms or its link."""
    token = calendar_page.change(request, subscriber, action)
    if token is None:
        return redirect(request.path)
    # The new link is shown on this answer alone (never cached: _secret_link_page); only its
    # hash is kept, so no later page, message or cookie can show it again.
    return _preferences_page(request, subscriber, PreferencesForm(subscriber), token)


def _renew_links(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """Revoke every link sent so far and move to this page's new address."""
    subscriber = services.renew_links(subscriber=subscriber)
    messages.success(
        request,
        _(
            "Done: the links in earlier emails no longer work. This page has a new address; "
            "bookmark it, or use the links in our next email."
        ),
    )
    return redirect(_manage_path(subscriber))


@csrf_exempt  # RFC 8058 one-click: mail clients POST without cookies or a CSRF token
@_secret_link_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners must not unsubscribe anyone); POST unsubscribes at once."""
    subscriber = _holder(token, links.MANAGE_SALT)
    if request.method != "POST":
        return render(request, "timeline/unsubscribe.html", {"subscriber": subscriber})
    limits = ("unsubscribe-client", "unsubscribe-address")
    if wait := ratelimit.check(request, *limits, subscriber.email):
        return ratelimit.too_many(request, wait)
    subscriber = services.leave(subscriber=subscriber)
    return render(
        request,
        "timeline/unsubscribed.html",
        {"subscriber": subscriber, "manage_path": _manage_path(subscriber)},
    )


@csrf_exempt  # RFC 8058 one-click from mail sent before pages had a language prefix
def unsubscribe_bare(request: HttpRequest, token: str) -> HttpResponse:
    """Unsubscribe on POST at the old address; send a GET to the page in the reader's language."""
    if request.method == "POST":
        return unsubscribe(request, token)
    with translation.override(translation.get_language_from_request(request)):
        return redirect(reverse("timeline:unsubscribe", args=[token]))
