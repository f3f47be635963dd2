"""Email subscriptions as a reader and an editor meet them: sign up, confirm, change, leave.

Mail goes over SMTP to a real server in the test process (the `smtp` fixture); the outbox is
delivered by calling the dispatcher in-process.
"""

import datetime as dt
import re
import secrets
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from timeline.models import Notification, Subscriber, SubscriberLink, Subscription, hash_token
from timeline.notifications import dispatch, links, scheduling
from timeline.notifications.forms import NO_LEAD_TIME, NOTHING_FOLLOWED
from timeline.notifications.services import RESEND_CONFIRMATION_AFTER

from .factories import ActorFactory, EventFactory, TopicFactory, TrackFactory
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db

Kind, State = Notification.Kind, Notification.State
SUBSCRIBE = reverse("timeline:subscribe")
SENT = reverse("timeline:subscribe-sent")
INVALID = "This link is invalid or has expired"


# --- helpers -----------------------------------------------------------------------------------
def upcoming(minutes: float, **fields):
    """Return a published event with an exact start *minutes* from now (UTC)."""
    start = (timezone.now() + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    return EventFactory(
        precision="minute",
        start_date=start.date(),
        start_time=start.time(),
        timezone="UTC",
        **fields,
    )


def signup(client, email: str, **fields):
    data = {"email": email, "lead_times": ["1440"], "timezone": "UTC", **fields}
    return client.post(SUBSCRIBE, data)


def active_subscriber(email: str = "reader@example.com", **fields) -> Subscriber:
    return Subscriber.objects.create(email=email, confirmed_at=timezone.now(), **fields)


def path_of(url: str) -> str:
    assert url.startswith(settings.SITE_URL), url
    return urlsplit(url).path


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, name: str) -> str:
    """Return the path of the one link to the URL named *name* in a message's text part."""
    prefix = reverse(f"timeline:{name}", args=["TOKEN"]).split("TOKEN")[0]
    found = {
        path_of(url)
        for url in re.findall(r"https?://\S+", text_of(message))
        if urlsplit(url).path.startswith(prefix)
    }
    assert len(found) == 1, found
    return found.pop()


def html(response) -> str:
    return response.content.decode()


def reminders(subscriber: Subscriber, **filters):
    return Notification.objects.filter(subscriber=subscriber, kind=Kind.REMINDER, **filters)


# --- signing up --------------------------------------------------------------------------------
def test_signup_form_is_labelled_grouped_and_defaults_to_utc(client):
    TopicFactory(name="Energy", in_use=True)
    event = EventFactory(countries=["KZ", "RU"], track=TrackFactory(name="Caspian pipeline"))
    event.participants.add(ActorFactory(name="Kassym-Jomart Tokayev"))
    EventFactory(countries=["CN"], published=False)

    page = html(client.get(SUBSCRIBE))

    assert '<label for="id_email">' in page
    for legend in ("What to follow", "Topics", "Countries", "People and organisations"):
        assert f"<legend>{legend}</legend>" in page
    assert "<legend>Long-running projects</legend>" in page
    assert "<legend>Remind me</legend>" in page
    assert re.search(r'<label for="id_lead_times_1"><input[^>]+value="1440"[^>]+checked', page)
    assert '<option value="UTC" selected>UTC</option>' in page
    assert '<option value="Asia/Almaty">' in page
    # Countries come from published events only.
    assert "Kazakhstan" in page and "Russia" in page
    assert "China" not in page
    # The site's look: the page extends base.html, whose navigation marks this page as current.
    assert f'<a href="{SUBSCRIBE}" aria-current="page">Follow by email</a>' in page


def test_follow_this_event_link_preselects_the_event(client):
    event = EventFactory(title="Summit in Astana")
    detail = html(client.get(event.get_absolute_url()))
    assert f'href="{SUBSCRIBE}?event={event.slug}">Follow by email</a>' in detail

    page = html(client.get(SUBSCRIBE, {"event": event.slug}))
    assert "Summit in Astana" in page
    assert f'<input type="hidden" name="event" value="{event.slug}"' in page

    response = signup(client, "follower@example.com", event=event.slug)
    assert response.status_code == 302
    subscriber = Subscriber.objects.get(email="follower@example.com")
    assert [follow.event for follow in subscriber.follows.all()] == [event]


