"""The publish stamp: a random token every web process can read, replaced after each publish.

Web processes keep published feeds' validators in memory, each entry marked with the stamp it
was read under (timeline.feeds.served). A publish that changes any feed writes a new stamp
once it commits, so every process, on every host, drops what it had on its next request.
The stamp is random rather than a counter: a cache server that restarts empty (Redis keeps
nothing on disk here) can never bring back an old value that a process still holds.
"""

import logging
import secrets

from django.core.cache import caches

log = logging.getLogger(__name__)

# The cache every web process and the worker share (Redis; a folder without it, one host).
CACHE = "feeds"
KEY = "feeds:published-stamp"


def current() -> str | None:
    """Return the stamp now, starting one if there is none; None if the cache is unreachable."""
    cache = caches[CACHE]
    try:
        value = cache.get(KEY)
        if value is None:
            # add(): of two processes starting one at once, both then read the winner's.
            cache.add(KEY, secrets.token_hex(8), timeout=None)
            value = cache.get(KEY)
    except Exception:  # an unreachable cache only costs each request a database query
        log.warning("feed publish stamp unreadable: reading validators from the database")
        return None
    return value if isinstance(value, str) else None


def renew() -> None:
    """Replace the stamp, so that every process reads feeds' validators afresh."""
    try:
        caches[CACHE].set(KEY, secrets.token_hex(8), timeout=None)
    except Exception:  # the bound is then the entries' own age (served.MAX_AGE_SECONDS)
        log.warning("feed publish stamp not renewed: the cache is unreachable", exc_info=True)
