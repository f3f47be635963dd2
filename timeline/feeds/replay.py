"""Answer repeated polls of a public feed by replaying Django's own answer, before Django runs.

The first poll of a feed in a process goes through Django (timeline.feeds.fast_path); its status
and headers are kept, by everything that can change them: the path, whether gzip is accepted,
the Host, the scheme and whether the peer is one of our proxies. While the publish stamp is the
one read before that answer (timeline.feeds.stamp), a poll asking the same, plainly or with
If-None-Match holding exactly that ETag, gets the same answer: 200 with the same bytes, or 304.
Any other request (other conditional headers, a private feed, a method but GET or HEAD) goes to
Django. No header is written here: each one comes from a response Django made.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..security.client_ip import is_trusted_proxy
from . import served, stamp
from .fast_path import feed_route
from .views import SERVED_KEY, accepts_gzip_header

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# Conditional headers this replays nothing for: Django answers them.
OTHER_CONDITIONS = ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE")
# Responses to the first poll of each variant are kept; the number of variants is bounded.
MAX_ENTRIES = 2048


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    etag: str
    # For a 200: where its bytes are (read through timeline.feeds.served's memory).
    feed: served.ServedFeed | None
    gzipped: bool


@dataclass
class _Entry:
    stamp: str
    read_at: float
    full: _Answer | None = None
    not_modified: _Answer | None = None


_lock = threading.Lock()
_entries: dict[tuple[str, ...], _Entry] = {}


def variant(environ: dict[str, Any]) -> tuple[str, ...] | None:
    """Return what a public feed poll's answer depends on, or None if this is not one to replay."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    if environ.get("QUERY_STRING") or any(environ.get(name) for name in OTHER_CONDITIONS):
        return None
    path = environ.get("PATH_INFO", "")
    match = feed_route(path)
    if match is None or match.url_name == "feed-private":
        return None
    trusted = is_trusted_proxy(environ.get("REMOTE_ADDR", ""))
    return (
        path,
        "gzip" if accepts_gzip_header(environ.get("HTTP_ACCEPT_ENCODING", "")) else "",
        environ.get("HTTP_HOST", ""),
        environ.get("wsgi.url_scheme", ""),
        environ.get("HTTP_X_FORWARDED_PROTO", "") if trusted else "",
        "proxy" if trusted else "",
    )


def _is_current(entry: _Entry, current: str) -> bool:
    """Return whether *entry* may still be replayed under the stamp *current*."""
    return entry.stamp == current and time.monotonic() - entry.read_at < served.MAX_AGE_SECONDS


def forget() -> None:
    """Drop every kept answer of this process."""
    with _lock:
        _entries.clear()


class FeedReplayMiddleware:
    """WSGI middleware: replay kept answers to public feed polls; keep Django's first ones."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        key = variant(environ)
        if key is None:
            return self.app(environ, start_response)
        current = stamp.current()
        entry = _entries.get(key)
        if current is not None and entry is not None and _is_current(entry, current):
            answer = self._choose(environ, entry)
            if answer is not None:
                try:
                    return self._replay(environ, start_response, answer)
                except FileNotFoundError:  # a newer publish replaced the bytes: ask Django
                    pass
        return self._ask_django(environ, start_response, key, current)

    @staticmethod
    def _choose(environ: dict[str, Any], entry: _Entry) -> _Answer | None:
        asked = environ.get("HTTP_IF_NONE_MATCH")
        if asked is None:
            return entry.full
        if entry.not_modified is not None and asked == entry.not_modified.etag:
            return entry.not_modified
        return None

    @staticmethod
    def _replay(
        environ: dict[str, Any], start_response: StartResponse, answer: _Answer
    ) -> Iterable[bytes]:
        body = b""
        if answer.feed is not None and environ["REQUEST_METHOD"] == "GET":
            body = served.read(answer.feed, answer.gzipped)
        start_response(answer.status, answer.headers)
        return [body]

    def _ask_django(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        key: tuple[str, ...],
        current: str | None,
    ) -> Iterable[bytes]:
        kept: dict[str, Any] = {}

        def keep_start_response(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            kept["status"], kept["headers"] = status, list(headers)
            return start_response(status, headers, *rest)

        body = self.app(environ, keep_start_response)
        if current is not None and "status" in kept:
            self._keep(environ, key, current, kept["status"], kept["headers"])
        return body

    @staticmethod
    def _keep(
        environ: dict[str, Any],
        key: tuple[str, ...],
        current: str,
        status: str,
        headers: list[tuple[str, str]],
    ) -> None:
        names = {name.lower(): value for name, value in headers}
        etag = names.get("etag")
        if etag is None or "set-cookie" in names or not status.startswith(("200", "304")):
            return
        gzipped = names.get("content-encoding") == "gzip"
        feed = None
        if status.startswith("200"):
            # The view says which published version it answered with (feeds.views._serve_feed).
            feed = environ.get(SERVED_KEY)
            if not isinstance(feed, served.ServedFeed):
                return
        answer = _Answer(status, headers, etag, feed, gzipped)
        with _lock:
            entry = _entries.get(key)
            # An aged-out entry is started afresh: else the process would stop replaying.
            if entry is None or not _is_current(entry, current):
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                entry = _entries[key] = _Entry(current, time.monotonic())
            if feed is not None:
                entry.full = answer
            elif environ.get("HTTP_IF_NONE_MATCH") == etag:
                entry.not_modified = answer