@pytest.mark.parametrize("published", [False, None])
def test_only_published_events_can_be_followed(client, published):
    slug = EventFactory(published=False).slug if published is False else "no-such-event"
    page = html(client.get(SUBSCRIBE, {"event": slug}))
    # The page names nothing of it: the slug is only in links to this same page (switcher).
    assert slug not in re.sub(rf'href="[^"]*\?event={slug}"', "", page)

    response = signup(client, "follower@example.com", event=slug)

    assert response.status_code == 200
    assert "This event cannot be followed." in html(response)
    assert not Subscriber.objects.exists()


def test_double_opt_in(client, smtp, django_capture_on_commit_callbacks):
    topic = TopicFactory()
    soon, later = upcoming(45), upcoming(3 * 24 * 60)
    soon.topics.add(topic)
    later.topics.add(topic)
    scheduling.sync_changed_events()  # as the dispatcher does first: nothing stale is left

    response = signup(client, "new@example.com", topics=[topic.pk], lead_times=["60"])

    assert response.status_code == 302 and response.url == SENT
    subscriber = Subscriber.objects.get(email="new@example.com")
    assert subscriber.confirmed_at is None and not subscriber.active
    assert [follow.topic for follow in subscriber.follows.all()] == [topic]
    assert subscriber.lead_times == [60]
    # Even with a due reminder row for them in the outbox …
    Notification.objects.create(
        subscriber=subscriber,
        event=soon,
        kind=Notification.Kind.REMINDER,
        key=scheduling.reminder_key(60, soon.start_utc),
        lead_minutes=60,
        due_at=soon.start_utc - dt.timedelta(minutes=60),
        payload={"start_utc": soon.start_utc.isoformat()},
    )
    reminder = reminders(subscriber).get()
    assert reminder.due_at <= timezone.now()

    dispatch.dispatch_due()

    # … exactly one mail goes out: the confirmation.
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "new@example.com"
    assert message["Subject"].strip().startswith("Confirm your subscription")
    assert message["List-Unsubscribe"] is None
    reminder.refresh_from_db()
    assert reminder.state == State.SKIPPED
    assert reminder.last_error == "Subscriber is not active."

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link_in(message, "confirm"))

    assert response.status_code == 200
    page = html(response)
    assert "Your subscription is confirmed" in page
    [manage] = re.findall(r'href="(/en/subscriptions/[^"/]+/)"', page)
    assert links.subscriber_from(manage.split("/")[-2]) == subscriber
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None and subscriber.active
    # Reminders were brought in line after the commit.
    assert reminders(subscriber, event=later, state=State.PENDING, lead_minutes=60).exists()
    # Following the link again changes nothing.
    confirmed_at = subscriber.confirmed_at
    assert client.get(link_in(message, "confirm")).status_code == 200
    assert client.post(link_in(message, "confirm")).status_code == 302  # to the preferences
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at == confirmed_at


def confirmation_link(client, smtp, email: str, **fields) -> str:
    """Sign *email* up, deliver the outbox, and return the path of the link mailed to it."""
    assert signup(client, email, **fields).status_code == 302
    dispatch.dispatch_due()
    return link_in(smtp.to(email)[-1], "confirm")


def test_opening_the_confirmation_link_changes_nothing(
    client, smtp, django_capture_on_commit_callbacks
):
    # Mail scanners open every link they see; only the reader's button press may confirm.
    topic = TopicFactory(name="Energy")
    upcoming(3 * 24 * 60).topics.add(topic)
    scheduling.sync_changed_events()
    link = confirmation_link(client, smtp, "new@example.com", topics=[topic.pk], lead_times=["60"])
    outbox = list(Notification.objects.values_list("pk", "state", "due_at"))

    with django_capture_on_commit_callbacks(execute=True):
        responses = [client.get(link), client.get(link), client.head(link)]
    dispatch.dispatch_due()

    subscriber = Subscriber.objects.get(email="new@example.com")
    assert subscriber.confirmed_at is None and not subscriber.active
    assert list(Notification.objects.values_list("pk", "state", "due_at")) == outbox
    assert len(smtp.messages) == 1
    assert [response.status_code for response in responses] == [200, 200, 200]
    page = html(responses[0])
    assert "<h1>Confirm your subscription</h1>" in page
    assert "<strong>new@example.com</strong>" in page and "Energy" in page
    assert "1 hour before" in page
    assert re.search(
        r'<form method="post">\s*<input type="hidden" name="csrfmiddlewaretoken"', page
    )
    assert '<button type="submit">Confirm</button>' in page
    # The link still works: pressing the button confirms.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link)
    assert "Your subscription is confirmed" in html(response)
    subscriber.refresh_from_db()
    assert subscriber.active


