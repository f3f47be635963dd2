"""The container setup names things that exist: services, Dockerfile, modules, commands.

Nothing here starts Docker. Each command in docker-compose.yml (and the Dockerfile's CMD) is
parsed as the program it runs would parse it, and what it names is looked up in this project:
gunicorn's WSGI app is imported, Celery's app is found as `celery -A` finds it, and
`manage.py` subcommands are looked up among Django's management commands.
"""

import fnmatch
import importlib
import json
import re
import runpy
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.core import serializers
from django.core.management import CommandError, get_commands, load_command_class
from django.core.management.commands.loaddata import Command as LoaddataCommand
from django.urls import Resolver404, resolve
from gunicorn.config import Config as GunicornConfig

from timeline.security.log_redaction import RedactingGunicornLogger

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

APP_SERVICES = ("web", "worker", "beat")
REQUIRED_ENV = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SECRET_KEY")
MAIL_CATCHER_IMAGES = ("mailpit", "mailhog", "maildev", "smtp4dev")
SHELLS = {"sh", "bash", "ash", "dash"}
WSGI_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*)(\(.*\))?$")


# --- Reading the files --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open() as stream:
        data = yaml.safe_load(stream)
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no services"
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment_of(service: dict) -> dict[str, str | None]:
    """Return a service's environment as a dict, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): None if v is None else str(v) for k, v in env.items()}
    result: dict[str, str | None] = {}
    for item in env:
        name, sep, value = str(item).partition("=")
        result[name] = value if sep else None
    return result


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


# --- Parsing commands ---------------------------------------------------------------------------


def split_command(command: str | list) -> list[list[str]]:
    """Return the argument lists a command runs, looking inside `sh -c "a && b; c"`."""
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if argv and Path(argv[0]).name in SHELLS and "-c" in argv:
        script = argv[argv.index("-c") + 1]
        return [part for piece in re.split(r"&&|\|\||;", script) if (part := shlex.split(piece))]
    return [argv] if argv else []


def program_and_args(argv: list[str]) -> tuple[str, list[str]]:
    """Return (program, arguments), unwrapping `exec`, `python -m X` and `python manage.py`."""
    while argv and argv[0] == "exec":
        argv = argv[1:]
    assert argv, "empty command"
    program = Path(argv[0]).name
    if re.fullmatch(r"python[\d.]*", program):
        if len(argv) > 2 and argv[1] == "-m":
            return argv[2], argv[3:]
        if len(argv) > 1 and argv[1].endswith("manage.py"):
            return "manage.py", argv[1:]
        pytest.fail(f"unrecognised python command: {argv}")
    if program == "manage.py":
        return "manage.py", argv
    return program, argv[1:]


def command_of(service_name: str, service: dict) -> str | list:
    """Return what a service runs: its command, or the Dockerfile's CMD if it has none."""
    if "entrypoint" in service:
        pytest.fail(f"{service_name}: an entrypoint override is not understood by these tests")
    return service.get("command") or dockerfile_cmd()


# --- Checking what commands name ----------------------------------------------------------------


def check_gunicorn(args: list[str]) -> dict:
    """Read gunicorn's arguments and config file as gunicorn does; import the WSGI app named."""
    config = GunicornConfig()
    try:
        options = config.parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"gunicorn rejects its arguments: {args}")
    if options.config:
        path = ROOT / options.config  # relative to the image's WORKDIR, which holds this tree
        assert path.is_file(), f"gunicorn -c {options.config}: no such file"
        for name, value in runpy.run_path(str(path)).items():
            if name in config.settings:
                config.set(name, value)
    # Command-line options win over the file's, as in gunicorn.
    for name, value in vars(options).items():
        if value is not None and name != "args":
            config.set(name, value)
    assert len(options.args) == 1, f"gunicorn wants one WSGI app, got {options.args}"
    match = WSGI_SPEC.match(options.args[0])
    assert match, f"not a module:attribute WSGI spec: {options.args[0]!r}"
    module = importlib.import_module(match["module"])
    application = getattr(module, match["attr"], None)
    assert application is not None, f"{match['module']} has no attribute {match['attr']!r}"
    assert callable(application), f"{options.args[0]} is not callable"
    return {
        "program": "gunicorn",
        "bind": config.bind,
        "config_file": options.config,
        "logger_class": config.logger_class,
        "accesslog": config.accesslog,
    }


