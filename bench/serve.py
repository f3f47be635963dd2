"""Benchmark serving feeds: the compose shape and Django alone, against bare nginx, in one run.

In a scratch database: 10,000 generated events, 200 of them under one topic. Their English
feeds are published (/feeds/en/topics/energy.ics, the 200-event feed, and /feeds/en/all.ics, the
10,000-event one), and the published bytes (body and .gz) written to a folder. Then, with wrk
(2 threads, 32 connections), three servers:

- bare nginx: the same files from disk (`etag on`, `gzip_static on`, the same Content-Type);
- compose shape: nginx with the project's template (deploy/nginx/timeline.conf.template) in
  front of gunicorn as the Dockerfile runs it (config/gunicorn.conf.py);
- Django only: that gunicorn, asked directly;

each for the 200-event feed in full (identity), the 200-event feed revalidated (If-None-Match
with that server's current identity ETag: a 304), and the 10,000-event feed with
`Accept-Encoding: gzip`. Rounds are interleaved, so the machine's noise falls on every server
alike; each rate is the median over the rounds, each ratio the median of the rounds' ratios.
Every wrk run is checked: no error, no status above 399, and bytes per response that fit what
was asked (a body, a gzip body, or none for a 304). Prints requests/s, ratios to bare nginx
and the issue's goals, PASS or MISS.
Run: `make bench-serve` (needs PostgreSQL; bin/ensure-nginx installs nginx and wrk).
"""

import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/timeline")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")  # plain http between wrk and the servers

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests.nginx import start_in_front, start_nginx  # noqa: E402
from tests.processes import (  # noqa: E402
    free_port,
    gunicorn_as_deployed,
    http_status,
    start_server,
    stop,
    wait_for,
)
from timeline.feeds import publishing  # noqa: E402
from timeline.models import Feed  # noqa: E402

WRK = os.environ.get("WRK_PATH", "/usr/bin/wrk")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
THREADS, CONNECTIONS = 2, 32
ALL_EVENTS, TOPIC_EVENTS = 10_000, 200
SMALL, LARGE = "/feeds/en/topics/energy.ics", "/feeds/en/all.ics"
BARE, COMPOSE, DJANGO = "bare nginx", "compose shape", "Django only"
# The goals: the least ratio to bare nginx, by server and case (None: no goal).
GOALS = {
    "200 events, full GET": {COMPOSE: 0.8, DJANGO: 0.2},
    "200 events, 304": {COMPOSE: 0.8, DJANGO: 0.05},
    "10,000 events, gzip": {},
}
# wrk calls done() once, after the run: it adds nothing per request (no response() hook).
SUMMARY_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SUMMARY {"requests": %d, "bytes": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""
BARE_SERVER = """server {{
    listen 127.0.0.1:{port};
    root {root};
    access_log {folder}/access.log;
    etag on;
    gzip_static on;
    gzip_vary on;
    types {{ }}
    default_type "text/calendar; charset=utf-8";
    add_header Cache-Control "public, max-age={max_age}";
}}
"""


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    headers: dict[str, str]
    # What a response's bytes must come to (headers included): (least, most).
    expected_bytes: tuple[int, int]


# --- the data ----------------------------------------------------------------------------------
def populate() -> None:
    """Create the generated events (as `make bench` does), 200 of them under the topic, all
    upcoming (inside the feeds' window) and confirmed."""
    sys.path.insert(0, str(ROOT / "bench"))
    from feeds import populate as populate_generated

    populate_generated(
        ALL_EVENTS,
        first_day=dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1),
        now=dt.datetime.now(dt.UTC),
        topic_every=ALL_EVENTS // TOPIC_EVENTS,
        cancelled_every=None,
        with_sources=False,
    )


def publish_and_copy(folder: Path) -> dict[str, tuple[bytes, bytes]]:
    """Publish both feeds; write their bytes and .gz under *folder*; return them by path."""
    published = {}
    for path, key in ((SMALL, "en/topic:energy"), (LARGE, "en/all")):
        feed = publishing.publish(key)
        assert isinstance(feed, Feed), key
        body, zipped = feed.read(False), feed.read(True)
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        target.with_name(target.name + ".gz").write_bytes(zipped)
        published[path] = (body, zipped)
    return published


# --- the servers -------------------------------------------------------------------------------
def get(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").split(":")
    connection_ = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection_.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection_.putheader(name, value)
        connection_.endheaders()
        response = connection_.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection_.close()


def cases_for(base: str, published: dict[str, tuple[bytes, bytes]]) -> list[Case]:
    """Return the three cases for the server at *base*, checking it serves the published bytes."""
    small, small_gzip = published[SMALL]
    large, large_gzip = published[LARGE]
    status, headers, body = get(base, SMALL)
    assert (status, body) == (200, small), (base, status)
    assert headers["content-type"] == "text/calendar; charset=utf-8", (base, headers)
    etag = headers["etag"]
    status, _, body = get(base, SMALL, **{"If-None-Match": etag})
    assert (status, body) == (304, b""), (base, status)
    status, headers, body = get(base, LARGE, **{"Accept-Encoding": "gzip"})
    assert (status, headers.get("content-encoding"), body) == (200, "gzip", large_gzip), base
    del small_gzip, large
    head = 2048  # no response's headers come near this
    return [
        Case("200 events, full GET", SMALL, {}, (len(small), len(small) + head)),
        Case("200 events, 304", SMALL, {"If-None-Match": etag}, (0, head)),
        Case(
            "10,000 events, gzip",
            LARGE,
            {"Accept-Encoding": "gzip"},
            (len(large_gzip), len(large_gzip) + head),
        ),
    ]


def wrk(base: str, case: Case, seconds: int, script: Path) -> float:
    """Run wrk on one case; check every response; return requests per second."""
    command = [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script)]
    for name, value in case.headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run(
        [*command, base + case.path], capture_output=True, text=True, check=True
    )
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("SUMMARY ")]
    summary = json.loads(line.removeprefix("SUMMARY "))
    errors = {k: summary[k] for k in ("connect", "read", "write", "status", "timeout")}
    assert summary["requests"] > 0 and not any(errors.values()), (base, case.name, summary)
    # Bytes read include the responses still arriving when the run ended: one per connection.
    least, most = case.expected_bytes
    requests, read = summary["requests"], summary["bytes"]
    fits = least * requests <= read <= most * (requests + CONNECTIONS)
    assert fits, (base, case.name, read / requests, case.expected_bytes)
    return summary["requests"] / (summary["duration_us"] / 1e6)


