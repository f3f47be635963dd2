"""Checks behind /healthz: can we reach the database and the broker, and is a worker alive."""

from typing import Any

from django.db import connection
from django.db.models import Max

from config.celery import app

from . import heartbeat
from .models import Feed


def check_database() -> str:
    """Return 'ok' if a query runs, else the error."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure is the answer here
        return f"error: {exc.__class__.__name__}"


def check_broker() -> str:
    """Return 'ok' if the Celery broker accepts a connection within a second or two."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return "ok"
    except Exception as exc:  # any failure is the answer here
        return f"error: {exc.__class__.__name__}"


def report() -> dict[str, Any]:
    """Return the health report: each check, the last worker, dispatcher and publish times."""
    database = check_database()
    worker = dispatcher = last_publish = None
    if database == "ok":
        worker, dispatcher = heartbeat.last("worker"), heartbeat.last("dispatcher")
        last_publish = Feed.objects.aggregate(last=Max("published_at"))["last"]
    return {
        "database": database,
        "broker": check_broker(),
        "worker_heartbeat": worker.beat_at.isoformat() if worker else None,
        "last_dispatcher_run": dispatcher.beat_at.isoformat() if dispatcher else None,
        "last_feed_publish": last_publish.isoformat() if last_publish else None,
    }