def check_celery(args: list[str]) -> dict:
    """Find the app as `celery -A` does, then parse the subcommand's own options."""
    options = {
        opt: param
        for param in celery_cli.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }
    spec, i = None, 0
    while i < len(args) and args[i].startswith("-"):
        name, eq, value = args[i].partition("=")
        option = options.get(name)
        if option is None:
            pytest.fail(f"celery has no global option {args[i]!r}")
        if not option.is_flag and not eq:
            i += 1
            value = args[i]
        if "--app" in option.opts:
            spec = value
        i += 1
    assert spec, f"celery command names no app (-A): {args}"
    assert i < len(args), f"celery command has no subcommand: {args}"
    subcommand, rest = args[i], args[i + 1 :]

    app = find_app(spec)
    assert isinstance(app, Celery), f"celery -A {spec} finds {app!r}, not a Celery app"

    command = celery_cli.commands.get(subcommand)
    assert command is not None, f"celery has no subcommand {subcommand!r}"
    context = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    try:
        command.make_context(subcommand, list(rest), obj=context)
    except click.ClickException as exc:
        pytest.fail(f"celery {subcommand} rejects {rest}: {exc.format_message()}")
    return {"program": "celery", "subcommand": subcommand, "app": app}


def check_manage(args: list[str]) -> dict:
    """Check manage.py exists and its subcommand is a management command that takes the args."""
    assert (ROOT / Path(args[0]).name).is_file(), f"{args[0]} does not exist"
    assert len(args) > 1, "manage.py without a subcommand"
    name, rest = args[1], args[2:]
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name!r}"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        options = parser.parse_args(rest)
    except SystemExit:
        pytest.fail(f"manage.py {name} rejects {rest}")
    return {"program": "manage.py", "subcommand": name, "options": options}


CHECKS = {"gunicorn": check_gunicorn, "celery": check_celery, "manage.py": check_manage}


def check_command(command: str | list) -> list[dict]:
    """Check every program a command runs; a program these tests do not know fails."""
    results = []
    for argv in split_command(command):
        program, args = program_and_args(argv)
        assert program in CHECKS, f"unrecognised program {program!r} in {command!r}"
        results.append(CHECKS[program](args))
    assert results, f"empty command: {command!r}"
    return results


# --- Services -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["postgres", "redis", *APP_SERVICES])
def test_service_exists(services, name):
    assert name in services, f"docker-compose.yml has no {name!r} service"


def test_a_mail_catcher_exists(services):
    catchers = [
        name
        for name, service in services.items()
        if any(image in str(service.get("image", "")) for image in MAIL_CATCHER_IMAGES)
    ]
    assert catchers, "no mail catcher service (mailpit or the like)"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_builds_from_the_dockerfile(services, name):
    build = services[name].get("build")
    assert build, f"{name} does not build an image"
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    assert dockerfile.is_file(), f"{name} builds from {dockerfile}, which does not exist"
    assert dockerfile == DOCKERFILE, f"{name} builds from {dockerfile}, not {DOCKERFILE}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_restarts_after_exit(services, name):
    # A Celery worker exits when it loses Redis for good: something has to start it again.
    policy = str(services[name].get("restart", "no"))
    assert policy != "no", f"{name} has no restart policy"
    assert policy in ("always", "unless-stopped") or policy.startswith("on-failure"), policy


@pytest.mark.parametrize("name", APP_SERVICES)
def test_environment_names_the_settings(services, name):
    env = environment_of(services[name])
    missing = [var for var in REQUIRED_ENV if var not in env]
    assert not missing, f"{name} environment lacks {missing}"


