"""`make run` from a fresh clone: installs, migrates, seeds, serves, and stops cleanly on Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from .processes import ROOT, free_port, http_status, wait_for

pytestmark = pytest.mark.slow

# A newcomer's shell: none of the suite's configuration leaks into the fresh clone.
SUITE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "EMAIL_URL",
    "SITE_URL",
    "VIRTUAL_ENV",
)


def health(base: str) -> dict:
    """Return /healthz's report, whether it says 200 or 503."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_from_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    port = free_port()
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: process.poll() is not None or http_status(f"{base}/healthz?scope=web") == 200,
            timeout=600,
            interval=1,
        )
        output = log_path.read_text()
        assert process.poll() is None, output[-3000:]
        assert http_status(f"{base}/healthz?scope=web") == 200, output[-3000:]
        assert http_status(f"{base}/admin/login/") == 200
        assert http_status(f"{base}/") == 200
        password = re.search(r"with password: (\S+)", output)
        assert password, "make run did not print how to log in"
        assert (clone / "db.sqlite3").exists()
        # Beat schedules the heartbeat task, the worker runs it through the on-disk broker.
        # The dispatcher's runs too: then the whole service is healthy.
        wait_for(lambda: health(base).get("worker_heartbeat"), timeout=120, interval=2)
        wait_for(lambda: http_status(f"{base}/healthz") == 200, timeout=60, interval=2)
        assert health(base)["failed"] == []
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    # Fails if processes were left running after Ctrl-C.
    wait_for(lambda: not group_alive(process.pid), timeout=30, interval=0.5)
    assert http_status(f"{base}/healthz") == 0
