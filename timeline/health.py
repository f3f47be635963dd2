"""Checks behind /healthz: can we reach the database and the broker, and is a worker alive."""

from django.db import connection

from config.celery import app

from . import heartbeat


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


def report() -> dict:
    """Return the health report: each check, and the last worker heartbeat."""
    database = check_database()
    worker = heartbeat.last("worker") if database == "ok" else None
    return {
        "database": database,
        "broker": check_broker(),
        "worker_heartbeat": worker.beat_at.isoformat() if worker else None,
    }
