"""Shared fixtures: users in the editor groups, a real Celery worker process, an SMTP server."""

import contextlib
import os
import uuid
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from .processes import ROOT, start_celery, stop

# The fault suite restarts the servers it uses: `make faults` runs it against private ones.
collect_ignore = [] if os.environ.get("FAULTS_PG_PORT") else ["faults"]

# Property tests (tests/test_properties_*.py). "ci", the default, is deterministic and quick:
# the same examples on every run, no example database. HYPOTHESIS_PROFILE=explore searches far
# more examples, randomly, and remembers failures in .hypothesis/ to replay them first.
hypothesis_settings.register_profile(
    "ci", max_examples=60, derandomize=True, database=None, deadline=None, print_blob=True
)
hypothesis_settings.register_profile(
    "explore", max_examples=2500, deadline=None, stateful_step_count=60, print_blob=True
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory):
    """Collect static files once, so pages render with hashed names as in production."""
    settings.STATIC_ROOT = tmp_path_factory.mktemp("static")
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def compiled_messages():
    """Compile the translation catalogues as `make messages` does (only those changed since)."""
    # From timeline/, so that only our catalogues are looked for, not those in .venv.
    with contextlib.chdir(ROOT / "timeline"):
        call_command("compilemessages", verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def plain_http():
    """Serve over plain http as the suite's clients use it; production keeps the redirect."""
    settings.SECURE_SSL_REDIRECT = False
    os.environ["SECURE_SSL_REDIRECT"] = "0"  # servers the tests start in child processes


@pytest.fixture(autouse=True)
def default_language():
    """Start each test in the default language: the test client leaves a request's active."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    """Count each test's form posts apart, so earlier tests never use up its limits."""
    settings.RATE_LIMIT_KEY_PREFIX = f"ratelimit-test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def forget_served_feeds():
    """Start each test with no feed in this process's memory: the database was reset under it."""
    from timeline.feeds import replay, served, stamp

    served.forget()
    replay.forget()
    stamp.forget()


@pytest.fixture(scope="session", autouse=True)
def media_root(tmp_path_factory):
    """Keep published feeds of this run apart (worker processes get the same folder)."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    os.environ["MEDIA_ROOT"] = settings.MEDIA_ROOT


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("chief", "chief@example.com", "pw-chief-123")


def _ensure_groups() -> None:
    # A transactional test's flush empties every table, the groups the migration made too:
    # make them again as that migration does.
    if Group.objects.filter(name__in=("Editors", "Publishers")).count() == 2:
        return
    migration = ("timeline", "0002_editor_groups")
    state = MigrationLoader(connection).project_state(migration)
    import_module("timeline.migrations.0002_editor_groups").create_groups(state.apps, None)


def _staff_in(group_name: str, username: str) -> User:
    _ensure_groups()
    user = User.objects.create_user(
        username, f"{username}@example.com", "pw-123-staff", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def editor(db) -> User:
    return _staff_in("Editors", "eddie")


@pytest.fixture
def publisher(db) -> User:
    return _staff_in("Publishers", "paula")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start `celery worker` as production does, against Redis and the test database."""
    from config.celery import app

    app.control.purge()  # messages left by earlier runs belong to other databases
    log_path = tmp_path / "worker.log"
    process = start_celery("worker", log_path)
    try:
        yield process
    finally:
        stop(process)
        print(log_path.read_text()[-4000:])


@pytest.fixture
def smtp(settings, monkeypatch):
    """A real SMTP server; Django's mail goes to it over SMTP (no locmem backend)."""
    from .smtp import SmtpServer

    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        # For worker processes started by the test; the suite's own value comes back after.
        monkeypatch.setenv("EMAIL_URL", server.url)
        yield server.sink