@pytest.mark.parametrize(("var", "default_port"), [("DATABASE_URL", 5432), ("REDIS_URL", 6379)])
@pytest.mark.parametrize("name", APP_SERVICES)
def test_urls_point_at_services(services, name, var, default_port):
    url = urlsplit(environment_of(services[name])[var] or "")
    assert url.hostname in services, f"{name}: {var} points at {url.hostname!r}, not a service"
    assert (url.port or default_port) == default_port


def is_dev(service: dict) -> bool:
    return "dev" in (service.get("profiles") or [])


def is_mail_catcher(service: dict) -> bool:
    return any(image in str(service.get("image", "")) for image in MAIL_CATCHER_IMAGES)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_mail_goes_where_the_operator_says(services, name):
    # No default: production must never send (or think it sends) to a catcher nobody reads.
    email_url = environment_of(services[name])["EMAIL_URL"] or ""
    required = re.fullmatch(r"\$\{EMAIL_URL:\?(?P<hint>[^}]*)\}", email_url)
    assert required, f"{name}: EMAIL_URL is {email_url!r}, not a required ${{EMAIL_URL:?...}}"
    # The hint names the development catcher, reachable once `--profile dev` starts it.
    hint = re.search(r"smtp://\S+", required["hint"])
    assert hint, f"{name}: the EMAIL_URL message suggests no SMTP URL for development"
    url = urlsplit(hint[0].rstrip(")"))
    catcher = services.get(url.hostname or "")
    assert catcher, f"{name}: the suggested EMAIL_URL points at {url.hostname!r}, not a service"
    assert is_mail_catcher(catcher) and is_dev(catcher), f"{url.hostname} is no dev mail catcher"


def test_mail_catchers_only_in_the_dev_profile(services):
    catchers = {name: service for name, service in services.items() if is_mail_catcher(service)}
    assert catchers, "no mail catcher for development"
    for name, service in catchers.items():
        assert service.get("profiles") == ["dev"], f"{name} runs outside the dev profile"


def test_production_services_need_no_dev_service(services):
    dev = {name for name, service in services.items() if is_dev(service)}
    for name, service in services.items():
        if is_dev(service):
            continue
        assert not service.get("profiles"), f"{name} is in profiles {service['profiles']}"
        needs = set(service.get("depends_on") or ()) | set(service.get("links") or ())
        assert not needs & dev, f"{name} depends on dev-only {needs & dev}"


def published_host_ips(service: dict) -> list[str]:
    """Return the host address of each published port ("" where it is every interface)."""
    addresses = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            addresses.append(str(port.get("host_ip", "")))
            continue
        # [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]; a bare number is every interface.
        parts = str(port).rsplit(":", 2)
        addresses.append(parts[0].strip("[]") if len(parts) == 3 else "")
    return addresses


def test_published_ports_are_reachable_from_this_host_only(services):
    # A proxy in front serves the world; nothing else listens beyond the host.
    for name, service in services.items():
        for address in published_host_ips(service):
            assert address == "127.0.0.1", f"{name} publishes on {address or 'every interface'}"
    assert published_host_ips(services["web"]) == ["127.0.0.1"]


def test_dependencies_can_be_met(services):
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {dep: {"condition": "service_started"} for dep in depends}
        for dep, spec in depends.items():
            assert dep in services, f"{name} depends on {dep!r}, which is not a service"
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s healthcheck"
            elif condition == "service_completed_successfully":
                assert str(services[dep].get("restart", "no")) == "no", f"{dep} never completes"


