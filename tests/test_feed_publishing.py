"""An admin edit reaches the feeds through a real Celery worker and Redis; the delay is reported."""

import datetime as dt
import time

import pytest
from django.urls import reverse

from timeline import tasks
from timeline.models import Heartbeat

from .admin_forms import change_form_data
from .factories import EventFactory, TopicFactory
from .processes import wait_for
from .two_factor import log_in_verified

pytestmark = pytest.mark.slow


def test_admin_edit_republishes_affected_feeds(client, superuser, celery_worker_process, capsys):
    energy, education = TopicFactory(slug="energy"), TopicFactory(slug="education")
    event = EventFactory(precision="minute", start_time=dt.time(10), countries=["KZ"])
    event.topics.add(energy)
    bystander = EventFactory(countries=["RU"])
    bystander.topics.add(education)

    before = {
        url: client.get(url)["ETag"] for url in ("/feeds/all.ics", "/feeds/topics/education.ics")
    }
    # The worker is up and consuming before the clock starts.
    tasks.record_heartbeat.delay("ready")
    wait_for(lambda: Heartbeat.objects.filter(name="ready").exists(), timeout=60)

    log_in_verified(client, superuser)
    url = reverse("admin:timeline_event_change", args=[event.pk])
    data = change_form_data(client.get(url))
    data["start_time"] = "11:00"
    assert client.post(url, data).status_code == 302
    saved_at = time.monotonic()

    def new_etag():
        response = client.get("/feeds/all.ics")
        return response if response["ETag"] != before["/feeds/all.ics"] else None

    # Generous: the machine is shared. The latency is reported, not asserted.
    response = wait_for(new_etag, timeout=60, interval=0.05)
    elapsed = time.monotonic() - saved_at
    with capsys.disabled():
        print(f"\n[latency] feed republished {elapsed:.3f} s after the admin save")
    text = response.content.decode()
    assert "SEQUENCE:1\r\n" in text
    assert "DTSTART;TZID=Asia/Almaty:20251111T110000" in text

    assert (
        client.get("/feeds/topics/education.ics")["ETag"] == before["/feeds/topics/education.ics"]
    )
    again = client.get("/feeds/all.ics", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
