"""Bounces and complaints piped to `manage.py read_bounce`, about mail really sent over SMTP.

Every report is one a mail system would send about the mail the test just sent (the samples in
tests/mail_samples/, filled in with its headers, Message-ID and return address).
"""

import datetime as dt
import logging
import random
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from timeline.models import Bounce, Event, Notification, Subscriber, SubscriberLink
from timeline.notifications import dispatch, reports, scheduling, services

from .bounce_helpers import (
    BOUNCE_ADDRESS,
    SAMPLES,
    confirm_path,
    new_event,
    read_bounce,
    reminded_reader,
    report,
    row_of,
    send_reminder,
    sent,
)
from .factories import NotificationFactory, SubscriberFactory, TopicFactory
from .notify_helpers import follower, topic, upcoming_event
from .processes import ROOT, worker_environment
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db
Kind, State = Notification.Kind, Notification.State
SUBSCRIBE = reverse("timeline:subscribe")
EX_DATAERR, EX_TEMPFAIL = 65, 75


@pytest.fixture(autouse=True)
def bounce_settings(settings):
    settings.BOUNCE_ADDRESS = BOUNCE_ADDRESS
    settings.SOFT_BOUNCE_LIMIT = 3
    settings.SOFT_BOUNCE_WINDOW_DAYS = 30


