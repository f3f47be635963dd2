"""Checks behind /healthz: can we reach the database and the broker, and are the worker and the
dispatcher alive (seen within HEALTH_WORKER_MAX_AGE_SECONDS / HEALTH_DISPATCHER_MAX_AGE_SECONDS).

Two scopes: "all" (the service: everything above) and "web" (what a web process itself needs,
the database and the broker), for the web container's own healthcheck: a web server must not be
marked unhealthy, and taken out of service, because the worker is down.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from config.celery import app

from . import heartbeat
from .models import Feed

SCOPES = ("all", "web")


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


def check_age(age: float | None, limit: float) -> str:
    """Return 'ok' if a process was seen *age* seconds ago, within *limit*; else what is wrong."""
    if age is None:
        return "error: never seen"
    if age > limit:
        return f"error: last seen {age:.0f} s ago, more than {limit:g} s"
    return "ok"


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def report(scope: str = "all") -> dict[str, Any]:
    """Return the health report of *scope*: each check, and in "all" the last times seen.

    "failed" names the checks that are not "ok"; the service is healthy when it is empty.
    """
    checks: dict[str, str] = {"database": check_database(), "broker": check_broker()}
    details: dict[str, Any] = {}
    if scope == "all":
        worker = dispatcher = last_publish = None
        if checks["database"] == "ok":
            now = timezone.now()
            worker, dispatcher = (
                heartbeat.last(heartbeat.WORKER),
                heartbeat.last(heartbeat.DISPATCHER),
            )
            last_publish = Feed.objects.aggregate(last=Max("published_at"))["last"]
            worker_age, dispatcher_age = heartbeat.age(worker, now), heartbeat.age(dispatcher, now)
            checks["worker"] = check_age(worker_age, settings.HEALTH_WORKER_MAX_AGE_SECONDS)
            checks["dispatcher"] = check_age(
                dispatcher_age, settings.HEALTH_DISPATCHER_MAX_AGE_SECONDS
            )
        else:
            checks["worker"] = checks["dispatcher"] = "unknown: the database is unreachable"
            worker_age = dispatcher_age = None
        details = {
            "worker_heartbeat": _iso(worker.beat_at if worker else None),
            "worker_age_seconds": worker_age,
            "worker_max_age_seconds": settings.HEALTH_WORKER_MAX_AGE_SECONDS,
            "last_dispatcher_run": _iso(dispatcher.beat_at if dispatcher else None),
            "dispatcher_age_seconds": dispatcher_age,
            "dispatcher_max_age_seconds": settings.HEALTH_DISPATCHER_MAX_AGE_SECONDS,
            "last_feed_publish": _iso(last_publish),
        }
    return {
        "scope": scope,
        **checks,
        **details,
        "failed": [name for name, result in checks.items() if result != "ok"],
    }
