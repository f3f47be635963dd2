"""One settings module for every environment, driven by environment variables."""

import warnings
import zoneinfo
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Time zones come from the pinned tzdata package, never from the machine, so every host
# (and every test run) converts local times with the same rules.
zoneinfo.reset_tzpath(to=())

# A naive datetime reaching the ORM would be read in UTC: refuse it instead of guessing.
warnings.filterwarnings(
    "error", r"DateTimeField .* received a naive datetime", RuntimeWarning, r"django\.db\.models"
)

# --- Core ------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_countries",
    "reversion",
    "timeline",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Reconnect after a server restart instead of failing the next request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Internationalisation and time -----------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Published calendar feeds live in the default storage (shared by web and worker).
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Mail ------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Timeline <timeline@localhost>")

# --- Celery ----------------------------------------------------------------------------------
# Without REDIS_URL the broker is a folder on disk, so `make run` needs no server.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(RUN_DIR / "broker"),
        "data_folder_out": str(RUN_DIR / "broker"),
        "control_folder": str(RUN_DIR / "broker-control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(RUN_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "record-heartbeat": {"task": "timeline.tasks.record_heartbeat", "schedule": 30.0},
    "publish-all-feeds": {"task": "timeline.tasks.publish_all_feeds", "schedule": 3600.0},
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Calendar feeds --------------------------------------------------------------------------
# Feeds hold events from this many days ago on (keeps them under Google's ~1 MB limit).
FEED_WINDOW_DAYS = env.int("FEED_WINDOW_DAYS", default=1095)
# How often calendar clients should refresh (REFRESH-INTERVAL, X-PUBLISHED-TTL, Cache-Control).
FEED_REFRESH_MINUTES = env.int("FEED_REFRESH_MINUTES", default=60)
# How often beat looks for edits whose publish task was lost (a broker outage, a killed worker).
FEED_CATCH_UP_SECONDS = env.float("FEED_CATCH_UP_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE["publish-owed-feeds"] = {
    "task": "timeline.tasks.publish_owed_feeds",
    "schedule": FEED_CATCH_UP_SECONDS,
    # A backlog built up while no worker ran is worth one run, not hundreds.
    "options": {"expires": FEED_CATCH_UP_SECONDS},
}

# --- Notifications ---------------------------------------------------------------------------
# A reminder later than this is skipped rather than sent late.
REMINDER_GRACE_MINUTES = env.int("REMINDER_GRACE_MINUTES", default=30)
# Changes to one event within this delay make one notice (old -> new).
CHANGE_NOTICE_DELAY_SECONDS = env.int("CHANGE_NOTICE_DELAY_SECONDS", default=600)
# How often beat runs the dispatcher, and how many rows one claim takes.
DISPATCH_INTERVAL_SECONDS = env.float("DISPATCH_INTERVAL_SECONDS", default=5.0)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=200)
# Temporary SMTP failures are retried after RETRY_BASE_SECONDS * 2**attempt, at most this often.
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=30.0)
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=8)
# Confirmation links expire after this many hours.
CONFIRMATION_MAX_AGE_HOURS = env.int("CONFIRMATION_MAX_AGE_HOURS", default=72)
# A claimed row stays with its dispatcher this long unless renewed (or the claimer's database
# session is gone); longer than two SMTP timeouts, so a slow send never loses its lease.
DISPATCH_LEASE_SECONDS = env.float("DISPATCH_LEASE_SECONDS", default=30.0)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
# While the database is unreachable, a dispatcher keeps trying to record what it sent this long.
DISPATCH_MARK_RETRY_SECONDS = env.float("DISPATCH_MARK_RETRY_SECONDS", default=300.0)
CELERY_BEAT_SCHEDULE["dispatch-notifications"] = {
    "task": "timeline.tasks.dispatch_notifications",
    "schedule": DISPATCH_INTERVAL_SECONDS,
    "options": {"expires": max(DISPATCH_INTERVAL_SECONDS, 1.0)},
}
# An inbox that acts on "unsubscribe" mails, offered in List-Unsubscribe beside the one-click link.
UNSUBSCRIBE_MAILTO = env("UNSUBSCRIBE_MAILTO", default="")
