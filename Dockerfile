# syntax=docker/dockerfile:1
# The one image behind web, worker, beat and migrate in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Import config/ and timeline/ from /app (not the installed copy), so BASE_DIR is /app
    # and STATIC_ROOT is the /app/staticfiles collected below, whichever program starts.
    PYTHONPATH=/app

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the package or its metadata changes.
COPY pyproject.toml README.md ./
COPY config/ config/
COPY timeline/ timeline/
RUN pip install .

COPY fixtures/ fixtures/
COPY manage.py ./

# Settings insist on SECRET_KEY, EMAIL_URL and an https SITE_URL; these build-only values exist
# for this one step and are not kept in the image's environment. The real ones come from the
# container's environment.
RUN SECRET_KEY=collectstatic-build-only-not-secret \
    EMAIL_URL=smtp://build-only.invalid SITE_URL=https://build-only.invalid \
    python manage.py collectstatic --noinput

# The translation catalogues are compiled here (.mo files are build output, not in git), with
# Debian's gettext, which leaves the image again in the same step. Run from timeline/, so only
# our catalogues are looked for; no settings are needed for that.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && (cd timeline && django-admin compilemessages --verbosity 0) \
    && apt-get purge -y --auto-remove gettext \
    && rm -rf /var/lib/apt/lists/*

RUN mkdir -p /app/media && chown app:app /app/media

USER app

EXPOSE 8000

# Bind address, workers and logs (access log to stdout, secret tokens redacted) are in the file.
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
