"""nginx as docker-compose.yml runs it in front of gunicorn: for the tests and `make bench-serve`.

The project's template (deploy/nginx/timeline.conf.template) is rendered as the official nginx
image's envsubst renders it, and included inside `http {}` of a minimal nginx.conf that keeps
everything (pid, temporary files, logs, the cache) in one folder. Debian's nginx runs it
(bin/ensure-nginx installs it).
"""

import os
import re
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .processes import ROOT, free_port, stop, wait_for

TEMPLATE = ROOT / "deploy" / "nginx" / "timeline.conf.template"
NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def envsubst(text: str, values: Mapping[str, str]) -> str:
    """Replace $NAME and ${NAME} of the names given only, as `envsubst '${A} ${B}'` does."""
    if not values:
        return text
    names = "|".join(re.escape(name) for name in values)
    pattern = re.compile(rf"\$\{{({names})\}}|\$({names})(?![A-Za-z0-9_])")
    return pattern.sub(lambda match: values[match[1] or match[2]], text)


def main_config(folder: Path, include: Path, worker_processes: str = "1") -> str:
    """Return an nginx.conf running in the foreground, its state in *folder*, including *include*
    inside `http {}` (as the official image's nginx.conf includes conf.d/*.conf)."""
    temp = "\n".join(f"    {kind}_temp_path {folder / 'temp' / kind};" for kind in TEMP_PATHS)
    # Started as root, nginx would run its workers as nobody, who cannot read a private tmp folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes {worker_processes};
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{
    worker_connections 1024;
}}
http {{
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    access_log off;
{temp}
    include {include};
}}
"""


@dataclass
class Nginx:
    """A running nginx: its address, its folder and its access log."""

    process: subprocess.Popen
    port: int
    folder: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    @property
    def error_log(self) -> Path:
        return self.folder / "error.log"

    def stop(self) -> None:
        stop(self.process)


def render_project_config(folder: Path, upstream: str, port: int) -> str:
    """Return the project's template rendered for gunicorn at *upstream*, listening on *port*."""
    return envsubst(
        TEMPLATE.read_text(),
        {
            "TIMELINE_LISTEN": f"127.0.0.1:{port}",
            "TIMELINE_UPSTREAM": upstream,
            "TIMELINE_CACHE_DIR": str(folder / "cache"),
            "TIMELINE_ACCESS_LOG": str(folder / "access.log"),
            "TIMELINE_ERROR_LOG": str(folder / "error.log"),
        },
    )


def start_nginx(folder: Path, server_config: str, port: int, worker_processes: str = "1") -> Nginx:
    """Start nginx with *server_config* inside `http {}`, listening on *port*; wait for it."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in TEMP_PATHS:
        (folder / "temp" / kind).mkdir(parents=True, exist_ok=True)
    include = folder / "server.conf"
    include.write_text(server_config)
    config = folder / "nginx.conf"
    config.write_text(main_config(folder, include, worker_processes))
    check = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, f"nginx -t refuses the config:\n{check.stderr}"
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(config)],
        stdout=(folder / "nginx.out").open("a"),
        stderr=subprocess.STDOUT,
    )
    nginx = Nginx(process, port, folder)
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=30)
        assert process.poll() is None, nginx.error_log.read_text()
    except BaseException:
        nginx.stop()
        raise
    return nginx


def start_in_front(folder: Path, upstream_port: int, worker_processes: str = "1") -> Nginx:
    """Start nginx with the project's template in front of gunicorn on *upstream_port*."""
    port = free_port()
    config = render_project_config(folder, f"127.0.0.1:{upstream_port}", port)
    return start_nginx(folder, config, port, worker_processes)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