def test_confirming_takes_the_pages_csrf_token(client, smtp):
    link = confirmation_link(client, smtp, "new@example.com", topics=[TopicFactory(in_use=True).pk])
    browser = Client(enforce_csrf_checks=True)
    page = html(browser.get(link))
    [csrf] = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)

    # A post from elsewhere (no token, or the cookie without the form's token) is refused.
    assert Client(enforce_csrf_checks=True).post(link).status_code == 403
    assert browser.post(link).status_code == 403
    subscriber = Subscriber.objects.get(email="new@example.com")
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None

    response = browser.post(link, {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 200
    assert "Your subscription is confirmed" in html(response)
    subscriber.refresh_from_db()
    assert subscriber.active


def test_forms_on_secret_link_pages_post_with_the_null_origin_browsers_send(client, smtp):
    """Those pages send Referrer-Policy: no-referrer, so browsers post them with Origin: null."""
    link = confirmation_link(client, smtp, "new@example.com", topics=[TopicFactory(in_use=True).pk])
    browser = Client(enforce_csrf_checks=True, HTTP_ORIGIN="null")
    page = browser.get(link)
    assert page["Referrer-Policy"] == "no-referrer"
    [csrf] = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html(page))

    # The null origin is no pass: the form's CSRF token is still required …
    assert browser.post(link).status_code == 403
    # … and it is accepted only on a secret link's own URL, not on the sign-up form.
    signup = {"email": "other@example.com", "csrfmiddlewaretoken": csrf}
    assert browser.post(SUBSCRIBE, signup).status_code == 403

    response = browser.post(link, {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 200 and "Your subscription is confirmed" in html(response)


def test_a_confirmed_reader_opening_the_link_again_is_told_so(client, smtp):
    link = confirmation_link(client, smtp, "new@example.com", topics=[TopicFactory(in_use=True).pk])
    client.post(link)
    confirmed_at = Subscriber.objects.get().confirmed_at
    links_before = SubscriberLink.objects.count()

    page = html(client.get(link))

    assert "<strong>new@example.com</strong> is confirmed" in page
    assert '<button type="submit">Confirm</button>' not in page
    assert SubscriberLink.objects.count() == links_before  # reading the page issues no link
    # The button there leads to the preferences, changing nothing.
    response = client.post(link)
    assert response.status_code == 302 and response.url.startswith("/en/subscriptions/")
    assert "Your subscription" in html(client.get(response.url))
    assert Subscriber.objects.get().confirmed_at == confirmed_at


def test_signing_up_twice_sends_one_confirmation(client, smtp):
    topic = TopicFactory(in_use=True)
    signup(client, "twice@example.com", topics=[topic.pk])
    dispatch.dispatch_due()
    signup(client, "twice@example.com", topics=[topic.pk])
    dispatch.dispatch_due()

    assert len(smtp.to("twice@example.com")) == 1


def aged_tokens(subscriber: Subscriber, *hours: float) -> list[str]:
    """Return confirmation tokens issued *hours* ago."""
    tokens = []
    for age in hours:
        token = links.token_for(subscriber, links.CONFIRM_SALT)
        SubscriberLink.objects.filter(token_hash=hash_token(token)).update(
            created_at=timezone.now() - dt.timedelta(hours=age)
        )
        tokens.append(token)
    return tokens


def test_confirmation_link_expires(client, settings):
    settings.CONFIRMATION_MAX_AGE_HOURS = 72
    subscriber = Subscriber.objects.create(email="late@example.com")
    fresh, stale = aged_tokens(subscriber, 71.9, 72.1)

    response = client.post(reverse("timeline:confirm", args=[stale]))

    assert response.status_code == 404
    assert INVALID in html(response)
    assert f'<a href="{SUBSCRIBE}">subscribe again</a>' in html(response)
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None

    assert client.post(reverse("timeline:confirm", args=[fresh])).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None


def test_confirmation_link_expires_by_the_setting(client, settings):
    subscriber = Subscriber.objects.create(email="late@example.com")
    token = links.token_for(subscriber, links.CONFIRM_SALT)
    settings.CONFIRMATION_MAX_AGE_HOURS = 0
    time.sleep(1.1)

    assert client.get(reverse("timeline:confirm", args=[token])).status_code == 404


def test_signing_up_again_later_sends_a_new_link(client, smtp):
    topic = TopicFactory(in_use=True)
    signup(client, "lost@example.com", topics=[topic.pk])
    dispatch.dispatch_due()
    first = link_in(smtp.to("lost@example.com")[0], "confirm")
    # Within the resend delay, sending the form again sends nothing more.
    signup(client, "lost@example.com", topics=[topic.pk])
    dispatch.dispatch_due()
    assert len(smtp.to("lost@example.com")) == 1

    later = timezone.now() - RESEND_CONFIRMATION_AFTER
    Notification.objects.filter(kind=Kind.CONFIRMATION).update(created_at=later)
    signup(client, "lost@example.com", topics=[topic.pk])
    dispatch.dispatch_due()

    mails = smtp.to("lost@example.com")
    assert len(mails) == 2
    second = link_in(mails[1], "confirm")
    assert second != first
    assert client.get(first).status_code == 404  # the new link revoked the old one
    assert client.get(second).status_code == 200


def test_no_enumeration(client, smtp):
    old_topic, new_topic = TopicFactory(in_use=True), TopicFactory(in_use=True)
    confirmed = active_subscriber("known@example.com", lead_times=[60], timezone="Asia/Almaty")
    Subscription.objects.create(subscriber=confirmed, topic=old_topic)
    signup(client, "pending@example.com", topics=[old_topic.pk])

    responses = {
        email: client.post(
            SUBSCRIBE,
            {
                "email": email,
                "topics": [new_topic.pk],
                "lead_times": ["0", "10080"],
                "timezone": "Europe/Moscow",
            },
            follow=True,
        )
        for email in (
            "known@example.com",
            "KNOWN@EXAMPLE.COM",
            "pending@example.com",
            "new@example.com",
        )
    }

    first = responses["new@example.com"]
    assert first.redirect_chain == [(SENT, 302)]
    assert "Check your inbox" in html(first)
    for response in responses.values():
        assert response.status_code == first.status_code == 200
        assert response.redirect_chain == first.redirect_chain
        assert response.content == first.content
    # The confirmed subscriber's choices are untouched, and nothing is queued for them.
    confirmed.refresh_from_db()
    assert [follow.topic for follow in confirmed.follows.all()] == [old_topic]
    assert confirmed.lead_times == [60] and confirmed.timezone == "Asia/Almaty"
    assert not confirmed.outbox.exists()
    assert Subscriber.objects.filter(email__iexact="known@example.com").count() == 1
    # An address not yet confirmed takes the latest choices (it is sent nothing else anyway).
    pending = Subscriber.objects.get(email="pending@example.com")
    assert [follow.topic for follow in pending.follows.all()] == [new_topic]
    assert pending.lead_times == [10080, 0]

    dispatch.dispatch_due()
    assert sorted(message["To"] for message in smtp.messages) == [
        "new@example.com",
        "pending@example.com",
    ]


def test_someone_who_left_can_sign_up_again(client, smtp, django_capture_on_commit_callbacks):
    topic = TopicFactory(in_use=True)
    gone = active_subscriber("back@example.com", unsubscribed_at=timezone.now())
    first = scheduling.request_confirmation(gone)
    last_year = timezone.now() - dt.timedelta(days=365)
    Notification.objects.filter(pk=first.pk).update(state=State.SENT, created_at=last_year)
    old_links = links.token_for(gone)

    signup(client, "back@example.com", topics=[topic.pk])
    dispatch.dispatch_due()

    gone.refresh_from_db()
    assert gone.confirmed_at is None and gone.unsubscribed_at is not None
    [message] = smtp.to("back@example.com")
    # A new confirmation link, so links mailed before are revoked.
    assert client.get(reverse("timeline:subscription", args=[old_links])).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(link_in(message, "confirm")).status_code == 200
    gone.refresh_from_db()
    assert gone.active
    assert [follow.topic for follow in gone.follows.all()] == [topic]


# --- form errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"email": "nobody@example.com"}, None, str(NOTHING_FOLLOWED)),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        (
            {"email": "a" * 288 + "@example.com"},
            "email",
            "Ensure this value has at most 254 characters (it has 300).",
        ),
        ({"email": "nobody@example.com", "lead_times": []}, "lead_times", str(NO_LEAD_TIME)),
        (
            {"email": "nobody@example.com", "timezone": "Mars/Olympus_Mons"},
            "timezone",
            "Select a valid choice.",
        ),
    ],
)
def test_form_errors_are_shown_and_nothing_stored(client, fields, field, error):
    topic = TopicFactory()
    data = {"lead_times": ["1440"], "timezone": "UTC", **fields}
    if field is not None:
        data["topics"] = [topic.pk]

    response = client.post(SUBSCRIBE, data)

    assert response.status_code == 200
    page = html(response)
    assert "Please correct the errors marked below." in page
    error_id = f"id_{field}_error" if field else "follows_error"
    # The message sits in the error list next to its field (or group of fields).
    assert re.search(rf'<ul class="errorlist" id="{error_id}"><li>{re.escape(error)}', page)
    if field in ("email", "timezone"):
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', page)
    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()
    assert not Notification.objects.exists()


