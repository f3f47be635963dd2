"""The fault suite's processes: gunicorn, a supervised Celery worker, beats; and its report.

Run by `make faults`, which starts private PostgreSQL and Redis servers (tests/faults/services.py)
and points DATABASE_URL and REDIS_URL at them, so these tests can restart them freely.
"""

import contextlib
import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from ..processes import (
    ROOT,
    free_port,
    gunicorn_as_deployed,
    start_celery,
    start_server,
    stop,
    wait_for,
    worker_environment,
)

REPORT = ROOT / ".run" / "faults" / "report.json"
_figures: dict[str, list[tuple[str, str]]] = {}


def record(scenario: str, figure: str, value) -> None:
    """Note a figure for the summary table printed at the end of the run."""
    _figures.setdefault(scenario, []).append((figure, str(value)))
    print(f"[{scenario}] {figure}: {value}")


def pytest_terminal_summary(terminalreporter) -> None:
    if not _figures:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(_figures, indent=2, ensure_ascii=False))
    width = max(len(figure) for rows in _figures.values() for figure, _ in rows)
    terminalreporter.section("fault suite: summary")
    for scenario, rows in _figures.items():
        terminalreporter.write_line(scenario)
        for figure, value in rows:
            terminalreporter.write_line(f"  {figure:<{width}}  {value}")


@pytest.fixture(autouse=True)
def fast_beat(monkeypatch):
    """Beat every second and short retries, so a scenario plays out in a minute."""
    monkeypatch.setenv("DISPATCH_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("DIGEST_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("FEED_CATCH_UP_SECONDS", "2")
    monkeypatch.setenv("SEND_RETRY_BASE_SECONDS", "2")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")


class Supervised:
    """A command under bin/keep-running, as `make run` and the containers' restart policy run it."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.log_path = log_path
        self.process = subprocess.Popen(
            [str(ROOT / "bin" / "keep-running"), *command],
            cwd=ROOT,
            env=worker_environment(),
            stdout=log_path.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def child(self) -> int | None:
        """Return the pid of the supervised command now running, if any."""
        found = _children(self.process.pid)
        return found[0] if found else None

    def kill(self) -> int:
        """SIGKILL the running command and every process under it (a crash or an OOM kill)."""
        pid = wait_for(self.child, timeout=30, interval=0.05)
        victims = [pid, *_descendants(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        return len(victims)

    def restarts(self) -> int:
        return self.log_path.read_text().count("keep-running:")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def _children(pid: int) -> list[int]:
    result = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    )
    return [int(line) for line in result.stdout.split()]


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A Celery worker as in production (two pool processes), restarted whenever it exits."""
    from config.celery import app

    app.control.purge()
    supervised = Supervised(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        tmp_path / "worker.log",
    )
    yield supervised
    supervised.stop()
    print((tmp_path / "worker.log").read_text()[-3000:])


@pytest.fixture
def beats(transactional_db, tmp_path):
    """Two celery beats, as a mistaken deployment would run them."""
    processes = [start_celery("beat", tmp_path / f"beat-{n}.log") for n in range(2)]
    yield processes
    for process in processes:
        stop(process)


class Web:
    """gunicorn serving the project as the Dockerfile runs it (two workers on this small host)."""

    def __init__(self, log_path: Path, static_root: Path) -> None:
        self.port = free_port()
        self.process = start_server(
            gunicorn_as_deployed(self.port, "--workers", "2", "--timeout", "60"),
            log_path,
            STATIC_ROOT=str(static_root),
        )
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        wait_for(lambda: self.status("/healthz?scope=web") == 200, timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        """Return (status, body bytes, headers) of a GET, or a form POST when *data* is given."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers

    def status(self, path: str) -> int:
        try:
            return self.request(path)[0]
        except OSError:
            return 0

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """Collect static files once, as the image build does, for gunicorn's whitenoise."""
    root = tmp_path_factory.mktemp("staticfiles")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
        cwd=ROOT,
        env={**worker_environment(), "STATIC_ROOT": str(root)},
        check=True,
    )
    return root


@pytest.fixture
def web(transactional_db, tmp_path, collected_static):
    server = Web(tmp_path / "gunicorn.log", collected_static)
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def private_services():
    """Refuse to run against the shared servers: these tests restart what they use."""
    if not os.environ.get("FAULTS_PG_PORT") or not os.environ.get("FAULTS_REDIS_PORT"):
        pytest.fail("run the fault suite with `make faults` (it starts private servers)")
