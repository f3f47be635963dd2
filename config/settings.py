"""One settings module for every environment, driven by environment variables."""

import datetime as dt
import re
import warnings
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from timeline import languages
from timeline.security.client_ip import parse_networks as _validate_networks

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"

# Admin and form classes written with type parameters (ModelAdmin[Event]) need them at run time.
django_stubs_ext.monkeypatch()

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
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off it is required: set the SECRET_KEY "
            "environment variable to a long random string (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    # DEBUG only, and `check --deploy` flags it: never a production key.
    SECRET_KEY = "django-insecure-development-only"  # noqa: S105
# Shown in page titles, the admin, calendar names and mail (templates read {{ SITE_NAME }}).
SITE_NAME: str = env("SITE_NAME", default="Kazakhstan–Russia timeline")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Links in mail and feeds (RFC 8058 one-click unsubscribe among them) start with it: https only.
SITE_URL: str = env("SITE_URL", default="http://localhost:8000" if DEBUG else "").rstrip("/")
if not DEBUG and (urlsplit(SITE_URL).scheme != "https" or not urlsplit(SITE_URL).hostname):
    raise ImproperlyConfigured(
        f"SITE_URL is {SITE_URL or 'not set'!r}. With DEBUG off it is required and must be the "
        "site's https:// address (mail and feed links use it; one-click unsubscribe needs https), "
        "for example SITE_URL=https://timeline.example.org."
    )

INSTALLED_APPS = [
    # Before the admin, which it extends with side-by-side translated fields.
    "modeltranslation",
    # The admin with TOTP: superusers (ADMIN_REQUIRE_2FA) and staff with a device give a code.
    "timeline.security.admin_config.TimelineAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_countries",
    "reversion",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Backup codes: each works once, in place of an authenticator code.
    "django_otp.plugins.otp_static",
    "axes",
    # Provider webhooks for bounces and complaints (only Mailgun's is wired: config/urls.py).
    "anymail",
    "timeline",
]

MIDDLEWARE = [
    # First: nothing may read a forwarding header that none of our proxies wrote.
    "timeline.security.client_ip.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Headers of every answer, calendar feeds' too: before the feeds' fast path.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "timeline.security.headers.PermissionsPolicyMiddleware",
    "timeline.security.headers.SecretLinkReferrerPolicyMiddleware",
    # Calendar feeds are answered here, past what only pages need (sessions, the reader's
    # language, CSRF, auth, messages, lockouts): calendar apps poll them by the thousand.
    "timeline.feeds.fast_path.FeedFastPathMiddleware",
    # Pages only: a calendar file is no document a browser renders (and nosniff keeps it so).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common (so the redirect to a language prefix comes first).
    "timeline.reader_language.ReaderLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Secret-link pages use their own (timeline.security.headers.csrf_protect_secret_link).
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "timeline.context_processors.site",
                "timeline.context_processors.page_languages",
            ],
        },
    },
]

# --- Security ----------------------------------------------------------------------------------
# Production defaults (DEBUG off) pass `manage.py check --deploy`; each can be changed by an
# environment variable of the same name, e.g. SECURE_SSL_REDIRECT=0 to serve plain http on
# 127.0.0.1 (the test suites). `make run` (DEBUG=1) serves http on localhost.
HTTPS = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
# The container healthcheck asks over plain http from inside. Not /metrics: its bearer token
# and numbers travel over https only (README, "Metrics and health").
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = env("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The reverse proxies of ours in front of gunicorn (CIDRs; none by default). Only a request whose
# peer is in one of them has its X-Forwarded-For and X-Forwarded-Proto believed; from anyone
# else these headers are dropped (timeline.security.client_ip.ForwardedHeadersMiddleware).
if "TRUSTED_PROXY_COUNT" in env.ENVIRON:
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT is gone: it believed X-Forwarded-For from anyone. List your "
        "proxies' addresses or networks in TRUSTED_PROXIES instead (e.g. 172.18.0.0/16)."
    )
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
_validate_networks(TRUSTED_PROXIES)
# The proxy's header saying whether the visitor used https; empty turns it off.
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None

# Content-Security-Policy (django-csp): only our own files; no inline script or style anywhere
# (the public pages and Django's admin need none).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
PERMISSIONS_POLICY = env(
    "PERMISSIONS_POLICY",
    default=(
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), payment=(), usb=()"
    ),
)

