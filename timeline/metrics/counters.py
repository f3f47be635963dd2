"""Counters and histograms kept in Django's cache (Redis in production), shared by every process.

Web hosts, their gunicorn workers and the Celery worker all count into the same keys, so a
scrape of any one web process sees everything. Without Redis (`make run`) the cache is the
process's memory and each process counts alone. A cache outage loses the counts made during it
and is logged; it never fails the request or the task that was being counted.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

# Histogram sums are kept as whole microseconds: the cache adds integers only.
MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class Histogram:
    """A histogram of seconds: its name and its buckets' upper bounds (+Inf is implied)."""

    name: str
    bounds: tuple[float, ...]


@dataclass(frozen=True)
class HistogramCounts:
    """What a histogram has seen: cumulative (bound, count) pairs ending at +Inf, and the sum."""

    buckets: list[tuple[float, int]]
    total: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


# Answers of 429 Too Many Requests, by cause.
RATE_LIMITED = "http_429:rate_limit"
ADMIN_LOCKED_OUT = "http_429:admin_lockout"
# Admin lockouts begun: a failed login that reached a failure limit.
ADMIN_LOCKOUTS = "admin_lockouts"
COUNTERS = (RATE_LIMITED, ADMIN_LOCKED_OUT, ADMIN_LOCKOUTS)

PUBLISH_DURATION = Histogram(
    "feed_publish_duration", (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
)
# An edit to the moment its feeds serve it: beat's catch-up runs every FEED_CATCH_UP_SECONDS.
PUBLISH_LAG = Histogram(
    "feed_publish_lag", (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 3600, 4 * 3600)
)
HISTOGRAMS = (PUBLISH_DURATION, PUBLISH_LAG)


def _key(name: str) -> str:
    return f"{settings.METRICS_KEY_PREFIX}:{name}"


def _bucket_keys(histogram: Histogram) -> list[str]:
    """Return the keys of the histogram's buckets (each counts only its own range), +Inf last."""
    return [_key(f"{histogram.name}:le:{bound:g}") for bound in histogram.bounds] + [
        _key(f"{histogram.name}:le:+Inf")
    ]


def _sum_key(histogram: Histogram) -> str:
    return _key(f"{histogram.name}:sum_us")


def _add(key: str, amount: int) -> None:
    # Counters never expire: Prometheus takes a reset (a Redis restart) in its stride.
    try:
        cache.add(key, 0, timeout=None)
        cache.incr(key, amount)
    except ValueError:  # gone between add and incr (evicted, flushed): start again from here
        cache.set(key, amount, timeout=None)


def increment(name: str, amount: int = 1) -> None:
    """Add *amount* to the shared counter *name*; log, never raise, if the cache is down."""
    try:
        _add(_key(name), amount)
    except Exception:  # the cache server is down: lose the count, not the request
        log.warning("metric %s not counted: cache unavailable", name, exc_info=True)


def observe(histogram: Histogram, seconds: Iterable[float]) -> None:
    """Record each of *seconds* in *histogram*; log, never raise, if the cache is down."""
    keys = _bucket_keys(histogram)
    counts = [0] * len(keys)
    total = 0
    for value in seconds:
        value = max(value, 0.0)
        index = next(
            (n for n, bound in enumerate(histogram.bounds) if value <= bound), len(keys) - 1
        )
        counts[index] += 1
        total += round(value * MICROSECONDS)
    if not any(counts):
        return
    try:
        for key, count in zip(keys, counts, strict=True):
            if count:
                _add(key, count)
        _add(_sum_key(histogram), total)
    except Exception:  # the cache server is down: lose the observations, not the work
        log.warning("metric %s not observed: cache unavailable", histogram.name, exc_info=True)


def read_counters(names: Iterable[str] = COUNTERS) -> dict[str, int]:
    """Return the current value of each counter (0 if never counted); raise if the cache is down."""
    names = list(names)
    found = cache.get_many([_key(name) for name in names])
    return {name: int(found.get(_key(name), 0)) for name in names}


def read_histogram(histogram: Histogram) -> HistogramCounts:
    """Return what *histogram* has seen; raise if the cache is down."""
    keys = [*_bucket_keys(histogram), _sum_key(histogram)]
    found = cache.get_many(keys)
    running, buckets = 0, []
    for bound, key in zip([*histogram.bounds, float("inf")], keys, strict=False):
        running += int(found.get(key, 0))
        buckets.append((bound, running))
    return HistogramCounts(buckets, int(found.get(keys[-1], 0)) / MICROSECONDS)
