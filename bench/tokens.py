"""Benchmark how long wrong secret links take to refuse, against a baseline in the same run.

A timing difference between kinds of wrong token would tell an attacker which part of a guess
was right. In a scratch database this sends, through Django's full request path (middleware,
URL resolving, the view, the 404 page), requests with tokens that are:

- unknown: well-formed but issued to nobody (a random 256-bit token, or one issued to a
  subscriber who is gone);
- truncated, forged (right shape, wrong bytes), malformed (junk), revoked (a real token whose
  feed or subscriber revoked it), expired (confirmation links only).

The baseline is the "unknown" requests, measured again in the same rounds (so "unknown" itself
shows the noise). Rounds are interleaved and their order shuffled, so the machine's noise falls on
every kind alike; each figure is the median of every request of that kind. A last table times
the subscriber-link check alone, without the request path around it. Prints ratios, asserts
nothing.
Run: `make bench-tokens` (needs PostgreSQL).
"""

import datetime as dt
import itertools
import logging
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/timeline")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from timeline.models import PrivateFeed, Subscriber, SubscriberLink, hash_token  # noqa: E402
from timeline.notifications import links  # noqa: E402

TOKENS = int(os.environ.get("BENCH_TOKENS", "30"))  # distinct tokens of each kind
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
CALLS = int(os.environ.get("BENCH_CALLS", "2000"))  # per kind and round, for the function table
BASELINE = "baseline (unknown)"
_serial = itertools.count()


# --- tokens ----------------------------------------------------------------------------------
def _flip(token: str, count: int = 4) -> str:
    """Return *token* with its last *count* characters replaced by others of the same alphabet."""
    tail = "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl") for _ in range(count))
    return token[:-count] + tail


def _junk() -> str:
    return "".join(random.choice("abcdefXYZ0123456789-_.!~") for _ in range(random.randint(4, 60)))


def feed_tokens() -> dict[str, list[str]]:
    """Return, by kind, private-feed tokens that must all be refused."""
    valid, revoked = [], []
    for number in range(TOKENS):
        feed = PrivateFeed(name=f"Desk {number}")
        token = feed.issue_token()
        feed.save()
        valid.append(token)
        gone = PrivateFeed(name=f"Revoked desk {number}", is_active=False)
        revoked.append(gone.issue_token())
        gone.save()
    unknown = [secrets.token_urlsafe(32) for _ in range(2 * TOKENS)]
    return {
        BASELINE: unknown[:TOKENS],
        "unknown": unknown[TOKENS:],
        "truncated": [token[:-5] for token in valid],
        "forged": [_flip(token) for token in valid],
        "malformed": [_junk() for _ in range(TOKENS)],
        "revoked": revoked,
    }


def _aged(subscriber: Subscriber, salt: str, seconds: float) -> str:
    """Return a token issued *seconds* ago."""
    token = links.token_for(subscriber, salt)
    SubscriberLink.objects.filter(token_hash=hash_token(token)).update(
        created_at=timezone.now() - dt.timedelta(seconds=seconds)
    )
    return token


def subscriber_tokens(salt: str) -> dict[str, list[str]]:
    """Return, by kind, subscriber-link tokens (for *salt*) that must all be refused."""
    now = timezone.now()
    readers = [
        Subscriber.objects.create(email=f"reader{next(_serial)}@example.com", confirmed_at=now)
        for _ in range(3 * TOKENS)
    ]
    live, gone, revoked = readers[:TOKENS], readers[TOKENS : 2 * TOKENS], readers[2 * TOKENS :]
    unknown = [links.token_for(reader, salt) for reader in gone]
    unknown += [secrets.token_urlsafe(links.TOKEN_BYTES) for _ in gone]
    Subscriber.objects.filter(pk__in=[reader.pk for reader in gone]).delete()
    revoked_tokens = [links.token_for(reader, salt) for reader in revoked]
    for reader in revoked:
        reader.revoke_links()
    good = [links.token_for(reader, salt) for reader in live]
    kinds = {
        BASELINE: unknown[:TOKENS],
        "unknown": unknown[TOKENS:],
        "truncated": [token[:-6] for token in good],
        "forged": [_flip(token) for token in good],
        "malformed": [_junk() for _ in range(TOKENS)],
        "revoked": revoked_tokens,
    }
    if salt == links.CONFIRM_SALT:
        max_age = settings.CONFIRMATION_MAX_AGE_HOURS * 3600
        kinds["expired"] = [_aged(reader, salt, max_age + 60) for reader in live]
    return kinds


