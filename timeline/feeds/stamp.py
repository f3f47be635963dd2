"""The publish stamp: a random token every web process can read, replaced after each publish.

Web processes keep published feeds' validators in memory, each entry marked with the stamp it
was read under (timeline.feeds.served). A publish that changes any feed writes a new stamp
once it commits, so every process, on every host, drops what it had on its next request.
The stamp is random rather than a counter: a cache server that restarts empty (Redis keeps
nothing on disk here) can never bring back an old value that a process still holds.

Each process reads it at most every FEED_STAMP_CHECK_SECONDS (a quarter of a second): a Redis
round trip costs more than the rest of a replayed poll, and a publish then reaches every process
within that delay. It lives in Redis (REDIS_URL), read through one client per process: Django's
cache builds a new client on every call, which cost more than the rest of a 304. Without Redis
(`make run` on one machine) it lives in Django's "feeds" cache, a folder the processes share.
"""

import functools
import logging
import math
import secrets
import time

import redis
from django.conf import settings
from django.core.cache import caches

log = logging.getLogger(__name__)

KEY = "timeline:feeds:published-stamp"
# Seconds to wait for Redis: a slow one costs a database query, not a stalled poll.
TIMEOUT = 1.0


class _CacheStamp:
    """The stamp in Django's "feeds" cache (no Redis: one host's processes share a folder)."""

    def get(self, key: str) -> str | None:
        value = caches["feeds"].get(key)
        return value if isinstance(value, str) else None

    def add(self, key: str, value: str) -> None:
        caches["feeds"].add(key, value, timeout=None)

    def set(self, key: str, value: str) -> None:
        caches["feeds"].set(key, value, timeout=None)


class _RedisStamp:
    """The stamp in Redis, through a client (and its connection pool) kept for the process."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, decode_responses=True
        )

    def get(self, key: str) -> str | None:
        value = self.client.get(key)
        return value if isinstance(value, str) else None

    def add(self, key: str, value: str) -> None:
        self.client.set(key, value, nx=True)

    def set(self, key: str, value: str) -> None:
        self.client.set(key, value)


@functools.cache
def _store(redis_url: str) -> _CacheStamp | _RedisStamp:
    return _RedisStamp(redis_url) if redis_url else _CacheStamp()


# This process's last reading: (when, value). Polls within FEED_STAMP_CHECK_SECONDS of it trust it.
_reading: tuple[float, str | None] = (-math.inf, None)


def current() -> str | None:
    """Return the stamp, read at most FEED_STAMP_CHECK_SECONDS ago; None if it cannot be read."""
    global _reading
    read_at, value = _reading
    if time.monotonic() - read_at < settings.FEED_STAMP_CHECK_SECONDS:
        return value
    value = _read()
    _reading = (time.monotonic(), value)
    return value


def _read() -> str | None:
    """Return the stamp now, starting one if there is none; None if it cannot be read."""
    store = _store(settings.REDIS_URL)
    try:
        value = store.get(KEY)
        if value is None:
            # Set only if still absent: of two processes starting one, both read the winner's.
            store.add(KEY, secrets.token_hex(8))
            value = store.get(KEY)
    except Exception:  # an unreachable store only costs each request a database query
        log.warning("feed publish stamp unreadable: reading validators from the database")
        return None
    return value


def renew() -> None:
    """Replace the stamp, so that every process reads feeds' validators afresh."""
    global _reading
    value = secrets.token_hex(8)
    try:
        _store(settings.REDIS_URL).set(KEY, value)
        _reading = (time.monotonic(), value)  # this process knows at once
    except Exception:  # the bound is then the entries' own age (served.MAX_AGE_SECONDS)
        log.warning("feed publish stamp not renewed: the store is unreachable", exc_info=True)


def forget() -> None:
    """Drop this process's last reading of the stamp: the next call reads it."""
    global _reading
    _reading = (-math.inf, None)