# --- preferences -------------------------------------------------------------------------------
def test_preferences_change_follows_and_lead_times(client, django_capture_on_commit_callbacks):
    energy, transit = TopicFactory(name="Energy"), TopicFactory(name="Transit")
    energy_event, transit_event = upcoming(3 * 24 * 60), upcoming(4 * 24 * 60)
    energy_event.topics.add(energy)
    transit_event.topics.add(transit)
    subscriber = active_subscriber(lead_times=[1440])
    Subscription.objects.create(subscriber=subscriber, topic=energy)
    scheduling.sync_subscriber(subscriber.pk)
    assert reminders(subscriber, event=energy_event, state=State.PENDING).count() == 1
    url = reverse("timeline:subscription", args=[links.token_for(subscriber)])

    page = html(client.get(url))
    assert re.search(rf'<input[^>]+name="topics" value="{energy.pk}"[^>]+checked', page)
    assert not re.search(rf'<input[^>]+name="topics" value="{transit.pk}"[^>]+checked', page)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {"topics": [transit.pk], "lead_times": ["60", "1440"], "timezone": "Asia/Almaty"},
            follow=True,
        )

    assert response.redirect_chain == [(url, 302)]
    assert "Your choices are saved." in html(response)
    subscriber.refresh_from_db()
    assert [follow.topic for follow in subscriber.follows.all()] == [transit]
    assert subscriber.lead_times == [1440, 60]
    assert subscriber.timezone == "Asia/Almaty"
    # Reminders re-synced: the topic no longer followed loses its pending reminders.
    dropped = reminders(subscriber, event=energy_event).get()
    assert dropped.state == State.SKIPPED and dropped.last_error == "No longer followed."
    wanted = reminders(subscriber, event=transit_event, state=State.PENDING)
    assert sorted(wanted.values_list("lead_minutes", flat=True)) == [60, 1440]


