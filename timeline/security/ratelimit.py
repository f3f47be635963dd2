"""Fixed-window rate limits on public form posts, counted in Django's cache (Redis in production).

A limit such as "6/h" allows six posts per key in each clock hour. Keys are hashed, so no
email address is stored in the cache. If the cache is unreachable, requests are let through
(and logged): a Redis outage must not stop people from leaving the mailing list.
"""

import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..metrics import counters
from .client_ip import client_ip

log = logging.getLogger(__name__)

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd]?)\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str) -> Rate:
    """Parse "COUNT/PERIOD" ("6/h", "30/10m", "20/60") into a Rate."""
    match = RATE.match(text)
    if not match or (not match[2] and not match[3]):
        raise ValueError(f"not a rate: {text!r} (expected e.g. '6/h', '30/10m' or '20/60')")
    seconds = int(match[2] or 1) * UNITS[match[3]]
    if seconds <= 0:
        raise ValueError(f"not a rate: {text!r} (the period must be positive)")
    return Rate(int(match[1]), seconds)


def rate_for(name: str) -> Rate:
    """Return the configured rate of limit *name* (settings.RATE_LIMITS)."""
    return parse_rate(settings.RATE_LIMITS[name])


def hit(name: str, key: str, now: float | None = None) -> int | None:
    """Count one request for *key* under limit *name*; return seconds to wait if over it."""
    rate = rate_for(name)
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"{settings.RATE_LIMIT_KEY_PREFIX}:{name}:{digest}:{window}"
    try:
        cache.add(cache_key, 0, timeout=rate.seconds + 5)
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr: this is the window's first hit
        cache.set(cache_key, 1, timeout=rate.seconds + 5)
        count = 1
    except Exception:  # the cache server is down: let the request through
        log.warning("rate limit %s not counted: cache unavailable", name, exc_info=True)
        return None
    if count <= rate.count:
        return None
    return max(1, math.ceil((window + 1) * rate.seconds - now))


def check(request: HttpRequest, client_limit: str, address_limit: str, email: str = "") -> int:
    """Count a post by client address (and by *email* if given); return seconds to wait or 0."""
    waits = [hit(client_limit, client_ip(request))]
    if email:
        waits.append(hit(address_limit, email.strip().lower()))
    return max((wait for wait in waits if wait), default=0)


def too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    """Answer 429 with Retry-After and a page saying when to try again."""
    counters.increment(counters.RATE_LIMITED)
    minutes = math.ceil(retry_after / 60)
    response = render(
        request,
        "timeline/rate_limited.html",
        {"retry_after": retry_after, "minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
