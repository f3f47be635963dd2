"""Faults survived: killed workers, emptied and restarted Redis, a restarted PostgreSQL, a lying
SMTP server, a broker that is down while an editor saves, and digests all due at once.

Production processes (gunicorn, `celery worker` under its supervisor, two `celery beat`s) run
against private PostgreSQL and Redis servers (see `make faults`) and a real SMTP server in this
process. Each test records its figures; the run ends with a summary table.
"""

import datetime as dt
import os
import statistics
import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from timeline import timing
from timeline.models import Event, Feed, News, Notification, Subscriber, Subscription
from timeline.notifications import mail, scheduling

from ..browser import CHROMIUM, CHROMIUM_ARGS, check_installed
from ..factories import PlaceFactory
from ..notify_helpers import follower, topic, upcoming_event
from ..processes import wait_for
from ..two_factor import totp_code
from . import services
from .conftest import record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def reminders_due_within(seconds: float, count: int, events: int, starting_in: float):
    """Make *count* reminders fall due spread over *seconds*, the first *starting_in* s from now."""
    energy = topic()
    now = timezone.now()
    readers = Subscriber.objects.bulk_create(
        Subscriber(
            email=f"reader{number}@example.com",
            timezone="Europe/Berlin",
            lead_times=[60],
            confirmed_at=now,
        )
        for number in range(count // events)
    )
    Subscription.objects.bulk_create(Subscription(subscriber=r, topic=energy) for r in readers)
    place = PlaceFactory(name="Astana", timezone="Asia/Almaty")
    for number in range(events):
        offset = starting_in + seconds * number / events
        event = upcoming_event(
            energy, starts_in=dt.timedelta(minutes=60, seconds=offset), place=place
        )
        scheduling.sync_event(event.pk)
    assert Notification.objects.filter(kind="reminder").count() == count


def due_times() -> dict[str, float]:
    """Return each reminder's Message-ID and the moment it was meant to go (before any retry)."""
    return {
        mail.message_id(row): (
            dt.datetime.fromisoformat(row.payload["start_utc"])
            - dt.timedelta(minutes=row.lead_minutes)
        ).timestamp()
        for row in Notification.objects.filter(kind="reminder")
    }


def lateness(smtp, due: dict[str, float]) -> list[float]:
    """Return, for every reminder, seconds from its due moment to its first arrival."""
    first: dict[str, float] = {}
    with smtp.lock:
        for message_id, arrival in zip(smtp.message_ids, smtp.arrivals, strict=True):
            first.setdefault(message_id, arrival)
    return [first[message_id] - moment for message_id, moment in due.items() if message_id in first]


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.2f} s, p99 {p99:.2f} s, max {ordered[-1]:.2f} s"


def duplicates(smtp) -> int:
    ids = smtp.ids()
    return len(ids) - len(set(ids))


def delivered(smtp) -> int:
    return len(set(smtp.ids()))


def held_rows() -> int:
    connection.close()  # a fresh look, whatever happened to the server meanwhile
    return Notification.objects.filter(state="sending").count()


def play(plan: list[tuple[float, str]], total: int, smtp, worker, scenario: str) -> list[int]:
    """Inject each fault of *plan* once so many mails are delivered; wait for all *total*.

    Records when each fault came and what the killed worker held; returns the counts sent at
    each kill (a kill may cost one duplicate: the mail on the wire).
    """
    plan = list(plan)
    kills, held_at_kill, flushed_at = [], [], None
    deadline = time.monotonic() + 400
    while delivered(smtp) < total and time.monotonic() < deadline:
        if plan and delivered(smtp) >= plan[0][0]:
            _, action = plan.pop(0)
            if action == "kill":
                worker.kill()
                kills.append(delivered(smtp))
                held_at_kill.append(held_rows())
            else:
                services.flushall()
                flushed_at = delivered(smtp)
        time.sleep(0.05)
    time.sleep(5)  # anything sent twice arrives by now
    assert not plan, "every fault was injected"
    record(scenario, "delivered (distinct)", f"{delivered(smtp)} of {total}")
    record(scenario, "duplicates", f"{duplicates(smtp)} (kills: {len(kills)})")
    record(scenario, "worker killed after", ", ".join(f"{n} sent" for n in kills))
    record(scenario, "rows held by the killed worker", ", ".join(map(str, held_at_kill)))
    record(scenario, "FLUSHALL after", f"{flushed_at} sent")
    return kills


def test_storm_of_reminders_through_kills_a_flush_451s_and_two_beats(smtp, worker, beats):
    smtp.temporary_failure_every = 10
    total = 2000
    reminders_due_within(60, total, events=40, starting_in=20)
    due = due_times()
    plan = [(total * 0.2, "kill"), (total * 0.5, "flushall"), (total * 0.7, "kill")]
    scenario = "2,000 reminders due within 1 min; 2 SIGKILLs, FLUSHALL, 451 in 10, 2 beats"
    kills = play(plan, total, smtp, worker, scenario)

    late = lateness(smtp, due)
    record(scenario, "451 answers", smtp.attempts - len(smtp.messages))
    record(scenario, "lateness", spread(late))
    record(scenario, "worker restarts by its supervisor", worker.restarts())
    assert delivered(smtp) == total, "no reminder lost"
    assert duplicates(smtp) <= len(kills), "at most one duplicate per kill"
    assert min(late) >= -0.5, "none sent before it was due"
    assert Notification.objects.filter(kind="reminder", state="sent").count() == total