def truncate_logs(*folders: Path) -> None:
    """Empty the access logs (nginx appends to the same open file), so the disk keeps up."""
    for folder in folders:
        for log in folder.glob("*.log"):
            log.write_bytes(b"")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    settings.MEDIA_ROOT = str(work / "media")
    os.environ["MEDIA_ROOT"] = settings.MEDIA_ROOT  # gunicorn reads what the publish wrote
    settings.STATIC_ROOT = work / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    # A name of its own, so a test database of a concurrent `make test` is never clobbered.
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"test_{connection.settings_dict['NAME']}_bench_serve"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    processes = []
    try:
        print(f"Seeding {ALL_EVENTS:,} events ({TOPIC_EVENTS} under one topic), publishing…")
        populate()
        published = publish_and_copy(work / "bare")
        for path, (body, zipped) in published.items():
            print(f"  {path}: {len(body):,} bytes, gzip {len(zipped):,} bytes")

        bare_port = free_port()
        bare = start_nginx(
            work / "nginx-bare",
            BARE_SERVER.format(
                port=bare_port,
                root=work / "bare",
                folder=work / "nginx-bare",
                max_age=settings.FEED_REFRESH_MINUTES * 60,
            ),
            bare_port,
            worker_processes="auto",
        )
        processes.append(bare.stop)
        gunicorn_port = free_port()
        gunicorn = start_server(
            gunicorn_as_deployed(gunicorn_port), work / "gunicorn.log", DEBUG="0"
        )
        processes.append(lambda: stop(gunicorn))
        django_base = f"http://127.0.0.1:{gunicorn_port}"
        wait_for(lambda: http_status(f"{django_base}/healthz?scope=web") == 200, timeout=120)
        compose = start_in_front(work / "nginx-compose", gunicorn_port, worker_processes="auto")
        processes.append(compose.stop)

        bases = {BARE: bare.base, COMPOSE: compose.base, DJANGO: django_base}
        cases = {server: cases_for(base, published) for server, base in bases.items()}
        script = work / "summary.lua"
        script.write_text(SUMMARY_SCRIPT)
        log_folders = (work / "nginx-bare", work / "nginx-compose", work)

        print(
            f"wrk: {THREADS} threads, {CONNECTIONS} connections, {SECONDS} s a run, "
            f"{ROUNDS} interleaved rounds; load average before: {os.getloadavg()[0]:.2f}"
        )
        for server, base in bases.items():  # warm up: connections, caches, imports
            for case in cases[server]:
                wrk(base, case, 2, script)
        truncate_logs(*log_folders)
        rates: dict[tuple[str, str], list[float]] = {}
        servers = list(bases)
        for round_number in range(ROUNDS):
            order = servers[round_number % 3 :] + servers[: round_number % 3]
            for index in range(len(GOALS)):
                for server in order:
                    case = cases[server][index]
                    rate = wrk(bases[server], case, SECONDS, script)
                    rates.setdefault((case.name, server), []).append(rate)
                    truncate_logs(*log_folders)
            print(f"  round {round_number + 1} of {ROUNDS} done")
        report(rates)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        for stop_process in reversed(processes):
            stop_process()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def report(rates: dict[tuple[str, str], list[float]]) -> None:
    """Print each server's median rate and its ratio to bare nginx: the median of the ratios
    within each round (runs next to each other in time share the machine's load)."""
    print()
    print(
        f"{'case':<22} {'server':<14} {'requests/s':>11} {'÷ bare nginx':>13} {'goal':>7}  result"
    )
    for case_name, goals in GOALS.items():
        bare = rates[(case_name, BARE)]
        for server in (BARE, COMPOSE, DJANGO):
            values = rates[(case_name, server)]
            ratio = statistics.median(
                value / base for value, base in zip(values, bare, strict=True)
            )
            goal = goals.get(server)
            verdict = "" if goal is None else ("PASS" if ratio >= goal else "MISS")
            goal_text = f"≥{goal:g}×" if goal is not None else "—"
            print(
                f"{case_name:<22} {server:<14} {statistics.median(values):>11,.0f} "
                f"{ratio:>12.3f}× {goal_text:>7}  {verdict}"
            )
    print("\nEach round's requests/s:")
    for (case_name, server), values in rates.items():
        print(f"  {case_name:<22} {server:<14} " + ", ".join(f"{value:,.0f}" for value in values))


if __name__ == "__main__":
    main()