def later(minutes: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def signup(client, email: str, followed) -> None:
    data = {"email": email, "topics": [followed.pk], "lead_times": ["60"], "timezone": "UTC"}
    assert client.post(SUBSCRIBE, data).status_code == 302


def move(event: Event, hours: int = 1) -> None:
    """Move an event later by *hours* and bring the outbox in line (a change notice is due)."""
    event = Event.objects.get(pk=event.pk)
    start = dt.datetime.combine(event.start_date, event.start_time) + dt.timedelta(hours=hours)
    event.start_date, event.start_time = start.date(), start.time()
    event.save()
    scheduling.sync_event(event.pk)


def text_of(mail) -> str:
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    return text.replace("\r\n", "\n")


# --- every mail can be traced back -------------------------------------------------------------
def test_every_kind_of_mail_is_traceable_and_marked_automatic(client, smtp):
    energy = TopicFactory(name="Energy", in_use=True)
    signup(client, "new@example.com", energy)  # a confirmation
    dispatch.dispatch_due()
    follower("reader@example.com", energy, lead_times=(60,))
    new_event(energy, minutes=50)  # a reminder
    moved = new_event(energy, minutes=3 * 24 * 60)
    move(moved)  # a change notice
    cancelled = new_event(energy, minutes=4 * 24 * 60)
    cancelled.status = Event.Status.CANCELLED
    cancelled.save()
    scheduling.sync_event(cancelled.pk)  # a cancellation notice
    undated = upcoming_event(energy, starts_in=dt.timedelta(days=40))
    Event.objects.filter(pk=undated.pk).update(start_time=None)
    undated = Event.objects.get(pk=undated.pk)
    undated.precision, undated.start_time = "year", None
    undated.save()
    scheduling.sync_event(undated.pk)
    undated.precision = "day"
    undated.save()
    scheduling.sync_event(undated.pk)  # a "date announced" notice
    dispatch.dispatch_due(now=later(11))

    mails = [sent(smtp, index) for index in range(len(smtp.messages))]
    rows = [row_of(mail) for mail in mails]
    kinds = [Kind.CONFIRMATION, Kind.REMINDER, Kind.RESCHEDULED, Kind.CANCELLED]
    assert sorted(row.kind for row in rows) == sorted([*kinds, Kind.DATE_ANNOUNCED])
    assert len({row.trace_token for row in rows}) == len(rows)
    for mail, row in zip(mails, rows, strict=True):
        # RFC 3834: auto-responders stay quiet; RFC 2919: filters and providers see one list.
        assert mail.message["Auto-Submitted"] == "auto-generated"
        assert str(mail.message["List-Id"]) == (f"{settings.SITE_NAME} <followers.timeline.test>")
        assert re.search(
            rb"\nList-Id: =\?utf-8\?[bq]\?[^\r\n]+\?=\s+<followers\.timeline\.test>\r\n", mail.raw
        )
        # The Message-ID and the return address carry the row's random token, nothing else.
        assert mail.message_id == f"<{row.trace_token}@timeline.test>"
        assert re.fullmatch(r"[0-9a-f]{32}", row.trace_token)
        assert mail.sender == f"bounces+{row.trace_token}@bounces.timeline.test"
        assert mail.recipient.split("@")[0] not in mail.sender
        assert mail.message["From"] == settings.DEFAULT_FROM_EMAIL
        # One-click unsubscribe on all but the mail to an address not yet confirmed.
        unsubscribe = mail.message["List-Unsubscribe-Post"]
        assert (unsubscribe is None) == (row.kind == Kind.CONFIRMATION)


def test_without_a_bounce_address_mail_goes_from_the_sender_and_is_traced_by_message_id(
    smtp, settings
):
    settings.BOUNCE_ADDRESS = ""
    reader, _energy, mail = reminded_reader(smtp)
    assert mail.sender == "timeline@localhost"  # DEFAULT_FROM_EMAIL's address

    code, _out, err = read_bounce(report("postfix_hard.eml", mail))

    assert code == 0, err
    reader.refresh_from_db()
    assert reader.suppression_reason == "hard_bounce"


def test_the_text_part_reads_on_its_own(smtp):
    energy = topic()
    follower("reader@example.com", energy, lead_times=(60,))
    event = new_event(energy, minutes=50)
    dispatch.dispatch_due()
    reminder = sent(smtp)
    # An event whose date goes back to a year: the notice has no calendar file to attach.
    Event.objects.filter(pk=event.pk).update(start_time=None)
    event = Event.objects.get(pk=event.pk)
    event.precision, event.start_time = "year", None
    event.save()
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due(now=later(11))
    notice = sent(smtp)
    assert row_of(notice).kind == Kind.RESCHEDULED

    for mail, attached in ((reminder, True), (notice, False)):
        text = text_of(mail)
        assert text.startswith(("Reminder: ", "Changed: "))
        assert "When: " in text and "Where: Astana" in text and "Details: https://" in text
        assert f"This email comes from the {settings.SITE_NAME}" in text
        assert re.search(r"\nUnsubscribe: https://timeline\.test/en/unsubscribe/\S+/\n", text)
        # A signature delimiter mail programs know (RFC 3676), no markup, no stand-ins.
        assert "\n-- \n" in text
        assert not re.search(r"<[a-z/]|&(amp|lt|gt|#\d+);|__[A-Z_]+__|\{[{%]", text)
        assert "\n\n\n" not in text
        # It speaks of a calendar file only when one is attached.
        files = [part.get_filename() for part in mail.message.iter_attachments()]
        assert bool(files) is attached
        assert ("attached as a calendar file" in text) is attached


# --- hard bounces --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sample", "status"),
    [
        ("postfix_hard.eml", "5.1.1"),
        ("exim_hard.eml", "5.0.0"),
        ("microsoft_ndr.eml", "5.1.10"),
        ("verp_only.eml", "5.1.1"),
    ],
)
def test_a_hard_bounce_stops_every_kind_of_mail_at_once(smtp, sample, status):
    reader, energy, mail = reminded_reader(smtp)
    watched = new_event(energy, minutes=3 * 24 * 60)
    due = new_event(energy, minutes=40)  # its reminder is due: it must not go
    pending = Notification.objects.get(event=due, subscriber=reader)

    code, out, err = read_bounce(report(sample, mail))

    assert code == 0, err
    assert out.startswith(f"Hard bounce about mail {row_of(mail).pk} to subscriber {reader.pk}")
    reader.refresh_from_db()
    assert reader.suppressed_at is not None and reader.suppression_reason == "hard_bounce"
    assert reader.bounce_status == status
    assert reader.bounce_diagnostic.startswith("smtp;")
    assert not reader.active and not Subscriber.objects.active().filter(pk=reader.pk).exists()
    assert row_of(mail).bounce == "hard"
    # No more mail of any kind: the reminder already due (the dispatcher's check at send time
    # stops it), a new event's, a change notice.
    before = len(smtp.messages)
    dispatch.dispatch_due()
    pending.refresh_from_db()
    assert pending.state == State.SKIPPED
    assert pending.last_error == "Address suppressed (hard bounce)."
    new_event(energy, minutes=30)
    move(watched)
    dispatch.dispatch_due(now=later(11))
    assert len(smtp.messages) == before