# --- measuring -------------------------------------------------------------------------------
def measure(request: Callable[[str], int], kinds: dict[str, list[str]]) -> dict[str, float]:
    """Return the median seconds per request of each kind, over interleaved shuffled rounds."""
    for token in kinds[BASELINE][:5]:  # warm up: imports, templates, connection
        request(token)
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for _ in range(ROUNDS):
        random.shuffle(order)
        for kind in order:
            for token in kinds[kind]:
                started = time.perf_counter()
                status = request(token)
                samples[kind].append(time.perf_counter() - started)
                assert status == 404, (kind, token, status)  # every one refused
    return {kind: statistics.median(values) for kind, values in samples.items()}


def report(title: str, medians: dict[str, float]) -> None:
    base = medians[BASELINE]
    print(f"\n{title}")
    print(f"{'token':<20} {'median µs':>10} {'ratio to baseline':>18}")
    for kind, seconds in medians.items():
        print(f"{kind:<20} {seconds * 1e6:>10.1f} {seconds / base:>17.3f}x")
    spread = max(medians.values()) / min(medians.values())
    print(f"spread (slowest / fastest): {spread:.3f}x")


def measure_calls(check: Callable[[str], object], kinds: dict[str, list[str]]) -> dict[str, float]:
    """Return the median seconds per call of *check* on each kind (interleaved rounds)."""
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    order = list(kinds)
    per_token = max(1, CALLS // TOKENS)
    for _ in range(ROUNDS):
        random.shuffle(order)
        for kind in order:
            batch = kinds[kind] * per_token
            started = time.perf_counter()
            for token in batch:
                assert check(token) is None
            samples[kind].append((time.perf_counter() - started) / len(batch))
    return {kind: statistics.median(values) for kind, values in samples.items()}


def main() -> None:
    random.seed(20261126)
    logging.getLogger("django.request").setLevel(logging.ERROR)  # one "Not Found" per request
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-tokens-")
    # Pages name their static files by hash, as in production: collect them once.
    settings.STATIC_ROOT = tempfile.mkdtemp(prefix="bench-tokens-static-")
    call_command("collectstatic", interactive=False, verbosity=0)
    # A name of its own, so a test database of a concurrent `make test` is never clobbered.
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"test_{connection.settings_dict['NAME']}_bench_tokens"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        client = Client()
        print(
            f"{TOKENS} distinct tokens of each kind, {ROUNDS} interleaved rounds in shuffled "
            "order; medians per request through Django's full request path"
        )
        max_age = settings.CONFIRMATION_MAX_AGE_HOURS * 3600
        endpoints = [
            ("private feed: GET /feeds/private/<token>.ics", "timeline:feed-private", None),
            ("preferences: GET /subscriptions/<token>/", "timeline:subscription", "manage"),
            ("unsubscribe: POST /unsubscribe/<token>/", "timeline:unsubscribe", "manage"),
            ("confirmation: GET /confirm/<token>/", "timeline:confirm", "confirm"),
        ]
        for title, name, purpose in endpoints:
            if purpose is None:
                kinds = feed_tokens()
            else:
                salt = links.CONFIRM_SALT if purpose == "confirm" else links.MANAGE_SALT
                kinds = subscriber_tokens(salt)
            method = client.post if "POST" in title else client.get

            def request(token: str, name=name, method=method) -> int:
                return method(reverse(name, args=[token])).status_code

            report(title, measure(request, kinds))

        kinds = subscriber_tokens(links.CONFIRM_SALT)
        ours = measure_calls(
            lambda t: links.subscriber_from(t, links.CONFIRM_SALT, max_age=max_age), kinds
        )
        report("the check alone: links.subscriber_from()", ours)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