def test_one_beat_only(services):
    beat = services["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


# --- Commands -----------------------------------------------------------------------------------


def test_web_runs_the_wsgi_app(services):
    results = check_command(command_of("web", services["web"]))
    assert [r["program"] for r in results] == ["gunicorn"]


@pytest.mark.parametrize("where", ["web service", "Dockerfile CMD"])
def test_gunicorn_runs_with_the_redacting_config_file(services, where):
    command = command_of("web", services["web"]) if where == "web service" else dockerfile_cmd()
    (gunicorn,) = check_command(command)
    assert gunicorn["config_file"] == "config/gunicorn.conf.py", f"{where}: {command}"
    assert issubclass(gunicorn["logger_class"], RedactingGunicornLogger), where
    assert gunicorn["accesslog"] == "-", f"{where}: the access log is not on stdout"


@pytest.mark.parametrize(("name", "subcommand"), [("worker", "worker"), ("beat", "beat")])
def test_celery_services_run_the_project_app(services, name, subcommand):
    results = check_command(command_of(name, services[name]))
    assert [(r["program"], r.get("subcommand")) for r in results] == [("celery", subcommand)]
    assert results[0]["app"] is importlib.import_module("config.celery").app


def test_celery_app_module():
    # `celery -A config` resolves to config.celery.app: that module must give a Celery app.
    module = importlib.import_module("config.celery")
    assert isinstance(module.app, Celery)
    assert find_app("config") is module.app


def test_every_built_service_runs_commands_that_exist(services):
    built = [name for name, service in services.items() if service.get("build")]
    assert set(APP_SERVICES) <= set(built)
    for name in built:
        check_command(command_of(name, services[name]))


def test_migrate_migrates(services):
    if "migrate" not in services:
        pytest.skip("no migrate service")
    results = check_command(command_of("migrate", services["migrate"]))
    assert "migrate" in [r.get("subcommand") for r in results]


def test_loaded_fixtures_exist(services, monkeypatch):
    """Every `loaddata` label in a command resolves to a file, as loaddata would find it."""
    monkeypatch.chdir(ROOT)  # the image's WORKDIR holds the same tree
    labels = [
        label
        for service_name, service in services.items()
        if service.get("build")
        for result in check_command(command_of(service_name, service))
        if result.get("subcommand") == "loaddata"
        for label in result["options"].args
    ]
    if not labels:
        pytest.skip("no service loads fixtures")
    finder = LoaddataCommand()
    finder.verbosity, finder.app_label, finder.using = 0, None, "default"
    finder.serialization_formats = serializers.get_public_serializer_formats()
    for label in labels:
        try:
            finder.find_fixtures(label)
        except CommandError as exc:
            pytest.fail(f"loaddata {label}: {exc}")


def test_web_healthcheck_asks_a_real_url_on_the_bound_port(services):
    web = services["web"]
    test = web.get("healthcheck", {}).get("test")
    assert test, "web has no healthcheck"
    text = test if isinstance(test, str) else " ".join(str(t) for t in test)
    match = re.search(r"https?://[^\s'\"]+", text)
    assert match, f"web healthcheck asks no URL: {text}"
    url = urlsplit(match[0])
    try:
        resolve(url.path or "/")
    except Resolver404:
        pytest.fail(f"web healthcheck asks {url.path}, which no URL pattern answers")
    (gunicorn,) = check_command(command_of("web", web))
    ports = {int(bind.rpartition(":")[2]) for bind in gunicorn["bind"] if ":" in bind}
    assert (url.port or 80) in ports, f"healthcheck asks port {url.port}; gunicorn binds {ports}"


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_cmd_serves_an_importable_wsgi_app():
    results = check_command(dockerfile_cmd())
    assert [r["program"] for r in results] == ["gunicorn"]


def test_dockerfile_runs_as_a_non_root_user():
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "the Dockerfile never leaves root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_copies_files_that_exist_and_are_not_ignored():
    ignore_file = ROOT / ".dockerignore"
    ignored = [
        line.strip().rstrip("/").removeprefix("**/")
        for line in (ignore_file.read_text().splitlines() if ignore_file.exists() else [])
        if line.strip() and not line.startswith("#")
    ]
    for keyword, args in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        parts = json.loads(args) if args.startswith("[") else shlex.split(args)
        sources = [p for p in parts[:-1] if not p.startswith("--")]
        assert sources, f"{keyword} {args} copies nothing"
        for source in sources:
            path = source.rstrip("/")
            assert (ROOT / path).exists(), f"{keyword} {source}: not in the build context"
            hits = [pattern for pattern in ignored if fnmatch.fnmatch(path, pattern)]
            assert not hits, f"{keyword} {source} is excluded by .dockerignore {hits}"
