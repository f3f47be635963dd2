"""Private PostgreSQL and Redis servers for the fault suite, which restarts them at will.

`python -m tests.faults.services start` starts both on free ports and writes their addresses to
`.run/faults/env`; `stop` stops them. The suite's tests restart them through the same functions.
Nothing here touches the PostgreSQL and Redis that other tests share.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..processes import free_port

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".run" / "faults"
ENV_FILE = STATE / "env"
# Outside the checkout: the postgres user may not be allowed into it.
PG_DATA = Path(os.environ.get("FAULTS_PG_DATA", Path(tempfile.gettempdir()) / "timeline-faults-pg"))


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return path


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def pg_port() -> int:
    return int(os.environ["FAULTS_PG_PORT"])


def redis_port() -> int:
    return int(os.environ["FAULTS_REDIS_PORT"])


def _pg_ctl(*arguments: str, port: int | None = None) -> None:
    options = (
        [] if port is None else ["-o", f"-p {port} -k {PG_DATA} -c listen_addresses=127.0.0.1"]
    )
    subprocess.run(
        _as_postgres(
            [_pg_bin("pg_ctl"), "-D", str(PG_DATA), "-w", "-t", "60", *options, *arguments]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_postgres(port: int) -> None:
    """Create (once) and start a private cluster on *port*, trusting local connections."""
    if not (PG_DATA / "PG_VERSION").exists():
        PG_DATA.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PG_DATA, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(PG_DATA),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    _pg_ctl("-l", str(PG_DATA / "server.log"), "start", port=port)


def stop_postgres() -> None:
    _pg_ctl("-m", "fast", "stop")


def restart_postgres() -> float:
    """Restart the private PostgreSQL (fast shutdown, as for an upgrade); return seconds down."""
    began = time.monotonic()
    stop_postgres()
    _pg_ctl("-l", str(PG_DATA / "server.log"), "start", port=pg_port())
    return time.monotonic() - began


def start_redis(port: int) -> None:
    """Start a private Redis on *port* that keeps nothing on disk."""
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(STATE / "redis.pid"),
            "--logfile",
            str(STATE / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if _redis_cli(port, "ping").strip() == "PONG":
            return
        time.sleep(0.1)
    raise RuntimeError("the private Redis did not start")


def _redis_cli(port: int, *command: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command], capture_output=True, text=True
    )
    return result.stdout


def stop_redis(port: int | None = None) -> None:
    port = port or redis_port()
    _redis_cli(port, "shutdown", "nosave")
    for _ in range(100):
        if _redis_cli(port, "ping").strip() != "PONG":
            return
        time.sleep(0.1)


def restart_redis() -> None:
    """Restart the private Redis: everything it held is gone, as after a crash."""
    stop_redis()
    start_redis(redis_port())


def flushall() -> None:
    _redis_cli(redis_port(), "flushall")


def start() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    if PG_DATA.exists():
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(PG_DATA), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(PG_DATA)
    pg, redis = free_port(), free_port()
    start_postgres(pg)
    start_redis(redis)
    ENV_FILE.write_text(f"FAULTS_PG_PORT={pg}\nFAULTS_REDIS_PORT={redis}\n")
    print(ENV_FILE.read_text(), end="")


def stop() -> None:
    if not ENV_FILE.exists():
        return
    values = dict(line.split("=", 1) for line in ENV_FILE.read_text().split())
    stop_redis(int(values["FAULTS_REDIS_PORT"]))
    if (PG_DATA / "postmaster.pid").exists():
        stop_postgres()
    shutil.rmtree(PG_DATA, ignore_errors=True)
    ENV_FILE.unlink()


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1]]()
