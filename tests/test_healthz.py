"""The health check reports the database, the broker and the last worker heartbeat."""

import pytest

from timeline import heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_reports_ok_with_database_and_redis(client):
    heartbeat.record("worker")
    heartbeat.record("dispatcher")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert body["worker_heartbeat"] is not None
    assert body["last_dispatcher_run"] is not None
    assert "last_feed_publish" in body
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_503_when_the_broker_is_unreachable(client, settings):
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
