"""What a web process knows of published feeds: their validators and bytes, kept in memory.

A poll that finds its feed unchanged (most of them) is then answered without a database query:
the validators are trusted while the shared publish stamp (timeline.feeds.stamp) is the one
they were read under, and for MAX_AGE_SECONDS at most should a publish fail to renew it. The
bytes are kept by their stored name, which is a digest of them, so a name never goes stale.
"""

import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from ..models import Feed
from . import publishing, stamp
from . import store as feed_store

# How long validators are trusted without asking the database if no new stamp says otherwise.
MAX_AGE_SECONDS = 30.0


@dataclass(frozen=True)
class ServedFeed:
    """A published feed as served: its validators and where its bytes are."""

    key: str
    etag: str
    last_modified: dt.datetime
    body_name: str
    gzip_name: str

    @classmethod
    def of(cls, feed: Feed) -> "ServedFeed":
        return cls(feed.key, feed.etag, feed.last_modified, feed.body_name, feed.gzip_name)


@dataclass(frozen=True)
class _Entry:
    stamp: str
    read_at: float
    feed: ServedFeed


_lock = threading.Lock()
_validators: dict[str, _Entry] = {}
_bytes: "OrderedDict[str, bytes]" = OrderedDict()
_bytes_size = 0


def validators(key: str, fresh: bool = False) -> ServedFeed:
    """Return the served form of feed *key*, from memory while current (unless *fresh* is
    asked for); raise FeedNotFound."""
    # Inside a transaction the database may show what no stamp covers yet (its own writes).
    current = None if connection.in_atomic_block else stamp.current()
    entry = _validators.get(key)
    if (
        not fresh
        and current is not None
        and entry is not None
        and entry.stamp == current
        and time.monotonic() - entry.read_at < MAX_AGE_SECONDS
    ):
        return entry.feed
    # Read after the stamp: a publish committing from here on renews it, so this entry is
    # never taken for newer than it is.
    feed = ServedFeed.of(publishing.published(key))
    if current is not None:
        with _lock:
            _validators[key] = _Entry(current, time.monotonic(), feed)
    return feed


def read(feed: ServedFeed, gzipped: bool) -> bytes:
    """Return the feed's bytes (gzip-compressed if asked), from memory if this process has them.

    Raise FileNotFoundError if they are gone: a newer publish replaced them since *feed* was read.
    """
    name = feed.gzip_name if gzipped else feed.body_name
    with _lock:
        if (content := _bytes.get(name)) is not None:
            _bytes.move_to_end(name)
            return content
    content = feed_store.read(name)
    _keep(name, content)
    return content


def republish(key: str) -> None:
    """Publish feed *key* again: its stored bytes are missing (FEED_STORAGE was changed)."""
    forget(key)
    publishing.publish(key)


def _keep(name: str, content: bytes) -> None:
    global _bytes_size
    limit = settings.FEED_PROCESS_CACHE_BYTES
    if len(content) > limit:
        return
    with _lock:
        if name in _bytes:
            return
        _bytes[name] = content
        _bytes_size += len(content)
        while _bytes_size > limit:
            _name, dropped = _bytes.popitem(last=False)
            _bytes_size -= len(dropped)


def forget(key: str | None = None) -> None:
    """Drop what this process holds of feed *key* (of every feed without one)."""
    global _bytes_size
    with _lock:
        if key is None:
            _validators.clear()
            _bytes.clear()
            _bytes_size = 0
        else:
            _validators.pop(key, None)
