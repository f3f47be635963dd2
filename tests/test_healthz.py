"""The health check: the database, the broker, and a worker and a dispatcher seen lately.

/healthz answers for the service (503 when the worker or the dispatcher has not been seen for
longer than its threshold); /healthz?scope=web for the web process alone (the web container's
healthcheck), which the worker's absence must not fail.
"""

import datetime as dt

import pytest
from django.utils import timezone

from timeline import heartbeat
from timeline.models import Heartbeat

pytestmark = pytest.mark.django_db


def beat(name: str, seconds_ago: float) -> None:
    heartbeat.record(name)
    Heartbeat.objects.filter(name=name).update(
        beat_at=timezone.now() - dt.timedelta(seconds=seconds_ago)
    )


@pytest.fixture
def unreachable_broker():
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    yield
    app.conf.broker_url = original


def test_healthz_reports_ok_with_database_redis_and_a_fresh_worker_and_dispatcher(client):
    heartbeat.record(heartbeat.WORKER)
    heartbeat.record(heartbeat.DISPATCHER)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert body["worker"] == "ok" and body["dispatcher"] == "ok"
    assert body["failed"] == []
    assert body["worker_heartbeat"] is not None
    assert body["last_dispatcher_run"] is not None
    assert 0 <= body["worker_age_seconds"] < body["worker_max_age_seconds"]
    assert 0 <= body["dispatcher_age_seconds"] < body["dispatcher_max_age_seconds"]
    assert "last_feed_publish" in body
    assert "no-cache" in response["Cache-Control"]


def test_a_worker_not_seen_for_longer_than_the_threshold_is_a_503(client, settings):
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 120
    beat(heartbeat.WORKER, seconds_ago=300)
    heartbeat.record(heartbeat.DISPATCHER)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker"]
    assert body["worker"] == "error: last seen 300 s ago, more than 120 s"
    assert 300 <= body["worker_age_seconds"] < 400
    assert body["worker_max_age_seconds"] == 120
    assert body["dispatcher"] == "ok" and body["database"] == "ok"


def test_a_dispatcher_not_run_for_longer_than_the_threshold_is_a_503(client, settings):
    settings.HEALTH_DISPATCHER_MAX_AGE_SECONDS = 60
    heartbeat.record(heartbeat.WORKER)
    beat(heartbeat.DISPATCHER, seconds_ago=90)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["dispatcher"]
    assert response.json()["dispatcher"].startswith("error: last seen 9")


def test_the_thresholds_are_settings(client, settings):
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 600
    settings.HEALTH_DISPATCHER_MAX_AGE_SECONDS = 600
    beat(heartbeat.WORKER, seconds_ago=300)
    beat(heartbeat.DISPATCHER, seconds_ago=300)
    assert client.get("/healthz").status_code == 200


def test_a_worker_and_dispatcher_never_seen_are_a_503(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker", "dispatcher"]
    assert body["worker"] == body["dispatcher"] == "error: never seen"
    assert body["worker_heartbeat"] is None and body["worker_age_seconds"] is None


def test_the_web_scope_does_not_depend_on_the_worker(client):
    # What the web container's healthcheck asks: a web server is fine while the worker is down.
    beat(heartbeat.WORKER, seconds_ago=3600)
    response = client.get("/healthz?scope=web")
    assert response.status_code == 200
    body = response.json()
    assert body == {"scope": "web", "database": "ok", "broker": "ok", "failed": []}
    assert "no-cache" in response["Cache-Control"]


def test_an_unknown_scope_is_refused(client):
    assert client.get("/healthz?scope=everything").status_code == 400


@pytest.mark.parametrize("path", ["/healthz", "/healthz?scope=web"])
def test_healthz_answers_503_when_the_broker_is_unreachable(client, unreachable_broker, path):
    heartbeat.record(heartbeat.WORKER)
    heartbeat.record(heartbeat.DISPATCHER)
    response = client.get(path)
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["failed"] == ["broker"]
