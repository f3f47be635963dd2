"""/metrics: Prometheus' text format for whoever holds METRICS_TOKEN, numbers read at scrape time.

Each figure is checked after the real thing happened: rows written, mail sent through a real
SMTP server, forms posted over their limit, an admin login locked out, feeds published.
"""

import datetime as dt
import urllib.request
import uuid

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from timeline import heartbeat, tasks
from timeline.feeds import publishing
from timeline.metrics import counters
from timeline.metrics.collector import OUTCOMES
from timeline.models import Event, Heartbeat, Notification, Subscriber
from timeline.notifications import dispatch, scheduling

from .bounce_helpers import read_bounce, reminded_reader, report
from .factories import EventFactory, NotificationFactory, TopicFactory
from .notify_helpers import follower, upcoming_event
from .processes import (
    free_port,
    gunicorn_as_deployed,
    http_status,
    start_celery,
    start_server,
    stop,
    wait_for,
)
from .test_security_settings import PRODUCTION, manage, settings_in

pytestmark = pytest.mark.django_db
Kind, State = Notification.Kind, Notification.State
TOKEN = "metrics-test-token-not-secret"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def metrics_settings(settings):
    """The endpoint on, and this test's counts apart from every other test's."""
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_KEY_PREFIX = f"metrics-test-{uuid.uuid4().hex}"


def scrape(client: Client | None = None, **headers) -> dict[str, dict[tuple, float]]:
    """Return every sample of /metrics: {sample name: {sorted label pairs: value}}."""
    response = (client or Client()).get("/metrics", **(headers or AUTH))
    assert response.status_code == 200, response.content
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def buckets(samples, name: str) -> dict[str, float]:
    return {dict(labels)["le"]: count for labels, count in samples[f"{name}_bucket"].items()}