def digests_due_now(count: int) -> None:
    """Make *count* daily digests fall due at once, each with an upcoming followed event to tell."""
    energy = topic()
    place = PlaceFactory(name="Astana", timezone="Asia/Almaty")
    upcoming_event(energy, starts_in=dt.timedelta(hours=6), place=place)
    now = timezone.now()
    # Their digest time is the minute just gone, on their own clock: every digest is due at once.
    zone = "Asia/Almaty"
    local = (now - dt.timedelta(minutes=1)).astimezone(timing.zone(zone))
    readers = Subscriber.objects.bulk_create(
        Subscriber(
            email=f"digest{number}@example.com",
            timezone=zone,
            lead_times=[60],
            confirmed_at=now - dt.timedelta(days=2),
            news=News.DAILY,
            digest_time=local.time().replace(second=0, microsecond=0),
            digest_reminders=False,
            digest_since=now - dt.timedelta(days=2),
        )
        for number in range(count)
    )
    Subscription.objects.bulk_create(Subscription(subscriber=r, topic=energy) for r in readers)


def test_two_thousand_digests_due_at_once_through_a_kill_and_a_flush(smtp, worker, beats):
    total = 2000
    digests_due_now(total)
    plan = [(total * 0.3, "kill"), (total * 0.6, "flushall")]
    scenario = "2,000 daily digests due at once; SIGKILL, FLUSHALL, 2 beats"
    kills = play(plan, total, smtp, worker, scenario)

    connection.close()
    digests = Notification.objects.filter(kind=Notification.Kind.DIGEST)
    record(scenario, "digest rows (one per subscriber and day)", digests.count())
    record(scenario, "worker restarts by its supervisor", worker.restarts())
    assert delivered(smtp) == total, "no digest lost"
    assert duplicates(smtp) <= len(kills), "at most one duplicate per kill"
    assert digests.count() == total, "one row per subscriber and period, whatever the beats did"
    assert digests.filter(state=Notification.State.SENT).count() == total