# Admin login: django-axes locks a username from one client address after AXES_FAILURE_LIMIT
# failures, and from every address after AXES_USERNAME_FAILURE_LIMIT (a guesser who rotates
# addresses); see timeline.security.admin_site.AddressAndUsernameLockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_USERNAME_FAILURE_LIMIT = env.int("AXES_USERNAME_FAILURE_LIMIT", default=20)
# The order matters to the handler: per address first, then per username alone.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "timeline.security.admin_site.AddressAndUsernameLockout"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "timeline.security.admin_site.locked_out"
AXES_CLIENT_IP_CALLABLE = "timeline.security.client_ip.client_ip"
AXES_VERBOSE = False
# Superusers cannot enter the admin without a TOTP code (or a backup code); other staff need
# one once they have a device.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=not DEBUG)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# Shown in authenticator apps next to the code; plain ASCII, as it travels in an otpauth:// URI.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default=SITE_NAME.replace("–", "-"))

# Public forms: at most COUNT posts per PERIOD ("5/h", "30/10m", "100/d", or seconds: "20/60").
RATE_LIMITS = {
    # Sign-ups and preference changes from one client address.
    "form-client": env("RATE_LIMIT_FORM_CLIENT", default="20/h"),
    # Sign-ups and preference changes for one email address, from anywhere.
    "form-address": env("RATE_LIMIT_FORM_ADDRESS", default="6/h"),
    # One-click unsubscribes come from mail providers' shared servers, and leaving must keep
    # working after preference changes: limits of their own, generous ones.
    "unsubscribe-client": env("RATE_LIMIT_UNSUBSCRIBE_CLIENT", default="300/h"),
    "unsubscribe-address": env("RATE_LIMIT_UNSUBSCRIBE_ADDRESS", default="30/h"),
    # Presses of "Confirm" on confirmation pages from one client address.
    "confirm-client": env("RATE_LIMIT_CONFIRM_CLIENT", default="30/h"),
}
RATE_LIMIT_KEY_PREFIX = env("RATE_LIMIT_KEY_PREFIX", default="ratelimit")

# --- Database --------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Reconnect after a server restart instead of failing the next request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Internationalisation and time -----------------------------------------------------------
# The three languages and the fallback order live in timeline/languages.py.
LANGUAGE_CODE = languages.DEFAULT
LANGUAGES = [(code, languages.NAMES[code]) for code in languages.CODES]
# Ours first (makemessages writes there); then the words of Django and the packages we use in
# Kazakh (and Russian) where their own catalogues lack them (see tests/test_translations.py).
LOCALE_PATHS = [BASE_DIR / "timeline" / "locale", BASE_DIR / "timeline" / "packages" / "locale"]
# Translated fields (timeline/translation.py): one column per language; none is required of
# every record, and a missing text falls back in the order of timeline/languages.py.
# A year; HttpOnly and Secure like the other cookies (pages read it on the server only).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SAMESITE = "Lax"
MODELTRANSLATION_DEFAULT_LANGUAGE = languages.DEFAULT
MODELTRANSLATION_LANGUAGES = languages.CODES
MODELTRANSLATION_FALLBACK_LANGUAGES = {"default": languages.CODES, **languages.FALLBACKS}
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
MEDIA_URL = "/media/"
# Where published calendar feeds are kept, read by every web host and written by the worker:
#   database   (default) rows in PostgreSQL, which every host already shares; a feed's bytes
#              commit with its validators, and pg_dump backs them up with the record.
#   s3         an S3-compatible bucket through django-storages (FEED_S3_BUCKET,
#              FEED_S3_ENDPOINT_URL; credentials as boto3 reads them: AWS_ACCESS_KEY_ID, ...).
#   filesystem MEDIA_ROOT: one host only (or a disk every host mounts).
FEED_STORAGE = env("FEED_STORAGE", default="database")
_FEED_STORAGES: dict[str, dict[str, object]] = {
    "database": {"BACKEND": "timeline.feeds.db_storage.DatabaseStorage"},
    "filesystem": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "s3": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("FEED_S3_BUCKET", default=""),
            "endpoint_url": env("FEED_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("FEED_S3_REGION", default="") or None,
            "location": env("FEED_S3_PREFIX", default="timeline"),
            # Never public: web hosts read the bytes and serve them after their own checks.
            "default_acl": "private",
            "querystring_auth": True,
            # Names are digests of their content: the same name is the same bytes.
            "file_overwrite": True,
        },
    },
}
if FEED_STORAGE not in _FEED_STORAGES:
    raise ImproperlyConfigured(
        f"FEED_STORAGE is {FEED_STORAGE!r}: choose database (the default), s3 or filesystem."
    )