def test_the_return_address_given_by_the_mta_traces_a_report_that_quotes_nothing(smtp, monkeypatch):
    reader, _energy, mail = reminded_reader(smtp)
    bare = report("verp_only.eml", mail).replace(mail.sender.encode(), b"postmaster@relay.test")
    assert read_bounce(bare)[0] == 0
    reader.refresh_from_db()
    assert reader.suppressed_at is None  # nothing in it names our mail

    # Postfix's local(8) and Exim's pipe transport give the envelope recipient to the command.
    monkeypatch.setenv("ORIGINAL_RECIPIENT", mail.sender)
    code, _out, err = read_bounce(bare)

    assert code == 0, err
    reader.refresh_from_db()
    assert reader.suppression_reason == "hard_bounce"


def test_the_recipient_option_traces_a_report(smtp):
    reader, _energy, mail = reminded_reader(smtp)
    bare = report("verp_only.eml", mail).replace(mail.sender.encode(), b"postmaster@relay.test")

    code, _out, err = read_bounce(bare, "--recipient", mail.sender.upper())

    assert code == 0, err
    reader.refresh_from_db()
    assert reader.suppression_reason == "hard_bounce"


# --- soft bounces --------------------------------------------------------------------------------
def test_soft_bounces_count_once_per_mail_and_suppress_at_the_limit(smtp):
    reader, energy, first = reminded_reader(smtp)

    # One mail delayed, then given up after five days (RFC 3464's example): one soft bounce.
    for sample in ("postfix_delayed.eml", "rfc3464_timeout.eml", "postfix_delayed.eml"):
        code, out, err = read_bounce(report(sample, first))
        assert code == 0, err
    reader.refresh_from_db()
    assert (reader.soft_bounces, reader.suppressed_at) == (1, None)
    assert reader.active and reader.bounce_status == "4.4.1"

    code, out, _ = read_bounce(report("exim_delayed.eml", send_reminder(smtp, reader, energy)))
    assert out.endswith("counted.\n")
    reader.refresh_from_db()
    assert (reader.soft_bounces, reader.suppressed_at, reader.active) == (2, None, True)

    # A full mailbox (5.2.2) is soft too: the third suppresses.
    third = send_reminder(smtp, reader, energy)
    code, out, _ = read_bounce(report("postfix_mailbox_full.eml", third))

    assert code == 0 and out.startswith("Soft bounce") and out.endswith("suppressed.\n")
    reader.refresh_from_db()
    assert reader.suppression_reason == "soft_bounces" and reader.soft_bounces == 3
    assert reader.bounce_status == "5.2.2"
    before = len(smtp.messages)
    new_event(energy, minutes=40)
    dispatch.dispatch_due()
    assert len(smtp.messages) == before


def test_soft_bounces_further_apart_than_the_window_start_the_count_again(smtp, settings):
    settings.SOFT_BOUNCE_LIMIT, settings.SOFT_BOUNCE_WINDOW_DAYS = 2, 7
    reader, energy, first = reminded_reader(smtp)
    read_bounce(report("postfix_delayed.eml", first))
    Subscriber.objects.filter(pk=reader.pk).update(
        soft_bounces_since=timezone.now() - dt.timedelta(days=7, minutes=1)
    )

    read_bounce(report("exim_delayed.eml", send_reminder(smtp, reader, energy)))

    reader.refresh_from_db()
    assert (reader.soft_bounces, reader.suppressed_at) == (1, None)
    read_bounce(report("postfix_delayed.eml", send_reminder(smtp, reader, energy)))
    reader.refresh_from_db()
    assert reader.suppression_reason == "soft_bounces"


def test_a_hard_bounce_after_soft_ones_suppresses_at_once(smtp):
    reader, _energy, mail = reminded_reader(smtp)
    read_bounce(report("postfix_delayed.eml", mail))
    read_bounce(report("postfix_hard.eml", mail))  # the same mail, given up for good
    reader.refresh_from_db()
    assert reader.suppression_reason == "hard_bounce" and reader.soft_bounces == 1


# --- complaints ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", ["rfc5965_abuse.eml", "yahoo_abuse_headers.eml"])
def test_a_complaint_stops_all_mail_at_once(smtp, sample):
    reader, energy, mail = reminded_reader(smtp)

    code, out, err = read_bounce(report(sample, mail))

    assert code == 0, err
    assert out.startswith("Complaint about mail") and out.endswith("suppressed.\n")
    reader.refresh_from_db()
    assert reader.suppression_reason == "complaint" and reader.suppressed_at is not None
    assert reader.bounce_status == ""  # a complaint is no delivery report
    before = len(smtp.messages)
    new_event(energy, minutes=40)
    dispatch.dispatch_due()
    assert len(smtp.messages) == before