def test_postgres_restart_under_the_dispatcher_and_the_web_server(smtp, worker, beats, web):
    smtp.delay = 0.03  # a slow server: the restart lands in the middle of a batch
    total = 300
    reminders_due_within(5, total, events=10, starting_in=15)
    due = due_times()
    event = Event.objects.filter(published=True).first()
    wait_for(lambda: delivered(smtp) >= total // 3, timeout=120, interval=0.02)

    held = held_rows()
    down_for = services.restart_postgres()
    restarted = time.monotonic()
    failed_requests = 0
    while not (
        web.status("/healthz?scope=web") == 200 and web.status(event.get_absolute_url()) == 200
    ):
        failed_requests += 1
        assert time.monotonic() - restarted < 60, "the web server did not recover by itself"
        time.sleep(0.1)
    web_back = time.monotonic() - restarted
    wait_for(lambda: delivered(smtp) >= total, timeout=180, interval=0.1)
    time.sleep(5)
    connection.close()

    scenario = "PostgreSQL restarted mid-dispatch, web serving"
    record(scenario, "server down for", f"{down_for:.2f} s; {held} rows claimed at that moment")
    waits = worker.log_path.read_text().count("Database unreachable")
    record(scenario, "dispatcher writes retried until the server was back", waits)
    record(
        scenario,
        "web answering 200 again after",
        f"{web_back:.2f} s ({failed_requests} failed polls)",
    )
    record(scenario, "delivered (distinct)", f"{delivered(smtp)} of {total}")
    record(scenario, "duplicates", duplicates(smtp))
    record(scenario, "lateness", spread(lateness(smtp, due)))
    record(scenario, "worker restarts", worker.restarts())
    assert delivered(smtp) == total
    assert duplicates(smtp) == 0
    assert Notification.objects.filter(kind="reminder", state="sent").count() == total


def test_redis_restart_while_the_worker_holds_unacknowledged_tasks(smtp, worker, beats):
    smtp.delay = 0.02  # a slow server keeps each dispatch task running, unacknowledged
    total = 300
    reminders_due_within(10, total, events=10, starting_in=10)
    due = due_times()
    wait_for(lambda: delivered(smtp) >= total // 4, timeout=120, interval=0.02)
    held = held_rows()
    services.restart_redis()
    restarted_at = delivered(smtp)
    wait_for(lambda: delivered(smtp) >= total, timeout=240, interval=0.1)
    time.sleep(5)

    scenario = "Redis restarted (empty) while the worker held unacknowledged tasks"
    record(scenario, "restarted after", f"{restarted_at} sent; {held} rows claimed at that moment")
    record(scenario, "worker exits restarted by its supervisor", worker.restarts())
    record(scenario, "delivered (distinct)", f"{delivered(smtp)} of {total}")
    record(scenario, "duplicates", duplicates(smtp))
    record(scenario, "lateness", spread(lateness(smtp, due)))
    assert delivered(smtp) == total
    assert duplicates(smtp) <= worker.restarts()
    assert Notification.objects.filter(kind="reminder", state="sent").count() == total


def test_smtp_server_that_stores_then_drops_the_connection(smtp, worker, beats):
    smtp.drop_after_store_every = 5
    total = 40
    reminders_due_within(2, total, events=2, starting_in=5)
    wait_for(lambda: delivered(smtp) >= total, timeout=120, interval=0.1)
    wait_for(
        lambda: Notification.objects.filter(kind="reminder", state="sent").count() == total,
        timeout=60,
    )
    time.sleep(3)

    rows = Notification.objects.filter(kind="reminder")
    uncertain = rows.filter(uncertain_attempts__gt=0)
    scenario = "SMTP server stores every 5th message, then drops the line unanswered"
    record(scenario, "delivered (distinct)", f"{delivered(smtp)} of {total}")
    record(scenario, "connections dropped after storing", smtp.dropped)
    record(scenario, "duplicates left", duplicates(smtp))
    record(scenario, "rows recording an uncertain attempt", uncertain.count())
    assert delivered(smtp) == total
    # Every duplicate is one the dispatcher knows about: an attempt of unknown outcome, on record.
    assert duplicates(smtp) == smtp.dropped == sum(r.uncertain_attempts for r in rows)
    for row in uncertain:
        assert "may have been delivered" in row.last_error
    # The copies share one Message-ID, so mail clients can fold them into one.
    assert len(set(smtp.ids())) == total


def test_admin_save_while_the_broker_is_down(smtp, worker, beats, web, tmp_path):
    check_installed()
    from playwright.sync_api import sync_playwright

    chief = User.objects.create_superuser("chief", "chief@example.com", "pw-chief-123")
    device = TOTPDevice.objects.create(user=chief, name="phone", confirmed=True)
    energy = topic()
    follower("reader@example.com", energy, lead_times=[60], zone="UTC")
    event = upcoming_event(energy, starts_in=dt.timedelta(days=3))
    wait_for(lambda: web.status("/feeds/all.ics") == 200)
    wait_for(lambda: Notification.objects.filter(event=event, kind="reminder").exists(), timeout=60)
    wait_for(lambda: Event.objects.get(pk=event.pk).feeds_revision == event.revision, timeout=60)
    etag = web.request("/feeds/all.ics")[2]["ETag"]
    reminder_due = Notification.objects.get(event=event, kind="reminder").due_at

    services.stop_redis()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used between browser steps
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(web.url + "/admin/login/")
            page.fill("#id_username", "chief")
            page.fill("#id_password", "pw-chief-123")
            page.fill("#id_otp_token", totp_code(device))
            page.click("input[type=submit]")
            page.goto(f"{web.url}/admin/timeline/event/{event.pk}/change/")
            page.fill("#id_title_en", "Talks moved by a day")
            page.fill("#id_start_date", (event.start_date + dt.timedelta(days=1)).isoformat())
            saving = time.monotonic()
            page.click("input[name=_save]")
            page.wait_for_load_state()
            saved_in = time.monotonic() - saving
            message = page.locator(".messagelist").inner_text()
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    assert "was changed successfully" in message
    event.refresh_from_db()
    assert event.title == "Talks moved by a day"
    assert web.request("/feeds/all.ics")[2]["ETag"] == etag  # nothing could be queued yet

    services.start_redis(services.redis_port())
    back = time.monotonic()
    # The first new answer, body and ETag together: another worker may still replay the old one
    # until it next reads the publish stamp (FEED_STAMP_CHECK_SECONDS).
    _, body_bytes, headers = wait_for(
        lambda: (answer := web.request("/feeds/all.ics"))[2]["ETag"] != etag and answer,
        timeout=120,
    )
    feed_after = time.monotonic() - back
    wait_for(
        lambda: Notification.objects.get(event=event, kind="reminder").due_at != reminder_due,
        timeout=120,
    )
    reminder_after = time.monotonic() - back
    body = body_bytes.decode()

    scenario = "Admin save with Redis down"
    record(scenario, "save answered in", f"{saved_in:.2f} s (success)")
    record(scenario, "feed updated after Redis came back", f"{feed_after:.2f} s")
    record(scenario, "reminder moved after Redis came back", f"{reminder_after:.2f} s")
    record(scenario, "worker restarts", worker.restarts())
    assert "Talks moved by a day" in body
    reminder = Notification.objects.get(event=event, kind="reminder")
    assert reminder.due_at == event.start_utc - dt.timedelta(minutes=60)
    english = Feed.objects.get(key="en/all")
    assert english.etag.strip('"') in headers["ETag"]
    # Past the stamp check, every worker serves the new bytes (polls enough to reach both).
    time.sleep(settings.FEED_STAMP_CHECK_SECONDS)
    etags = {web.request("/feeds/all.ics")[2]["ETag"] for _ in range(8)}
    assert etags == {headers["ETag"]}