def test_preferences_refuse_following_nothing(client):
    topic = TopicFactory()
    subscriber = active_subscriber()
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    url = reverse("timeline:subscription", args=[links.token_for(subscriber)])

    response = client.post(url, {"lead_times": ["1440"], "timezone": "UTC"})

    assert response.status_code == 200
    assert str(NOTHING_FOLLOWED) in html(response)
    assert subscriber.follows.get().topic == topic


def test_leave_and_come_back_from_the_preferences_page(client, django_capture_on_commit_callbacks):
    topic, event = TopicFactory(), upcoming(3 * 24 * 60)
    event.topics.add(topic)
    subscriber = active_subscriber()
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    scheduling.sync_subscriber(subscriber.pk)
    url = reverse("timeline:subscription", args=[links.token_for(subscriber)])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"leave": "1"}, follow=True)

    assert "You have left" in html(response)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert not reminders(subscriber, state=State.PENDING).exists()

    response = client.post(url, {"rejoin": "1"}, follow=True)
    assert "Welcome back" in html(response)
    subscriber.refresh_from_db()
    assert subscriber.active


# --- unsubscribing -----------------------------------------------------------------------------
def test_one_click_unsubscribe(smtp, django_capture_on_commit_callbacks):
    topic = TopicFactory()
    soon, later = upcoming(45), upcoming(3 * 24 * 60)
    soon.topics.add(topic)
    later.topics.add(topic)
    subscriber = active_subscriber(lead_times=[60])
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    scheduling.sync_subscriber(subscriber.pk)
    dispatch.dispatch_due()
    [reminder] = smtp.to(subscriber.email)
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(https?://[^>]+)>", reminder["List-Unsubscribe"]).group(1)
    mail_client = Client(enforce_csrf_checks=True)  # no cookies, no CSRF token

    with django_capture_on_commit_callbacks(execute=True):
        response = mail_client.post(
            path_of(url),
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )

    assert response.status_code == 200
    assert "You are unsubscribed" in html(response)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert not reminders(subscriber, state=State.PENDING).exists()
    # Anything else still needs its CSRF token.
    manage = reverse("timeline:subscription", args=[links.token_for(subscriber)])
    assert mail_client.post(manage, {"leave": "1"}).status_code == 403


def test_unsubscribe_page_asks_before_acting(client):
    subscriber = active_subscriber()
    url = reverse("timeline:unsubscribe", args=[links.token_for(subscriber)])

    response = client.get(url)

    assert response.status_code == 200
    assert '<form method="post"' in html(response)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None


# --- bad links ---------------------------------------------------------------------------------
def bad_tokens(subscriber: Subscriber, salt: str) -> dict[str, str]:
    good = links.token_for(subscriber, salt)
    other_salt = links.MANAGE_SALT if salt == links.CONFIRM_SALT else links.CONFIRM_SALT
    return {
        "garbage": "garbage",
        "truncated": good[:-5],
        "extended": good + "A",
        "tampered": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "other purpose": links.token_for(subscriber, other_salt),
        "the stored hash itself": hash_token(good),
        "unknown": secrets.token_urlsafe(links.TOKEN_BYTES),
    }


@pytest.mark.parametrize(
    ("name", "salt", "method"),
    [
        ("confirm", links.CONFIRM_SALT, "get"),
        ("confirm", links.CONFIRM_SALT, "post"),
        ("subscription", links.MANAGE_SALT, "get"),
        ("subscription", links.MANAGE_SALT, "post"),
        ("unsubscribe", links.MANAGE_SALT, "get"),
        ("unsubscribe", links.MANAGE_SALT, "post"),
    ],
)
def test_bad_tokens_answer_404(client, name, salt, method):
    subscriber = Subscriber.objects.create(email="target@example.com")
    for label, token in bad_tokens(subscriber, salt).items():
        response = getattr(client, method)(
            reverse(f"timeline:{name}", args=[token]), {"leave": "1"}
        )
        assert response.status_code == 404, label
        assert INVALID in html(response), label
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None and subscriber.unsubscribed_at is None


def test_revoking_links_revokes_every_link(client):
    subscriber = active_subscriber()
    old = {
        "confirm": links.token_for(subscriber, links.CONFIRM_SALT),
        "subscription": links.token_for(subscriber),
        "unsubscribe": links.token_for(subscriber),
    }
    for name, token in old.items():
        assert client.get(reverse(f"timeline:{name}", args=[token])).status_code == 200

    subscriber.revoke_links()

    for name, token in old.items():
        assert client.get(reverse(f"timeline:{name}", args=[token])).status_code == 404
    new = links.token_for(subscriber)
    assert client.get(reverse("timeline:subscription", args=[new])).status_code == 200


# --- admin -------------------------------------------------------------------------------------
def test_admin_pause_and_resume(client, superuser, django_capture_on_commit_callbacks):
    topic, event = TopicFactory(), upcoming(3 * 24 * 60)
    event.topics.add(topic)
    subscriber = active_subscriber()
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    scheduling.sync_subscriber(subscriber.pk)
    log_in_verified(client, superuser)
    changelist = reverse("admin:timeline_subscriber_changelist")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist, {"action": "pause", "_selected_action": [subscriber.pk]}, follow=True
        )

    assert "Paused 1 subscriber." in html(response)
    subscriber.refresh_from_db()
    assert subscriber.paused and not subscriber.active
    assert not reminders(subscriber, state=State.PENDING).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist, {"action": "resume", "_selected_action": [subscriber.pk]}, follow=True
        )

    assert "Resumed 1 subscriber." in html(response)
    subscriber.refresh_from_db()
    assert subscriber.active
    assert reminders(subscriber, event=event, state=State.PENDING).exists()