def test_a_complaint_quoting_another_message_id_is_traced_by_its_envelope_sender(smtp):
    reader, _energy, mail = reminded_reader(smtp)
    data = report("rfc5965_abuse.eml", mail).replace(
        mail.message_id.encode(), b"<rewritten-by-a-forwarder@example.com>"
    )
    assert read_bounce(data)[0] == 0
    reader.refresh_from_db()
    assert reader.suppression_reason == "complaint"


def test_a_complaint_outranks_a_bounce(smtp):
    reader, _energy, mail = reminded_reader(smtp)
    read_bounce(report("postfix_hard.eml", mail))
    read_bounce(report("rfc5965_abuse.eml", mail))
    read_bounce(report("exim_hard.eml", mail))
    reader.refresh_from_db()
    assert reader.suppression_reason == "complaint"


# --- coming back ---------------------------------------------------------------------------------
def test_signing_up_again_lifts_a_bounce_once_the_new_confirmation_is_confirmed(
    client, smtp, django_capture_on_commit_callbacks
):
    reader, energy, mail = reminded_reader(smtp)
    with django_capture_on_commit_callbacks(execute=True):
        read_bounce(report("postfix_hard.eml", mail))

    signup(client, reader.email, energy)
    new_event(energy, minutes=40)
    dispatch.dispatch_due()

    # Only the confirmation goes; the address stays suppressed until it is confirmed.
    confirmation = sent(smtp)
    assert row_of(confirmation).kind == Kind.CONFIRMATION
    assert str(confirmation.message["Subject"]).strip().startswith("Confirm your subscription")
    assert len(smtp.to(reader.email)) == 2
    link = confirm_path(confirmation)
    assert client.get(link).status_code == 200  # opening it changes nothing (mail scanners)
    reader.refresh_from_db()
    assert reader.suppression_reason == "hard_bounce" and not reader.active

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(link)

    assert "Your subscription is confirmed" in page.content.decode()
    reader.refresh_from_db()
    assert reader.active and reader.suppressed_at is None and reader.suppression_reason == ""
    assert reader.suppression_lifted_at is not None
    # Mail flows again: the reminder held back while suppressed goes (still in time) …
    dispatch.dispatch_due()
    assert len(smtp.to(reader.email)) == 3
    # … and a late copy of the old report, about mail sent before, changes nothing.
    code, out, _ = read_bounce(report("exim_hard.eml", mail))
    assert code == 0 and out.endswith("out of date.\n")
    reader.refresh_from_db()
    assert reader.active


def test_a_confirmation_from_before_the_bounce_is_never_sent_but_a_fresh_one_is(client, smtp):
    energy = TopicFactory(name="Energy", in_use=True)
    signup(client, "typo@example.com", energy)
    dispatch.dispatch_due()
    first = sent(smtp)
    subscriber = Subscriber.objects.get(email="typo@example.com")
    # A second confirmation queued before the bounce comes back (a new link was asked for).
    subscriber.revoke_links()
    queued = scheduling.request_confirmation(subscriber, now=timezone.now() + dt.timedelta(hours=1))

    read_bounce(report("postfix_hard.eml", first))
    dispatch.dispatch_due(now=later(61))

    queued.refresh_from_db()
    assert (
        queued.state == State.SKIPPED and queued.last_error == "Address suppressed (hard bounce)."
    )
    assert len(smtp.to("typo@example.com")) == 1
    assert not SubscriberLink.objects.filter(subscriber=subscriber, purpose="confirm").exists()

    signup(client, "typo@example.com", energy)  # within minutes of the first: still a fresh one
    dispatch.dispatch_due()

    assert len(smtp.to("typo@example.com")) == 2
    assert row_of(sent(smtp)).kind == Kind.CONFIRMATION


