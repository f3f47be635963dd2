"""The metrics, built at scrape time from what every process shares: the database and the cache.

Nothing is counted in a process's memory: web runs on several hosts with several gunicorn
workers each, and much of what is measured happens in the Celery worker on another host. A
scrape of any one web process therefore answers for the whole service.
"""

import datetime as dt
import logging
from collections.abc import Iterator

from django.db.models import Case, CharField, Count, F, Min, Value, When
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from .. import heartbeat
from ..models import Event, Heartbeat, Notification
from ..notifications.scheduling import SUPPRESSED
from . import counters

log = logging.getLogger(__name__)
Kind, State = Notification.Kind, Notification.State
# How an outbox row ended: sent, failed for good, withheld because the address is suppressed
# (a bounce or a complaint), or skipped for another reason (unfollowed, paused, too late...).
OUTCOMES = ("sent", "failed", "suppressed", "skipped")
NEVER = float("inf")


def _age(moment: dt.datetime | None, now: dt.datetime) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment else 0.0


def outbox_metrics(now: dt.datetime) -> Iterator[Metric]:
    """Yield the outbox's backlog, the age of its oldest due mail, and its mails by outcome."""
    due = GaugeMetricFamily(
        "timeline_outbox_due_mails",
        "Outbox mails due and not yet sent (pending or being sent, due_at <= now), by kind.",
        labels=["kind"],
    )
    rows = (
        Notification.objects.filter(state__in=(State.PENDING, State.SENDING), due_at__lte=now)
        .order_by()
        .values("kind")
        .annotate(mails=Count("pk"), oldest=Min("due_at"))
    )
    backlog = {row["kind"]: row for row in rows}
    for kind in Kind.values:
        due.add_metric([kind], backlog[kind]["mails"] if kind in backlog else 0)
    yield due
    oldest = min((row["oldest"] for row in backlog.values()), default=None)
    yield GaugeMetricFamily(
        "timeline_outbox_oldest_due_age_seconds",
        "Seconds since the oldest due, unsent outbox mail fell due (0 if none); a mail waiting "
        "to be retried falls due again at its retry time.",
        value=_age(oldest, now),
    )
    outcome = Case(
        When(state=State.SKIPPED, last_error__startswith=SUPPRESSED, then=Value("suppressed")),
        default=F("state"),
        output_field=CharField(),
    )
    done = (
        Notification.objects.filter(state__in=(State.SENT, State.FAILED, State.SKIPPED))
        .order_by()
        .values("kind", outcome=outcome)
        .annotate(mails=Count("pk"))
    )
    found = {(row["kind"], row["outcome"]): row["mails"] for row in done}
    finished = GaugeMetricFamily(
        "timeline_outbox_mails",
        "Outbox mails by kind and how they ended, as the outbox holds them now: sent (accepted "
        "by the SMTP server), failed (refused for good, or given up after SEND_MAX_ATTEMPTS), "
        "suppressed (withheld: the address is suppressed after a bounce or a complaint), skipped "
        "(not sent for another reason). A gauge, not a counter: an admin can delete rows (they "
        "also go with their subscriber or event) and retry failed ones.",
        labels=["kind", "outcome"],
    )
    for kind in Kind.values:
        for name in OUTCOMES:
            finished.add_metric([kind, name], found.get((kind, name), 0))
    yield finished


def process_metrics(now: dt.datetime) -> Iterator[Metric]:
    """Yield how long ago the worker and the dispatcher were last seen."""
    beats = {beat.name: beat for beat in Heartbeat.objects.all()}
    for name, metric, help_text in (
        (
            heartbeat.WORKER,
            "timeline_worker_heartbeat_age_seconds",
            "Seconds since a Celery worker last ran the heartbeat task (beat sends it every 30 s); "
            "+Inf if never.",
        ),
        (
            heartbeat.DISPATCHER,
            "timeline_dispatcher_last_run_age_seconds",
            "Seconds since the mail dispatcher last started a run (beat starts one every "
            "DISPATCH_INTERVAL_SECONDS); +Inf if never.",
        ),
    ):
        age = heartbeat.age(beats.get(name), now)
        yield GaugeMetricFamily(metric, help_text, value=NEVER if age is None else age)


