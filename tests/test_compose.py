"""What an operator relies on in docker-compose.yml and the Dockerfile, checked without Docker.

Each service's command is parsed as the program it runs would parse it, and what it names is
looked up here: gunicorn's config file and WSGI app, Celery's app, manage.py's commands.
"""

import importlib
import re
import runpy
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.core import serializers
from django.core.management import CommandError, get_commands, load_command_class
from django.core.management.commands.loaddata import Command as LoaddataCommand
from django.urls import Resolver404, resolve
from gunicorn.config import Config as GunicornConfig

from timeline.security.log_redaction import RedactingGunicornLogger

from .nginx import TEMPLATE
from .processes import DOCKERFILE, ROOT, dockerfile_cmd, dockerfile_instructions

COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("web", "worker", "beat")
REQUIRED_ENV = ("EMAIL_URL", "SECRET_KEY", "SITE_URL")
MAIL_CATCHER_IMAGES = ("mailpit", "mailhog", "maildev", "smtp4dev")


@pytest.fixture(scope="module")
def services() -> dict:
    with COMPOSE_FILE.open() as stream:
        return yaml.safe_load(stream)["services"]


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    return dict(str(item).partition("=")[::2] for item in env)


def is_dev(service: dict) -> bool:
    return "dev" in (service.get("profiles") or [])


def is_mail_catcher(service: dict) -> bool:
    return any(image in str(service.get("image", "")) for image in MAIL_CATCHER_IMAGES)


# --- Reading commands as their programs do --------------------------------------------------------


def commands_of(service: dict) -> list[list[str]]:
    """Return the argument lists a service runs (its command or the CMD; inside `sh -c`)."""
    assert "entrypoint" not in service, "an entrypoint override is not understood here"
    command = service.get("command") or dockerfile_cmd()
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if Path(argv[0]).name in ("sh", "bash") and "-c" in argv:
        script = argv[argv.index("-c") + 1]
        return [shlex.split(piece) for piece in re.split(r"&&|;", script) if piece.strip()]
    return [argv]


def gunicorn(args: list[str]) -> GunicornConfig:
    """Read gunicorn's arguments and config file as gunicorn does; import the WSGI app named."""
    config = GunicornConfig()
    options = config.parser().parse_args(args)
    if options.config:
        path = ROOT / options.config  # relative to the image's WORKDIR, which holds this tree
        assert path.is_file(), f"gunicorn -c {options.config}: no such file"
        for name, value in runpy.run_path(str(path)).items():
            if name in config.settings:
                config.set(name, value)
    for name, value in vars(options).items():
        if value is not None and name != "args":
            config.set(name, value)  # the command line wins, as in gunicorn
    (spec,) = options.args
    module, _, attribute = spec.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute or "application"))
    config.config_file = options.config
    return config


def celery(args: list[str]) -> str:
    """Check `celery -A config SUBCOMMAND ...` finds the project's app and takes the options."""
    assert args[:2] in (["-A", "config"], ["--app", "config"]), args
    subcommand, rest = args[2], args[3:]
    app = find_app("config")
    assert app is importlib.import_module("config.celery").app
    context = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    try:
        celery_cli.commands[subcommand].make_context(subcommand, list(rest), obj=context)
    except click.ClickException as error:
        pytest.fail(f"celery {subcommand} rejects {rest}: {error.format_message()}")
    return subcommand


def manage(args: list[str]):
    """Check a `manage.py` command exists and takes its arguments; return its options."""
    name, rest = args[0], args[1:]
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name!r}"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    return name, parser.parse_args(rest)


def programs(service: dict) -> list[tuple[str, object]]:
    """Return (program, what checking it found) for each program a service runs."""
    found = []
    for argv in commands_of(service):
        if argv[0] == "gunicorn":
            found.append(("gunicorn", gunicorn(argv[1:])))
        elif argv[0] == "celery":
            found.append(("celery", celery(argv[1:])))
        elif argv[:2] == ["python", "manage.py"]:
            found.append(("manage.py", manage(argv[2:])))
        else:
            pytest.fail(f"unrecognised command {argv}")
    return found


