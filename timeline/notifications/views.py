"""Email subscriptions: sign up (double opt-in), confirm, change preferences, unsubscribe.

Every page reached by a secret link answers the same neutral 404 for a forged, expired or
revoked token, and the sign-up answers the same way whether or not the address is known.
"""

import datetime as dt
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import BaseUserManager
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..models import Event, Notification, Subscriber
from ..security import ratelimit
from ..security.client_ip import client_ip
from ..security.headers import csrf_protect_secret_link
from . import links, scheduling
from .forms import PreferencesForm, SubscribeForm, apply_follows

# A new confirmation mail (with a new link) for an address not yet confirmed goes out at most
# this often, however often the form is sent: enough to recover a lost or expired link, too
# rarely to flood someone's inbox with sign-ups they never asked for.
RESEND_CONFIRMATION_AFTER = dt.timedelta(minutes=15)


def _invalid_link(request: HttpRequest) -> HttpResponse:
    """Answer a bad link without saying why (forged, expired and revoked look the same)."""
    return render(request, "timeline/subscription_invalid.html", status=404)


def _sync_after_commit(subscriber: Subscriber) -> None:
    transaction.on_commit(partial(scheduling.sync_subscriber, subscriber.pk))


def _locked(subscriber: Subscriber) -> Subscriber | None:
    """Return the subscriber locked for update, unless its links were revoked meanwhile."""
    return (
        Subscriber.objects.select_for_update()
        .filter(pk=subscriber.pk, link_nonce=subscriber.link_nonce)
        .first()
    )


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
            _sign_up(form)
            return redirect("timeline:subscribe-sent")
    else:
        slug = request.GET.get("event", "")
        known = slug and Event.objects.published().filter(slug=slug).exists()
        form = SubscribeForm(initial={"event": slug} if known else {})
    slug = form["event"].value()
    event = Event.objects.published().filter(slug=slug).first() if slug else None
    return render(request, "timeline/subscribe.html", {"form": form, "event": event})


def subscribe_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "timeline/subscribe_sent.html")


@transaction.atomic
def _sign_up(form: SubscribeForm) -> None:
    """Record a sign-up; what happens depends on the address, what the visitor sees does not.

    - A new address: an unconfirmed subscriber with these choices, and a confirmation mail.
    - An address not confirmed yet (or one that left): these choices replace the earlier ones
      (nothing is sent to it but the confirmation), and the confirmation is queued again.
    - A confirmed address still subscribed (paused or not): nothing changes, nothing is sent,
      so no one can change what someone else follows by typing their address.
    """
    now = timezone.now()
    email = BaseUserManager.normalize_email(form.cleaned_data["email"])
    subscriber = Subscriber.objects.select_for_update().filter(email__iexact=email).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = Subscriber.objects.create(email=email)
        except IntegrityError:  # the same address signed up at the same moment
            subscriber = Subscriber.objects.select_for_update().get(email__iexact=email)
    if subscriber.confirmed_at and not subscriber.unsubscribed_at:
        return
    # Not confirmed yet, or they left and now ask to come back: (re)confirm the address.
    subscriber.confirmed_at = None
    subscriber.lead_times = form.chosen_lead_times()
    subscriber.timezone = form.cleaned_data["timezone"]
    subscriber.save(update_fields=["confirmed_at", "lead_times", "timezone"])
    apply_follows(subscriber, form.follows())
    _request_confirmation(subscriber, now)


def _request_confirmation(subscriber: Subscriber, now: dt.datetime) -> None:
    """Queue the confirmation; with a new link if the last one went out a while ago."""
    last = Notification.objects.filter(
        subscriber=subscriber,
        event=None,
        kind=Notification.Kind.CONFIRMATION,
        key=f"confirm@{subscriber.link_nonce}",
    ).first()
    done = (Notification.State.SENT, Notification.State.FAILED, Notification.State.SKIPPED)
    resend_from = now - RESEND_CONFIRMATION_AFTER
    if last is not None and last.state in done and last.created_at <= resend_from:
        # The same nonce would give back the row already sent: a new one revokes the old link.
        subscriber.revoke_links()
    scheduling.request_confirmation(subscriber, now)


