"""The public timeline: filters that combine in the URL, dates at their precision, few queries."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .factories import ActorFactory, EventFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_seed_timeline_shows_dates_at_their_precision_and_the_track(client):
    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    page = client.get("/en/").content.decode()
    assert "11–12 Nov 2025" in page
    assert "2026, date to be announced" in page
    assert "Kazakhstan&#x27;s first nuclear power plant" in page or "Kazakhstan's first" in page
    oldest = client.get("/en/", {"order": "oldest"}).content.decode()
    assert oldest.index("2022") < oldest.index("2026, date to be announced")


def test_filters_combine_and_live_in_the_url(client):
    energy = TopicFactory(slug="energy", name="Energy")
    putin = ActorFactory(slug="vladimir-putin", name="Vladimir Putin")
    both = EventFactory(title="Energy talks with Putin", countries=["KZ"])
    both.topics.add(energy)
    both.participants.add(putin)
    topic_only = EventFactory(title="Energy forum")
    topic_only.topics.add(energy)
    EventFactory(title="Unrelated opening", kind="opening")
    page = client.get("/en/", {"topic": "energy", "actor": "vladimir-putin"}).content.decode()
    assert "Energy talks with Putin" in page
    assert "Energy forum" not in page and "Unrelated opening" not in page
    assert '<option value="energy" selected>' in page
    page = client.get("/en/", {"kind": "opening"}).content.decode()
    assert "Unrelated opening" in page and "Energy forum" not in page
    assert "No published events match" in client.get("/en/", {"topic": "none"}).content.decode()


def test_cancelled_struck_and_tentative_marked(client):
    EventFactory(title="Called off", status="cancelled")
    EventFactory(title="Maybe", status="tentative")
    page = client.get("/en/").content.decode()
    assert 'class="card status-cancelled"' in page
    assert '<li class="badge status-cancelled">Cancelled</li>' in page
    assert 'class="card status-tentative"' in page
    assert '<li class="badge status-tentative">Tentative</li>' in page


def test_timeline_queries_do_not_grow_with_events(client):
    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get("/en/").status_code == 200
        return len(context.captured_queries)

    def make(n: int) -> None:
        topic, actor = TopicFactory(), ActorFactory()
        for number in range(n):
            event = EventFactory(start_date=dt.date(2024, 1, 1) + dt.timedelta(days=number % 700))
            event.topics.add(topic)
            event.participants.add(actor)

    make(10)
    few = count()
    make(1000)
    assert count() == few
    page = client.get("/en/", {"page": 2}).content.decode()
    assert "Page 2 of" in page


def test_event_page_has_times_calendar_links_related_and_opengraph(client):
    energy = TopicFactory(slug="energy")
    talks = EventFactory(
        title="Talks", precision="minute", start_date=dt.date(2025, 11, 12), start_time=dt.time(10)
    )
    talks.topics.add(energy)
    sibling = EventFactory(title="Energy forum")
    sibling.topics.add(energy)
    page = client.get(talks.get_absolute_url()).content.decode()
    assert "12 Nov 2025, 10:00, Asia/Almaty time" in page
    assert "Wed, 12 Nov 2025, 05:00 UTC" in page
    assert f'href="/en/events/{talks.slug}.ics"' in page
    assert "dates=20251112T050000Z%2F20251112T060000Z" in page  # Google: UTC, one hour by default
    assert "outlook.live.com/calendar/0/deeplink/compose" in page
    assert "Energy forum" in page
    assert '<meta property="og:title" content="Talks">' in page
    assert f"/en/subscribe/?event={talks.slug}" in page