# --- The services ---------------------------------------------------------------------------------


def test_the_services_exist_and_run_one_image(services):
    assert {"postgres", "redis", "migrate", "nginx", *APP_SERVICES} <= set(services)
    for name in ("migrate", *APP_SERVICES):
        build = services[name].get("build")
        build = {"context": build} if isinstance(build, str) else build or {}
        context = (COMPOSE_FILE.parent / build.get("context", "")).resolve()
        assert context / build.get("dockerfile", "Dockerfile") == DOCKERFILE, name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_restart_after_exit(services, name):
    # A Celery worker or beat exits when it loses Redis for good: something must start it again.
    assert services[name].get("restart") in ("always", "unless-stopped"), name


def test_one_beat_only(services):
    # A second beat would send every periodic task twice.
    beat = services["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1 and beat.get("scale", 1) == 1


@pytest.mark.parametrize("name", APP_SERVICES)
def test_secrets_and_addresses_must_be_given(services, name):
    env = environment_of(services[name])
    # No default: production must never send to a mail catcher nobody reads, or sign with a
    # made-up key. `docker compose up` stops with the message instead.
    for variable in REQUIRED_ENV:
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env.get(variable, "")), variable
    for variable, port in (("DATABASE_URL", 5432), ("REDIS_URL", 6379)):
        url = urlsplit(env[variable])
        assert url.hostname in services and (url.port or port) == port, variable


def test_the_mail_catcher_is_for_development_only(services):
    catchers = {name for name, service in services.items() if is_mail_catcher(service)}
    assert catchers, "no mail catcher for development"
    assert all(services[name].get("profiles") == ["dev"] for name in catchers)
    # The EMAIL_URL message tells a developer the catcher's address.
    hint = re.search(r"smtp://([\w-]+):", environment_of(services["web"])["EMAIL_URL"])
    assert hint and hint[1] in catchers
    for name, service in services.items():
        if not is_dev(service):
            assert not set(service.get("depends_on") or ()) & catchers, name


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """Return (host address, host port, container port) of each port a service publishes."""
    found = []
    for port in service.get("ports") or []:
        parts = str(port).rsplit(":", 2)
        address = parts[0] if len(parts) == 3 else "every interface"
        found.append((address, int(parts[-2]) if len(parts) > 1 else 0, int(parts[-1])))
    return found


def test_published_ports_listen_on_127_0_0_1_only(services):
    # The TLS proxy in front serves the world; nothing else listens beyond the host.
    published = {
        f"{name} {port}": port[0]
        for name, service in services.items()
        for port in published_ports(service)
    }
    assert published and set(published.values()) == {"127.0.0.1"}, published


def test_nginx_is_in_front_and_only_nginx_reaches_gunicorn(services):
    # The site's port is nginx's; web publishes none, so no request bypasses nginx's cache or
    # its forwarding headers.
    assert not services["web"].get("ports"), "web publishes a port: nginx is bypassed"
    ((address, host_port, container_port),) = published_ports(services["nginx"])
    assert (address, host_port) == ("127.0.0.1", 8000)
    env = environment_of(services["nginx"])
    assert env["TIMELINE_LISTEN"] == str(container_port)
    host, _, port = env["TIMELINE_UPSTREAM"].partition(":")
    ((_, config),) = programs(services["web"])
    assert host == "web" and any(bind.endswith(f":{port}") for bind in config.bind)
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    # Its healthcheck asks Django's, through nginx.
    url = urlsplit(
        re.search(r"https?://[^\s'\"]+", " ".join(services["nginx"]["healthcheck"]["test"]))[0]
    )
    assert url.path == "/healthz" and url.port == container_port
    assert services["nginx"].get("restart") in ("always", "unless-stopped")


