"""Reminders through the production processes: celery beat, a worker, Redis, a real SMTP server."""

import datetime as dt
import os
import time

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from timeline.models import Notification
from timeline.notifications import scheduling

from .notify_helpers import follower, topic, upcoming_event
from .processes import start_celery, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
INTERVAL = 1.0


@pytest.fixture
def beat(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPATCH_INTERVAL_SECONDS", str(INTERVAL))
    process = start_celery("beat", tmp_path / "beat.log")
    yield process
    stop(process)


def test_reminders_on_time_and_nothing_lost_to_flushall_and_a_worker_restart(
    smtp, celery_worker_process, beat, tmp_path
):
    energy = topic()
    for number in range(30):
        follower(f"r{number}@example.com", energy, lead_times=(60,))
    event = upcoming_event(energy, starts_in=dt.timedelta(minutes=60, seconds=12))
    scheduling.sync_event(event.pk)
    due = Notification.objects.filter(kind="reminder").first().due_at.timestamp()
    assert due > time.time() + 5

    # Redis loses everything (queued dispatch tasks included) and the worker goes down.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushall()
    stop(celery_worker_process)
    restarted = start_celery("worker", tmp_path / "worker-2.log")
    try:
        wait_for(lambda: len(smtp.messages) >= 30, timeout=90)
        time.sleep(2 * INTERVAL)  # nothing more arrives
    finally:
        stop(restarted)
    ids = smtp.ids()
    assert len(ids) == len(set(ids)) == 30
    assert Notification.objects.filter(state="sent").count() == 30
    lateness = [arrival - due for arrival in smtp.arrivals]
    print(f"lateness: min {min(lateness):.2f} s, max {max(lateness):.2f} s")
    assert min(lateness) >= -0.5  # never before it is due (clock rounding aside)
    assert max(lateness) <= INTERVAL + 3.0  # within the dispatch interval, plus a send


def test_a_sent_reminder_is_not_sent_again_by_a_second_beat(smtp, celery_worker_process, tmp_path):
    os.environ["DISPATCH_INTERVAL_SECONDS"] = str(INTERVAL)
    beats = [start_celery("beat", tmp_path / f"beat-{n}.log") for n in range(2)]
    try:
        energy = topic()
        for number in range(20):
            follower(f"r{number}@example.com", energy, lead_times=(60,))
        event = upcoming_event(energy, starts_in=dt.timedelta(minutes=60, seconds=3))
        scheduling.sync_event(event.pk)
        wait_for(lambda: len(smtp.messages) >= 20, timeout=60)
        time.sleep(3 * INTERVAL)
    finally:
        for process in beats:
            stop(process)
        os.environ.pop("DISPATCH_INTERVAL_SECONDS", None)
    ids = smtp.ids()
    assert len(ids) == len(set(ids)) == 20
    assert timezone.now() > Notification.objects.first().due_at