if FEED_STORAGE == "s3" and not env("FEED_S3_BUCKET", default=""):
    raise ImproperlyConfigured("FEED_STORAGE is s3: set FEED_S3_BUCKET to the bucket's name.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "feeds": _FEED_STORAGES[FEED_STORAGE],
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Mail ------------------------------------------------------------------------------------
EMAIL_URL = env("EMAIL_URL", default="consolemail://" if DEBUG else "")
if not DEBUG and not EMAIL_URL:
    raise ImproperlyConfigured(
        "EMAIL_URL is not set. With DEBUG off it is required: set it to your SMTP server, "
        "for example EMAIL_URL=smtp+tls://user:password@smtp.example.org:587."
    )
_email = env.email_url_config(EMAIL_URL)
vars().update(_email)
# These keep mail in the process, a file or the log: sign-ups would never get their link.
_UNDELIVERED = ("console", "dummy", "locmem", "filebased")
if not DEBUG and _email["EMAIL_BACKEND"].rsplit(".", 2)[-2] in _UNDELIVERED:
    raise ImproperlyConfigured(
        f"EMAIL_URL uses {EMAIL_URL.split(':')[0]}://, a backend that never delivers mail. With "
        "DEBUG off set it to your SMTP server, for example "
        "EMAIL_URL=smtp+tls://user:password@smtp.example.org:587."
    )
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Timeline <timeline@localhost>")

# --- Redis and the cache ----------------------------------------------------------------------
# Without REDIS_URL the broker is a folder on disk, so `make run` needs no server.
REDIS_URL = env("REDIS_URL", default="")
# Django's cache (the form rate limits) lives in Redis when there is one, so every web process
# counts together; without it, in the process's memory.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "timeline",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Without Redis, where the feeds' publish stamp lives (timeline/feeds/stamp.py): a folder
    # the processes of this one host share. With Redis the stamp is kept there instead.
    "feeds": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(RUN_DIR / "feeds-cache"),
    },
}

# --- Logging ---------------------------------------------------------------------------------
# Every handler redacts secret link tokens (timeline/security/log_redaction.py): 4xx paths logged by
# django.request, runserver's access log (django.server), anything else that names a URL.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "timeline.security.log_redaction.RedactSecrets"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "loggers": {
        # No handlers of its own (Django's default ones do not redact): records reach root's.
        "django": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Calendar feeds --------------------------------------------------------------------------
# Feeds hold events from this many days ago on (keeps them under Google's ~1 MB limit).
FEED_WINDOW_DAYS = env.int("FEED_WINDOW_DAYS", default=1095)
# How often calendar clients should refresh (REFRESH-INTERVAL, X-PUBLISHED-TTL, Cache-Control).
FEED_REFRESH_MINUTES = env.int("FEED_REFRESH_MINUTES", default=60)
# Each web process keeps up to this many bytes of published feeds in memory (by content digest).
FEED_PROCESS_CACHE_BYTES = env.int("FEED_PROCESS_CACHE_BYTES", default=64 * 1024 * 1024)
# Web processes read the feeds' publish stamp at most this often: a publish reaches feeds served
# by Django within this many seconds (timeline/feeds/stamp.py).
FEED_STAMP_CHECK_SECONDS = env.float("FEED_STAMP_CHECK_SECONDS", default=0.25)
# How often beat looks for edits whose publish task was lost (a broker outage, a killed worker).
FEED_CATCH_UP_SECONDS = env.float("FEED_CATCH_UP_SECONDS", default=15.0)

# --- Imports ---------------------------------------------------------------------------------
# An uploaded calendar or spreadsheet larger than this, or giving more events, is refused whole.
# 5,000 events confirm in about 15-20 s here (`make bench-import`), within gunicorn's 30 s timeout.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=5_000)

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
# How often beat creates the outbox rows of the digests due (a digest is at most this late).
DIGEST_INTERVAL_SECONDS = env.float("DIGEST_INTERVAL_SECONDS", default=60.0)
# An inbox that acts on "unsubscribe" mails, offered in List-Unsubscribe beside the one-click link.
UNSUBSCRIBE_MAILTO = env("UNSUBSCRIBE_MAILTO", default="")

# --- Health and metrics ----------------------------------------------------------------------
# /healthz answers 503 when a worker has not run the heartbeat task (beat sends it every 30 s)
# for longer than this, or the dispatcher has not started a run (every DISPATCH_INTERVAL_SECONDS)
# for longer than that; /healthz?scope=web checks only what the web process itself needs.
HEALTH_WORKER_MAX_AGE_SECONDS = env.float("HEALTH_WORKER_MAX_AGE_SECONDS", default=120.0)
HEALTH_DISPATCHER_MAX_AGE_SECONDS = env.float(
    "HEALTH_DISPATCHER_MAX_AGE_SECONDS", default=max(60.0, 6 * DISPATCH_INTERVAL_SECONDS)
)
# /metrics (Prometheus) answers only `Authorization: Bearer <METRICS_TOKEN>`; empty: 404 to all.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# And, if given, only to clients in these networks (CIDRs; the address as client_ip reads it).
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
_validate_networks(METRICS_ALLOWED_NETWORKS, setting="METRICS_ALLOWED_NETWORKS")
# Where every process keeps its counts in the cache (timeline.metrics.counters).
METRICS_KEY_PREFIX = env("METRICS_KEY_PREFIX", default="metrics")