# --- who may read them ------------------------------------------------------------------------
def test_the_token_reads_the_metrics_in_prometheus_format(client):
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-store" in response["Cache-Control"]
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert names >= {
        "timeline_outbox_due_mails",
        "timeline_outbox_oldest_due_age_seconds",
        "timeline_outbox_mails",
        "timeline_worker_heartbeat_age_seconds",
        "timeline_dispatcher_last_run_age_seconds",
        "timeline_feed_unpublished_edits",
        "timeline_feed_oldest_unpublished_edit_age_seconds",
        "timeline_feed_publish_duration_seconds",
        "timeline_feed_publish_lag_seconds",
        "timeline_http_429_responses",
        "timeline_admin_lockouts",
        "timeline_metrics_database_up",
        "timeline_metrics_cache_up",
    }
    assert all(name.startswith("timeline_") for name in names)
    text = response.content.decode()
    assert "# HELP timeline_outbox_due_mails Outbox mails due and not yet sent" in text
    assert "# TYPE timeline_admin_lockouts_total counter" in text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ", TOKEN],
)
def test_anyone_without_the_token_finds_nothing(client, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 404
    assert b"timeline_" not in response.content


def test_without_a_token_set_the_endpoint_is_not_there(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_only_gets_are_answered_and_only_to_the_token(client):
    assert client.post("/metrics").status_code == 404
    assert client.post("/metrics", **AUTH).status_code == 405


def test_allowed_networks_narrow_who_may_scrape(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "2001:db8::/32"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics", **AUTH).status_code == 200
    assert Client(REMOTE_ADDR="2001:db8::7").get("/metrics", **AUTH).status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.9").get("/metrics", **AUTH).status_code == 404


def test_behind_our_proxy_the_forwarded_client_address_is_the_one_checked(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    inside = Client(HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert inside.get("/metrics", **AUTH).status_code == 200
    outside = Client(HTTP_X_FORWARDED_FOR="192.0.2.9")
    assert outside.get("/metrics", **AUTH).status_code == 404


def test_production_defaults_keep_the_endpoint_closed_and_refuse_a_malformed_network():
    assert settings_in("METRICS_TOKEN", "METRICS_ALLOWED_NETWORKS", **PRODUCTION) == ["''", "[]"]
    result = manage("check", **PRODUCTION, METRICS_ALLOWED_NETWORKS="10.0.0.0/8,prometheus")
    assert result.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS" in result.stderr and "prometheus" in result.stderr


def test_the_address_has_no_language_prefix_and_is_never_redirected(client):
    # Like /healthz: a page path would be redirected to /ru/... by the reader's language.
    response = client.get("/metrics", HTTP_ACCEPT_LANGUAGE="ru", **AUTH)
    assert response.status_code == 200
    assert "Vary" not in response or "Accept-Language" not in response["Vary"]
    assert client.get("/metrics", HTTP_ACCEPT_LANGUAGE="ru").status_code == 404
    assert client.get("/ru/metrics", **AUTH).status_code == 404


# --- the outbox -------------------------------------------------------------------------------
def test_backlog_and_age_of_the_oldest_due_mail():
    before = scrape()
    assert value(before, "timeline_outbox_oldest_due_age_seconds") == 0
    assert sum(before["timeline_outbox_due_mails"].values()) == 0
    now = timezone.now()
    NotificationFactory(due_at=now - dt.timedelta(minutes=10))
    NotificationFactory(due_at=now - dt.timedelta(minutes=2))
    NotificationFactory(kind=Kind.CONFIRMATION, event=None, due_at=now - dt.timedelta(minutes=1))
    # Being sent by a dispatcher: still not sent.
    NotificationFactory(state=State.SENDING, due_at=now - dt.timedelta(minutes=1))
    # Not due yet, or done: not part of the backlog.
    NotificationFactory(due_at=now + dt.timedelta(hours=1))
    NotificationFactory(state=State.SENT, due_at=now - dt.timedelta(hours=5))
    NotificationFactory(state=State.FAILED, due_at=now - dt.timedelta(hours=5))

    after = scrape()

    assert value(after, "timeline_outbox_due_mails", kind="reminder") == 3
    assert value(after, "timeline_outbox_due_mails", kind="confirmation") == 1
    assert value(after, "timeline_outbox_due_mails", kind="digest") == 0
    assert 600 <= value(after, "timeline_outbox_oldest_due_age_seconds") < 5 * 3600


def test_mails_sent_failed_suppressed_and_skipped_by_kind(smtp):
    # One reminder really sent to a reader.
    reader, energy, mail = reminded_reader(smtp)
    assert value(scrape(), "timeline_outbox_mails", kind="reminder", outcome="sent") == 1
    # Another reader's server refuses our mail for good; a third reader will pause.
    refused = follower("gone@example.com", energy, lead_times=(60,))
    smtp.refuse.add(refused.email)
    paused = follower("away@example.com", energy, lead_times=(60,))
    soon = upcoming_event(energy, starts_in=dt.timedelta(minutes=45))
    scheduling.sync_event(soon.pk)  # a reminder for each of the three, due now
    # A hard bounce about the first mail suppresses the reader's address; the dispatcher finds
    # the reminder still pending (the outbox not yet brought in line) and withholds it.
    assert read_bounce(report("postfix_hard.eml", mail))[0] == 0
    Subscriber.objects.filter(pk=paused.pk).update(paused=True)

    dispatch.dispatch_due()

    samples = scrape()
    outcome = {
        name: value(samples, "timeline_outbox_mails", kind="reminder", outcome=name)
        for name in OUTCOMES
    }
    assert outcome == {"sent": 1, "failed": 1, "suppressed": 1, "skipped": 1}
    withheld = Notification.objects.get(subscriber=reader, event=soon)
    assert withheld.last_error == "Address suppressed (hard bounce)."
    assert value(samples, "timeline_outbox_mails", kind="news", outcome="sent") == 0
    assert value(samples, "timeline_outbox_due_mails", kind="reminder") == 0


def test_a_suppression_withholds_pending_mail_as_suppressed(
    smtp, django_capture_on_commit_callbacks
):
    reader, energy, mail = reminded_reader(smtp)
    later = upcoming_event(energy, starts_in=dt.timedelta(days=3))
    scheduling.sync_event(later.pk)
    pending = Notification.objects.get(subscriber=reader, event=later, state=State.PENDING)

    # The suppression brings the outbox in line after commit, as it does in production.
    with django_capture_on_commit_callbacks(execute=True):
        assert read_bounce(report("postfix_hard.eml", mail))[0] == 0

    pending.refresh_from_db()
    assert pending.state == State.SKIPPED
    assert pending.last_error == "Address suppressed (hard bounce)."
    assert value(scrape(), "timeline_outbox_mails", kind="reminder", outcome="suppressed") == 1


# --- the worker and the dispatcher ------------------------------------------------------------
def test_heartbeat_ages_are_infinite_until_seen_then_count_from_the_last_beat():
    never = scrape()
    assert value(never, "timeline_worker_heartbeat_age_seconds") == float("inf")
    assert value(never, "timeline_dispatcher_last_run_age_seconds") == float("inf")

    heartbeat.record(heartbeat.WORKER)
    heartbeat.record(heartbeat.DISPATCHER)
    Heartbeat.objects.filter(name=heartbeat.WORKER).update(
        beat_at=timezone.now() - dt.timedelta(minutes=5)
    )
    seen = scrape()

    assert 300 <= value(seen, "timeline_worker_heartbeat_age_seconds") < 3600
    assert 0 <= value(seen, "timeline_dispatcher_last_run_age_seconds") < 300


# --- feeds ------------------------------------------------------------------------------------
def test_unpublished_edits_then_publish_durations_and_lag():
    topic = TopicFactory(name="Energy")
    events = [EventFactory(), EventFactory()]
    events[0].topics.add(topic)
    Event.objects.filter(pk=events[0].pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=3)
    )
    waiting = scrape()
    assert value(waiting, "timeline_feed_unpublished_edits") == 2
    assert value(waiting, "timeline_feed_oldest_unpublished_edit_age_seconds") >= 180
    assert value(waiting, "timeline_feed_publish_duration_seconds_count") == 0
    assert value(waiting, "timeline_feed_publish_lag_seconds_count") == 0

    keys = publishing.publish_changes([event.pk for event in events])

    published = scrape()
    assert value(published, "timeline_feed_unpublished_edits") == 0
    assert value(published, "timeline_feed_oldest_unpublished_edit_age_seconds") == 0
    # One duration per feed published (each feed in each language).
    assert value(published, "timeline_feed_publish_duration_seconds_count") == len(keys) > 0
    assert value(published, "timeline_feed_publish_duration_seconds_sum") > 0
    durations = buckets(published, "timeline_feed_publish_duration_seconds")
    assert durations["+Inf"] == len(keys)
    assert list(durations.values()) == sorted(durations.values())  # cumulative
    # One lag per edit published: the back-dated one waited three minutes and more.
    assert value(published, "timeline_feed_publish_lag_seconds_count") == 2
    assert value(published, "timeline_feed_publish_lag_seconds_sum") >= 180
    lags = buckets(published, "timeline_feed_publish_lag_seconds")
    assert lags["120.0"] == 1 and lags["300.0"] == 2

    # Nothing owed any more: publishing again times the feeds, adds no lag.
    publishing.publish_changes([event.pk for event in events])
    again = scrape()
    assert value(again, "timeline_feed_publish_duration_seconds_count") == 2 * len(keys)
    assert value(again, "timeline_feed_publish_lag_seconds_count") == 2


def test_an_edit_waits_in_the_gauge_until_beat_catches_it_up():
    event = EventFactory()
    publishing.publish_changes([event.pk])
    assert value(scrape(), "timeline_feed_unpublished_edits") == 0
    Event.objects.filter(pk=event.pk).update(
        revision=F("revision") + 1, updated_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert value(scrape(), "timeline_feed_oldest_unpublished_edit_age_seconds") >= 60

    publishing.publish_owed()

    caught_up = scrape()
    assert value(caught_up, "timeline_feed_unpublished_edits") == 0
    assert value(caught_up, "timeline_feed_publish_lag_seconds_count") == 2


# --- 429s and lockouts ------------------------------------------------------------------------
def test_rate_limited_posts_are_counted(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "form-client": "2/h", "form-address": "9/h"}
    topic = TopicFactory(name="Energy")
    EventFactory().topics.add(topic)
    visitor = Client(REMOTE_ADDR="198.51.100.1")

    statuses = [
        visitor.post(
            reverse("timeline:subscribe"),
            {
                "email": f"r{n}@example.com",
                "lead_times": ["60"],
                "timezone": "UTC",
                "topics": [topic.pk],
            },
        ).status_code
        for n in range(5)
    ]

    assert statuses == [302, 302, 429, 429, 429]
    samples = scrape()
    assert value(samples, "timeline_http_429_responses_total", cause="rate_limit") == 3
    assert value(samples, "timeline_http_429_responses_total", cause="admin_lockout") == 0


def test_an_admin_lockout_is_counted_once_and_each_refusal_as_a_429(settings, django_user_model):
    django_user_model.objects.create_user("eddie", "eddie@example.com", "pw-123", is_staff=True)
    guesser = Client(REMOTE_ADDR="203.0.113.5")

    def log_in(password: str) -> int:
        data = {"username": "eddie", "password": password}
        return guesser.post("/admin/login/?next=/admin/", data).status_code

    statuses = [log_in("wrong") for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = scrape()
    assert value(locked, "timeline_admin_lockouts_total") == 1
    assert value(locked, "timeline_http_429_responses_total", cause="admin_lockout") == 1

    # While locked, even the right password is refused: more 429s, still one lockout.
    assert log_in("pw-123") == 429
    assert log_in("wrong") == 429
    still = scrape()
    assert value(still, "timeline_admin_lockouts_total") == 1
    assert value(still, "timeline_http_429_responses_total", cause="admin_lockout") == 3
    assert value(still, "timeline_http_429_responses_total", cause="rate_limit") == 0


# --- shared, and surviving a cache outage -----------------------------------------------------
def test_counts_are_shared_through_the_cache_not_kept_per_process():
    # What another process (the worker, another web host) counted is in the cache already.
    counters.increment(counters.RATE_LIMITED, 4)
    counters.observe(counters.PUBLISH_LAG, [0.2, 7.0, 99999.0])
    samples = scrape()
    assert value(samples, "timeline_http_429_responses_total", cause="rate_limit") == 4
    lags = buckets(samples, "timeline_feed_publish_lag_seconds")
    assert (lags["0.5"], lags["10.0"], lags["14400.0"], lags["+Inf"]) == (1, 2, 2, 3)
    assert value(samples, "timeline_feed_publish_lag_seconds_sum") == pytest.approx(100006.2)


def test_without_the_cache_counting_is_lost_but_nothing_fails(settings, caplog):
    NotificationFactory(due_at=timezone.now() - dt.timedelta(minutes=1))
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    counters.increment(counters.RATE_LIMITED)  # logged, not raised
    assert "not counted: cache unavailable" in caplog.text

    samples = scrape()

    assert value(samples, "timeline_metrics_cache_up") == 0
    assert "timeline_http_429_responses_total" not in samples
    assert value(samples, "timeline_metrics_database_up") == 1
    assert value(samples, "timeline_outbox_due_mails", kind="reminder") == 1


# --- as deployed ------------------------------------------------------------------------------
@pytest.mark.slow
def test_any_web_process_answers_for_every_process(
    transactional_db, tmp_path, settings, monkeypatch
):
    """Counts made here, and publishes timed in a Celery worker, read through gunicorn."""
    from config.celery import app

    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    monkeypatch.setenv("METRICS_KEY_PREFIX", settings.METRICS_KEY_PREFIX)
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "form-client": "1/h"}
    topic = TopicFactory(name="Energy")
    event = EventFactory()
    event.topics.add(topic)
    keys = publishing.keys_for_events([event.pk])
    app.control.purge()  # messages left by earlier runs belong to other databases
    worker = start_celery("worker", tmp_path / "worker.log")
    port = free_port()
    web = start_server(gunicorn_as_deployed(port, "--workers", "2"), tmp_path / "web.log")
    try:
        # A 429 answered in this process.
        data = {"email": "r@example.com", "lead_times": ["60"], "timezone": "UTC"}
        data["topics"] = [topic.pk]
        visitor = Client(REMOTE_ADDR="198.51.100.1")
        statuses = [visitor.post(reverse("timeline:subscribe"), data).status_code for _ in range(2)]
        assert statuses == [302, 429]
        # The worker publishes the event's feeds, as after an admin save.
        tasks.publish_feeds.delay([event.pk], [])
        # Generous: on a busy machine a worker can take a minute or two to start.
        wait_for(lambda: not Event.objects.exclude(feeds_revision=F("revision")).exists(), 300)
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/healthz?scope=web") == 200, 300)

        # Each gunicorn worker answers alike; ask a few times.
        for _ in range(4):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
            samples = {
                sample.name: sample
                for family in text_string_to_metric_families(body)
                for sample in family.samples
                if not sample.labels or sample.labels.get("cause") == "rate_limit"
            }
            assert samples["timeline_http_429_responses_total"].value == 1
            assert samples["timeline_feed_publish_duration_seconds_count"].value == len(keys)
            assert samples["timeline_feed_publish_lag_seconds_count"].value == 1
            assert samples["timeline_feed_unpublished_edits"].value == 0
    finally:
        stop(web)
        stop(worker)
        print((tmp_path / "worker.log").read_text()[-3000:])