def feed_metrics(now: dt.datetime) -> Iterator[Metric]:
    """Yield how many edits the feeds do not show yet, and how old the oldest is."""
    owed = Event.objects.exclude(feeds_revision=F("revision")).aggregate(
        events=Count("pk"), oldest=Min("updated_at")
    )
    yield GaugeMetricFamily(
        "timeline_feed_unpublished_edits",
        "Events whose latest edit the calendar feeds do not serve yet.",
        value=owed["events"],
    )
    yield GaugeMetricFamily(
        "timeline_feed_oldest_unpublished_edit_age_seconds",
        "Seconds since the oldest edit the calendar feeds do not serve yet was made (0 if none).",
        value=_age(owed["oldest"], now),
    )


def _le(bound: float) -> str:
    """Write a bucket's upper bound as Prometheus does: "0.5", "1.0", "+Inf"."""
    return "+Inf" if bound == NEVER else repr(float(bound))


def _histogram(histogram: counters.Histogram, name: str, help_text: str) -> Metric:
    seen = counters.read_histogram(histogram)
    family = HistogramMetricFamily(name, help_text, labels=[])
    buckets = [(_le(bound), float(count)) for bound, count in seen.buckets]
    family.add_metric([], buckets, seen.total)
    return family


def shared_counter_metrics() -> Iterator[Metric]:
    """Yield the counters and histograms every process keeps in the cache."""
    counts = counters.read_counters()
    responses = CounterMetricFamily(
        "timeline_http_429_responses",
        "Answers of 429 Too Many Requests: public form posts over a rate limit (rate_limit), "
        "and admin logins refused while locked out (admin_lockout).",
        labels=["cause"],
    )
    responses.add_metric(["rate_limit"], counts[counters.RATE_LIMITED])
    responses.add_metric(["admin_lockout"], counts[counters.ADMIN_LOCKED_OUT])
    yield responses
    yield CounterMetricFamily(
        "timeline_admin_lockouts",
        "Admin lockouts begun: failed logins that reached AXES_FAILURE_LIMIT from one address, "
        "or AXES_USERNAME_FAILURE_LIMIT for one username from anywhere.",
        value=counts[counters.ADMIN_LOCKOUTS],
    )
    yield _histogram(
        counters.PUBLISH_DURATION,
        "timeline_feed_publish_duration_seconds",
        "Seconds taken to publish one calendar feed (one subject in one language), finished or "
        "failed.",
    )
    yield _histogram(
        counters.PUBLISH_LAG,
        "timeline_feed_publish_lag_seconds",
        "Seconds from an edit of an event to its feeds being stored for serving, one observation "
        "per edited event published.",
    )


def _up(source: str, up: bool) -> Metric:
    return GaugeMetricFamily(
        f"timeline_metrics_{source}_up",
        f"1 if this scrape could read the {source}, else 0 (its metrics are then missing).",
        value=1 if up else 0,
    )


class TimelineCollector:
    """A prometheus_client collector reading the database and the cache at each scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        try:
            # Built whole before yielding: a failure halfway must not leave half the families.
            from_database = [
                *outbox_metrics(now),
                *process_metrics(now),
                *feed_metrics(now),
            ]
        except Exception:  # the database is down: say so, and still give the cache's numbers
            log.warning("metrics: database unavailable", exc_info=True)
            from_database = []
        yield from from_database
        yield _up("database", bool(from_database))
        try:
            from_cache = list(shared_counter_metrics())
        except Exception:  # the cache is down: say so, and still give the database's numbers
            log.warning("metrics: cache unavailable", exc_info=True)
            from_cache = []
        yield from from_cache
        yield _up("cache", bool(from_cache))


def exposition() -> bytes:
    """Return every metric in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TimelineCollector())
    return generate_latest(registry)