# --- Bounces and complaints -------------------------------------------------------------------
# The envelope sender of every mail, made per mail (VERP): with "bounces@example.org" a mail goes
# out from bounces+<random token>@example.org, and the MTA receiving that domain pipes what comes
# back to `manage.py read_bounce` (README, "Bounces and complaints"). Empty: the envelope sender
# is DEFAULT_FROM_EMAIL and reports are traced by their Message-ID alone.
BOUNCE_ADDRESS = env("BOUNCE_ADDRESS", default="")
if BOUNCE_ADDRESS and not re.fullmatch(r"[^@+\s]+@[^@\s]+\.[^@\s]+", BOUNCE_ADDRESS):
    raise ImproperlyConfigured(
        f"BOUNCE_ADDRESS is {BOUNCE_ADDRESS!r}: give one plain address without a '+' (each mail "
        "adds +<token> to it), for example BOUNCE_ADDRESS=bounces@timeline.example.org."
    )
# An address is suppressed after SOFT_BOUNCE_LIMIT soft bounces (of distinct mails) within
# SOFT_BOUNCE_WINDOW_DAYS of the first of them; a hard bounce or a complaint suppresses at once.
SOFT_BOUNCE_LIMIT = env.int("SOFT_BOUNCE_LIMIT", default=3)
SOFT_BOUNCE_WINDOW_DAYS = env.int("SOFT_BOUNCE_WINDOW_DAYS", default=30)
# Provider webhooks (django-anymail): Mailgun's, at /anymail/mailgun/tracking/, verified with
# this key (Mailgun: Sending → Webhooks → HTTP webhook signing key). Empty: the URL answers 404.
ANYMAIL = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": env("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
    # Optional HTTP basic auth ("user:password") in the webhook URL, checked as well.
    "WEBHOOK_SECRET": env.list("ANYMAIL_WEBHOOK_SECRET", default=[]),
}
# A signed post is taken once, and only within this many seconds of its signature's timestamp
# (either way, for clock skew): a replayed or an old one is refused.
BOUNCE_WEBHOOK_MAX_AGE_SECONDS = env.int("BOUNCE_WEBHOOK_MAX_AGE_SECONDS", default=900)

# --- Celery ----------------------------------------------------------------------------------
# Every Celery setting is here, after the settings the beat schedule reads.
# Without REDIS_URL the broker is a folder on disk, so `make run` needs no server.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
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
# A task stuck on a hung database, disk or SMTP server is stopped rather than holding a pool
# process for good. Honest runs stay far below: publishing every feed of 10,000 events takes
# ~10 s, and a dispatcher batch (DISPATCH_BATCH_SIZE mails over one connection) a few seconds, or
# one EMAIL_TIMEOUT per mail against a failing server. A run stopped anyway is caught up as after
# a killed worker: publish_owed_feeds republishes, and claimed mails return when their lease
# (DISPATCH_LEASE_SECONDS) ends, to the next dispatcher beat starts. The hard limit (SIGKILL) gives
# the soft limit's exception a minute to unwind; both stay under the Redis visibility_timeout,
# so a task still running is never delivered a second time.
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(RUN_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "record-heartbeat": {"task": "timeline.tasks.record_heartbeat", "schedule": 30.0},
    # Moves every feed's window on, and catches up whatever else was missed.
    "publish-all-feeds": {"task": "timeline.tasks.publish_all_feeds", "schedule": 3600.0},
    # Publishes the edits whose publish_feeds message was lost (a broker outage, a killed worker).
    "publish-owed-feeds": {
        "task": "timeline.tasks.publish_owed_feeds",
        "schedule": FEED_CATCH_UP_SECONDS,
        # A backlog built up while no worker ran is worth one run, not hundreds.
        "options": {"expires": FEED_CATCH_UP_SECONDS},
    },
    # Sends what is due; first brings the outbox in line with edits whose sync_outbox was lost.
    "dispatch-notifications": {
        "task": "timeline.tasks.dispatch_notifications",
        "schedule": DISPATCH_INTERVAL_SECONDS,
        "options": {"expires": max(DISPATCH_INTERVAL_SECONDS, 1.0)},
    },
    # Makes the outbox rows of the digests due; the dispatcher sends them (see digests.create_due).
    "create-due-digests": {
        "task": "timeline.tasks.create_due_digests",
        "schedule": DIGEST_INTERVAL_SECONDS,
        "options": {"expires": DIGEST_INTERVAL_SECONDS},
    },
    # Deletes expired confirmation links (see links.prune).
    "prune-links": {
        "task": "timeline.tasks.prune_links",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