def test_a_complaint_is_lifted_only_by_the_readers_explicit_yes(
    client, smtp, django_capture_on_commit_callbacks
):
    reader, energy, mail = reminded_reader(smtp)
    read_bounce(report("rfc5965_abuse.eml", mail))
    # Not by an editor …
    assert services.lift_bounce_suppression(subscriber_ids=[reader.pk]) == 0

    signup(client, reader.email, energy)
    dispatch.dispatch_due()
    link = confirm_path(sent(smtp))

    page = client.get(link).content.decode()
    assert "was reported as spam, so we stopped sending anything to it" in page
    assert "Confirm only if you want our email again." in page
    assert (
        '<button type="submit" name="wants_mail_after_complaint" value="1">'
        "Yes, I want your email again</button>"
    ) in page
    assert '<button type="submit">Confirm</button>' not in page
    # … nor by the usual confirmation, a post without that answer.
    response = client.post(link)
    assert response.status_code == 302 and response.url == link
    reader.refresh_from_db()
    assert reader.suppression_reason == "complaint" and not reader.active

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(link, {"wants_mail_after_complaint": "1"})

    assert "Your subscription is confirmed" in page.content.decode()
    reader.refresh_from_db()
    assert reader.active and reader.suppression_reason == ""
    send_reminder(smtp, reader, energy, minutes=35)


def test_the_preferences_page_says_why_mail_stopped(client, smtp):
    reader, _energy, mail = reminded_reader(smtp)
    read_bounce(report("postfix_hard.eml", mail))
    text = text_of(mail)
    (manage,) = re.findall(r"https://timeline\.test(/en/subscriptions/[^/\s]+/)", text)

    page = client.get(manage).content.decode()

    assert "Our email to this address came back undelivered, so we send it nothing." in page
    assert f'<a href="{SUBSCRIBE}">sign up again</a>' in page
    # Leaving and "subscribing again" from this page does not lift it: only a new confirmation.
    client.post(manage, {"leave": "1"})
    page = client.get(manage).content.decode()
    assert 'name="rejoin"' not in page
    client.post(manage, {"rejoin": "1"})
    reader.refresh_from_db()
    assert reader.unsubscribed_at is not None and reader.suppression_reason == "hard_bounce"


# --- the admin ----------------------------------------------------------------------------------
def test_the_admin_shows_why_and_when_and_lifts_a_bounce_by_hand(client, superuser):
    bounced, complained, fine = (
        SubscriberFactory(email=f"{name}@example.com") for name in ("bounced", "complained", "fine")
    )
    for subscriber, kind, status in ((bounced, "hard", "5.1.1"), (complained, "complaint", "")):
        services.record_bounce(
            notification=NotificationFactory(subscriber=subscriber),
            bounce=Bounce(kind),
            status=status,
            diagnostic="smtp; 550 5.1.1 User unknown" if status else "",
        )
    log_in_verified(client, superuser)
    changelist = reverse("admin:timeline_subscriber_changelist")

    page = client.get(changelist).content.decode()
    assert re.search(r'<td class="field-suppression">hard bounce, [^<]+ UTC</td>', page)
    assert re.search(r'<td class="field-suppression">spam complaint, [^<]+ UTC</td>', page)
    filtered = client.get(changelist, {"suppression_reason__exact": "hard_bounce"})
    filtered = filtered.content.decode()
    assert "bounced@example.com" in filtered and "complained@example.com" not in filtered
    change = client.get(reverse("admin:timeline_subscriber_change", args=[bounced.pk]))
    form = change.content.decode()
    assert "Bounces and complaints" in form and "smtp; 550 5.1.1 User unknown" in form
    assert 'name="suppressed_at' not in form and 'name="suppression_reason"' not in form

    response = client.post(
        changelist,
        {
            "action": "lift_bounce_suppression",
            "_selected_action": [bounced.pk, complained.pk, fine.pk],
        },
        follow=True,
    )

    page = response.content.decode()
    assert "Mail goes again to 1 subscriber." in page
    assert "1 subscriber reported our mail as spam: only they can lift that" in page
    bounced.refresh_from_db()
    complained.refresh_from_db()
    assert bounced.active and bounced.suppression_lifted_at is not None
    assert complained.suppression_reason == "complaint"


# --- what is refused -----------------------------------------------------------------------------
def truncated(mail) -> bytes:
    data = report("postfix_hard.eml", mail)
    return data[: data.index(b"Action: failed")]