def test_nginx_renders_the_project_template_with_every_name_it_uses(services):
    nginx = services["nginx"]
    assert re.fullmatch(r"nginx:\d+\.\d+(\.\d+)?(-[a-z]+)?", nginx["image"]), nginx["image"]
    mounts = {}
    for volume in nginx.get("volumes") or []:
        source, target, *mode = str(volume).split(":")
        mounts[target] = (source, mode)
    templates = {
        target: spec
        for target, spec in mounts.items()
        if target.startswith("/etc/nginx/templates/")
    }
    ((target, (source, mode)),) = templates.items()
    # Rendered to conf.d/default.conf: the image's own default server is replaced.
    assert target == "/etc/nginx/templates/default.conf.template"
    assert (COMPOSE_FILE.parent / source).resolve() == TEMPLATE and mode == ["ro"]
    env = environment_of(nginx)
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", TEMPLATE.read_text()))
    assert used <= set(env), used - set(env)
    # The image's envsubst renders these names only: nginx's own $variables stay.
    names_rendered = {name for name in env if re.search(env["NGINX_ENVSUBST_FILTER"], name)}
    assert used == names_rendered
    # The cache lives in a volume (or tmpfs) of its own, not in the container's layer.
    cache = env["TIMELINE_CACHE_DIR"]
    assert cache in mounts or cache in (nginx.get("tmpfs") or []), cache


def web_healthcheck_url(services: dict):
    """Return the address the web service's healthcheck asks for, split."""
    test = services["web"]["healthcheck"]["test"]
    return urlsplit(re.search(r"https?://[^\s'\"]+", " ".join(test))[0])


def test_healthchecks_are_there_and_ask_something_real(services):
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            if (spec or {}).get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}"
    url = web_healthcheck_url(services)
    try:
        resolve(url.path)
    except Resolver404:
        pytest.fail(f"the web healthcheck asks {url.path}, which nothing answers")
    ((_, config),) = programs(services["web"])
    assert any(bind.endswith(f":{url.port or 80}") for bind in config.bind), config.bind


@pytest.mark.django_db
def test_the_web_healthcheck_passes_while_no_worker_runs(services, client):
    # Whatever waits for a healthy web (a proxy in front) must not be held back by the worker:
    # the web healthcheck asks only what the web process needs. No worker has run here.
    url = web_healthcheck_url(services)
    response = client.get(f"{url.path}?{url.query}" if url.query else url.path)
    assert response.status_code == 200, response.content
    assert "worker" not in response.json()
    # The whole service's check, for monitoring, does fail without a worker.
    assert client.get("/healthz").status_code == 503


# --- What the commands run ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["web service", "Dockerfile CMD"])
def test_gunicorn_runs_with_the_redacting_config_file(services, where):
    service = services["web"] if where == "web service" else {}
    ((program, config),) = programs(service)
    assert program == "gunicorn"
    assert config.config_file == "config/gunicorn.conf.py", where
    assert issubclass(config.logger_class, RedactingGunicornLogger), where
    assert config.accesslog == "-", f"{where}: the access log is not on stdout"


def test_worker_and_beat_run_the_project_app(services):
    assert programs(services["worker"]) == [("celery", "worker")]
    assert programs(services["beat"]) == [("celery", "beat")]


def test_migrate_migrates_and_loads_fixtures_that_exist(services, monkeypatch):
    ran = dict(found for program, found in programs(services["migrate"]) if program == "manage.py")
    assert "migrate" in ran
    monkeypatch.chdir(ROOT)  # the image's WORKDIR holds the same tree
    finder = LoaddataCommand()
    finder.verbosity, finder.app_label, finder.using = 0, None, "default"
    finder.serialization_formats = serializers.get_public_serializer_formats()
    for label in ran["loaddata"].args if "loaddata" in ran else ():
        try:
            finder.find_fixtures(label)
        except CommandError as error:
            pytest.fail(f"loaddata {label}: {error}")


# --- The image ------------------------------------------------------------------------------------


def test_the_image_runs_as_a_non_root_user():
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_web_worker_and_beat_share_no_disk_and_keep_feeds_in_the_database(services):
    """Each app service could run on its own host: feeds go through the database, not a volume."""
    for name in APP_SERVICES:
        service = services[name]
        assert not service.get("volumes"), f"{name} mounts {service.get('volumes')}"
        environment = environment_of(service)
        assert environment["FEED_STORAGE"].endswith(":-database}"), name
