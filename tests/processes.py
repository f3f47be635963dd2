"""Processes the tests start as production starts them (Celery, gunicorn), and waiting on them."""

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll *predicate* until it returns something truthy, or fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def http_status(url: str | urllib.request.Request) -> int:
    """Return the status of a GET of *url* (or of the request given), or 0 if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def worker_environment() -> dict[str, str]:
    """Return the environment for a child process that must use the test database."""
    from django.db import connection

    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def start_celery(kind: str, log_path: Path, *extra: str, **environment: str) -> subprocess.Popen:
    """Start `celery worker` or `celery beat` as production does, on the test database, with
    *environment* added to the test's own."""
    arguments = {
        "worker": ["worker", "--concurrency=1", "--without-gossip", "--without-mingle"],
        "beat": ["beat", f"--schedule={log_path.with_suffix('.schedule')}"],
    }[kind]
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *arguments, "--loglevel=INFO", *extra],
        cwd=ROOT,
        env={**worker_environment(), **environment},
        stdout=log_path.open("a"),
        stderr=subprocess.STDOUT,
    )


def start_server(command: list[str], log_path: Path, **environment: str) -> subprocess.Popen:
    """Start a web server command on the test database, for 127.0.0.1, logging to *log_path*."""
    from django.conf import settings

    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={
            **worker_environment(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": str(settings.STATIC_ROOT),
            **environment,
        },
        stdout=log_path.open("a"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> None:
    """Stop *process* as a supervisor would: SIGTERM, then SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return the Dockerfile's (INSTRUCTION, arguments) pairs, continuation lines joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_cmd() -> list[str]:
    """Return the Dockerfile's effective (last) CMD as an argument list."""
    cmds = [args for keyword, args in dockerfile_instructions() if keyword == "CMD"]
    assert cmds, "the Dockerfile has no CMD"
    cmd = cmds[-1]
    if cmd.startswith("["):
        return json.loads(cmd)
    return ["/bin/sh", "-c", cmd]


def gunicorn_as_deployed(port: int, *extra: str) -> list[str]:
    """Return the Dockerfile's CMD, bound to *port* on 127.0.0.1 instead of 0.0.0.0:8000."""
    argv = dockerfile_cmd()
    assert argv[0] == "gunicorn", argv
    args, rest = [], iter(argv[1:])
    for arg in rest:
        if arg in ("-b", "--bind"):
            next(rest)
        elif not arg.startswith("--bind="):
            args.append(arg)
    return [sys.executable, "-m", "gunicorn", *args, *extra, "--bind", f"127.0.0.1:{port}"]


def runserver_as_make_run(port: int) -> list[str]:
    """Return the Procfile's web command (what `make run` serves with), on *port*."""
    (line,) = [
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    ]
    argv = shlex.split(line.removeprefix("web:"))
    assert argv[:3] == ["python", "manage.py", "runserver"], argv
    return [sys.executable, *argv[1:-1], f"127.0.0.1:{port}"]