def test_resuming_restores_pending_reminders():
    """A reminder skipped while paused comes back on resuming (its row keeps its unique key)."""
    topic, event = TopicFactory(), upcoming(3 * 24 * 60)
    event.topics.add(topic)
    subscriber = active_subscriber()
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    scheduling.sync_subscriber(subscriber.pk)
    Subscriber.objects.filter(pk=subscriber.pk).update(paused=True)
    scheduling.sync_subscriber(subscriber.pk)
    Subscriber.objects.filter(pk=subscriber.pk).update(paused=False)
    scheduling.sync_subscriber(subscriber.pk)

    assert reminders(subscriber, event=event, state=State.PENDING).exists()


def test_admin_retry_failed(client, superuser, smtp):
    subscriber = Subscriber.objects.create(email="bounced@example.com")
    failed = scheduling.request_confirmation(subscriber)
    yesterday = timezone.now() - dt.timedelta(days=1)
    Notification.objects.filter(pk=failed.pk).update(
        state=State.FAILED, attempts=3, last_error="550 'No such mailbox here'", due_at=yesterday
    )
    other = Subscriber.objects.create(email="fine@example.com")
    sent = scheduling.request_confirmation(other)
    Notification.objects.filter(pk=sent.pk).update(state=State.SENT, sent_at=yesterday)
    log_in_verified(client, superuser)

    before = timezone.now()
    response = client.post(
        reverse("admin:timeline_notification_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )

    assert "Queued 1 failed row again." in html(response)
    failed.refresh_from_db()
    assert failed.state == State.PENDING
    assert before <= failed.due_at <= timezone.now()
    assert failed.attempts == 3
    assert failed.last_error == "550 'No such mailbox here'"
    sent.refresh_from_db()
    assert sent.state == State.SENT

    dispatch.dispatch_due()

    failed.refresh_from_db()
    assert failed.state == State.SENT
    assert [message["To"] for message in smtp.messages] == ["bounced@example.com"]


def test_admin_pages(client, superuser):
    topic = TopicFactory()
    subscriber = active_subscriber("someone@example.com")
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    notification = scheduling.request_confirmation(subscriber)
    log_in_verified(client, superuser)

    page = html(client.get(reverse("admin:timeline_subscriber_changelist"), {"q": "someone"}))
    assert "someone@example.com" in page
    page = html(client.get(reverse("admin:timeline_subscriber_change", args=[subscriber.pk])))
    assert 'name="follows-0-topic"' in page and "admin-autocomplete" in page

    changelist = reverse("admin:timeline_notification_changelist")
    assert "someone@example.com" in html(client.get(changelist, {"q": "someone@"}))
    assert client.get(changelist, {"state__exact": "failed"}).status_code == 200
    view = client.get(reverse("admin:timeline_notification_change", args=[notification.pk]))
    assert view.status_code == 200
    assert 'name="_save"' not in html(view)
    assert client.get(reverse("admin:timeline_notification_add")).status_code == 403


@pytest.mark.parametrize("status", ["cancelled", "postponed"])
def test_saving_preferences_keeps_pending_notices(status):
    """Syncing a subscriber keeps the pending notices of events that no longer get reminders."""
    topic, event = TopicFactory(), upcoming(3 * 24 * 60)
    event.topics.add(topic)
    subscriber = active_subscriber()
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    scheduling.sync_changed_events()
    event.status = status
    event.save()
    scheduling.sync_changed_events()
    notice = Notification.objects.exclude(kind=Kind.REMINDER).get(subscriber=subscriber)
    assert notice.state == State.PENDING

    scheduling.sync_subscriber(subscriber.pk)  # what saving the preferences page does

    notice.refresh_from_db()
    assert notice.state == State.PENDING, notice.last_error


def test_an_event_going_ahead_again_gets_its_reminders_back():
    """The reminders skipped when an event was cancelled come back when it goes ahead again."""
    topic, event = TopicFactory(), upcoming(3 * 24 * 60)
    event.topics.add(topic)
    subscriber = active_subscriber()
    Subscription.objects.create(subscriber=subscriber, topic=topic)
    scheduling.sync_changed_events()
    assert reminders(subscriber, state=State.PENDING).exists()
    for status in ("cancelled", "confirmed"):
        event.status = status
        event.save()
        scheduling.sync_changed_events()

    assert reminders(subscriber, state=State.PENDING).exists()