# --- secret links ------------------------------------------------------------------------------
@csrf_protect_secret_link  # its page sends no Referer, so browsers post with Origin: null
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Show what a confirmation link confirms (GET); confirm it and start reminders (POST).

    Mail scanners open every link in a mail, so opening this one must change nothing.
    """
    # Counted before the token is looked at: every post does the same work, right token or not.
    if request.method == "POST" and (wait := ratelimit.hit("confirm-client", client_ip(request))):
        return ratelimit.too_many(request, wait)
    max_age = settings.CONFIRMATION_MAX_AGE_HOURS * 3600
    subscriber = links.subscriber_from(token, links.CONFIRM_SALT, max_age=max_age)
    if subscriber is None:
        return _invalid_link(request)
    if request.method != "POST":
        follows = subscriber.follows.select_related("topic", "actor", "track", "event")
        return render(
            request,
            "timeline/subscription_confirm.html",
            {"subscriber": subscriber, "follows": follows},
        )
    with transaction.atomic():
        subscriber = _locked(subscriber)
        if subscriber is None:
            return _invalid_link(request)
        if subscriber.confirmed_at and not subscriber.unsubscribed_at:
            return redirect(_manage_path(subscriber))
        subscriber.confirmed_at = subscriber.confirmed_at or timezone.now()
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["confirmed_at", "unsubscribed_at"])
        _sync_after_commit(subscriber)
    return render(
        request,
        "timeline/subscription_confirmed.html",
        {"subscriber": subscriber, "manage_path": _manage_path(subscriber)},
    )


def _manage_path(subscriber: Subscriber) -> str:
    return reverse("timeline:subscription", args=[links.token_for(subscriber, links.MANAGE_SALT)])


def _set_unsubscribed(subscriber: Subscriber, left: bool) -> Subscriber | None:
    """Unsubscribe (or come back), and bring the outbox in line after the commit."""
    with transaction.atomic():
        locked = _locked(subscriber)
        if locked is None:
            return None
        if bool(locked.unsubscribed_at) != left:
            locked.unsubscribed_at = timezone.now() if left else None
            locked.save(update_fields=["unsubscribed_at"])
        _sync_after_commit(locked)
    return locked


@csrf_protect_secret_link  # its page sends no Referer, so browsers post with Origin: null
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Change what one follows, when reminders come and in which zone; or leave."""
    subscriber = links.subscriber_from(token, links.MANAGE_SALT)
    if subscriber is None:
        return _invalid_link(request)
    form = PreferencesForm(subscriber)
    if request.method == "POST":
        if wait := ratelimit.check(request, "form-client", "form-address", subscriber.email):
            return ratelimit.too_many(request, wait)
        if "new_links" in request.POST:
            return _renew_links(request, subscriber)
        if "leave" in request.POST or "rejoin" in request.POST:
            left = "leave" in request.POST
            if not left and not subscriber.confirmed_at:
                return redirect(request.path)  # only a confirmed address can come back
            if _set_unsubscribed(subscriber, left) is None:
                return _invalid_link(request)
            messages.success(
                request,
                "You have left: we will send you nothing more."
                if left
                else "Welcome back: reminders are on again.",
            )
            return redirect(request.path)
        form = PreferencesForm(subscriber, request.POST)
        if form.is_valid():
            with transaction.atomic():
                locked = _locked(subscriber)
                if locked is None:
                    return _invalid_link(request)
                locked.lead_times = form.chosen_lead_times()
                locked.timezone = form.cleaned_data["timezone"]
                locked.save(update_fields=["lead_times", "timezone"])
                apply_follows(locked, form.follows())
                _sync_after_commit(locked)
            messages.success(request, "Your choices are saved.")
            return redirect(request.path)
    return render(
        request, "timeline/subscription_preferences.html", {"form": form, "subscriber": subscriber}
    )


def _renew_links(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """Revoke every link sent so far and move to this page's new address."""
    with transaction.atomic():
        locked = _locked(subscriber)
        if locked is None:
            return _invalid_link(request)
        locked.revoke_links()
    messages.success(
        request,
        "Done: the links in earlier emails no longer work. This page has a new address; "
        "bookmark it, or use the links in our next email.",
    )
    return redirect(_manage_path(locked))


@csrf_exempt  # RFC 8058 one-click: mail clients POST without cookies or a CSRF token
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners must not unsubscribe anyone); POST unsubscribes at once."""
    subscriber = links.subscriber_from(token, links.MANAGE_SALT)
    if subscriber is None:
        return _invalid_link(request)
    if request.method != "POST":
        return render(request, "timeline/unsubscribe.html", {"subscriber": subscriber})
    limits = ("unsubscribe-client", "unsubscribe-address")
    if wait := ratelimit.check(request, *limits, subscriber.email):
        return ratelimit.too_many(request, wait)
    subscriber = _set_unsubscribed(subscriber, left=True)
    if subscriber is None:
        return _invalid_link(request)
    return render(
        request,
        "timeline/unsubscribed.html",
        {"subscriber": subscriber, "manage_path": _manage_path(subscriber)},
    )