@pytest.mark.parametrize(
    ("make", "code", "said"),
    [
        (lambda mail: report("person_reply.eml", mail), EX_DATAERR, "Not a delivery or complaint"),
        (lambda mail: b"", EX_DATAERR, "The input is empty."),
        (lambda mail: random.Random(15).randbytes(4096), EX_DATAERR, "Not a delivery"),
        (truncated, EX_DATAERR, "Malformed report: The report is cut short"),
        (lambda mail: report("no_status_part.eml", mail), EX_DATAERR, "no message/delivery-status"),
        (lambda mail: report("bad_status.eml", mail), EX_DATAERR, "Status is 'permanent'"),
        (
            lambda mail: (
                report("postfix_hard.eml", mail)
                .replace(
                    mail.message_id.encode(), b"<0123456789abcdef0123456789abcdef@timeline.test>"
                )
                .replace(mail.sender.encode(), f"bounces+{'f' * 32}@bounces.timeline.test".encode())
            ),
            0,
            "about no mail of ours",
        ),
        (lambda mail: report("vacation_reply.eml", mail), 0, "An automatic reply: dropped."),
        (lambda mail: report("relayed.eml", mail), 0, "Nothing went wrong"),
        (lambda mail: report("arf_not_spam.eml", mail), 0, "Nothing went wrong"),
    ],
    ids=[
        "person",
        "empty",
        "binary",
        "truncated",
        "no-status-part",
        "bad-status",
        "unknown",
        "vacation",
        "relayed",
        "not-spam",
    ],
)
def test_what_is_not_a_report_about_our_mail_changes_nothing(smtp, make, code, said):
    reader, _energy, mail = reminded_reader(smtp)

    exit_code, out, err = read_bounce(make(mail))

    assert exit_code == code
    assert said in out + err
    assert "Traceback" not in out + err
    reader.refresh_from_db()
    assert reader.active and reader.suppressed_at is None and reader.soft_bounces == 0
    assert row_of(mail).bounce == ""


SAMPLE_FILES = sorted(path.name for path in SAMPLES.glob("*.eml"))


@given(
    name=st.sampled_from(SAMPLE_FILES),
    cut=st.integers(min_value=0, max_value=6000),
    flips=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 255)), max_size=20),
)
def test_any_damage_to_a_report_is_read_or_refused_never_a_crash(name, cut, flips):
    data = bytearray((SAMPLES / name).read_bytes()[:cut])
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    try:
        reports.read(bytes(data)).outcome()
    except reports.Refused as refusal:
        assert str(refusal)


@given(st.binary(max_size=4096))
def test_any_bytes_are_read_or_refused_never_a_crash(data):
    try:
        reports.read(data).outcome()
    except reports.Refused as refusal:
        assert str(refusal)


def test_reports_leave_no_address_or_token_in_the_logs(smtp, caplog):
    reader, energy, mail = reminded_reader(smtp)
    second = send_reminder(smtp, reader, energy)
    caplog.set_level(logging.DEBUG)
    caplog.clear()  # what the test's own SMTP server logged of the mail it took

    read_bounce(report("postfix_delayed.eml", mail))
    read_bounce(report("rfc5965_abuse.eml", second))
    read_bounce(b"garbage")

    assert "Complaint (feedback-report" in caplog.text
    for secret in (
        reader.email,
        "example.com",
        row_of(mail).trace_token,
        row_of(second).trace_token,
    ):
        assert secret not in caplog.text


# --- as an MTA runs it ---------------------------------------------------------------------------
def run(data: bytes, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "read_bounce"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        env={**worker_environment(), **environment},
        timeout=60,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_answers_an_mta_with_sysexits_codes_and_one_line(smtp):
    reader, _energy, mail = reminded_reader(smtp)
    environment = {"BOUNCE_ADDRESS": BOUNCE_ADDRESS}

    taken = run(report("postfix_hard.eml", mail), **environment)
    garbage = run(random.Random(3).randbytes(2000), **environment)
    malformed = run(truncated(mail), **environment)
    # The database is down: the MTA is to keep the report and try again later.
    down = run(
        report("postfix_hard.eml", mail),
        DATABASE_URL="postgres://postgres@127.0.0.1:1/timeline",
        **environment,
    )

    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.decode().startswith("Hard bounce about mail")
    reader.refresh_from_db()
    assert reader.suppression_reason == "hard_bounce"
    assert garbage.returncode == malformed.returncode == EX_DATAERR
    assert down.returncode == EX_TEMPFAIL
    assert b"The database is unreachable (OperationalError); try again later." in down.stderr
    for process in (taken, garbage, malformed, down):
        assert b"Traceback" not in process.stderr
        assert len(process.stderr.decode().strip().splitlines()) <= 1
        assert mail.recipient.encode() not in process.stderr + process.stdout
