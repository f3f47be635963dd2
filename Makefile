# The two commands: `make run` (the whole service, locally) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/timeline
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# What production settings (DEBUG off) insist on, for the suites and benches: an https site
# address, and mail that is delivered. Nothing listens on port 1: tests that send mail start
# their own SMTP server (the `smtp` fixture).
PROD_LIKE_ENV := EMAIL_URL=smtp://127.0.0.1:1 SITE_URL=https://timeline.test

FAULTS_ARGS ?=
# One line per message's file (no line numbers, which churn on every edit); no obsolete entries.
MAKEMESSAGES_ARGS := --locale kk --locale ru --add-location file --no-obsolete

.PHONY: run test typecheck audit faults bench bench-dispatch bench-tokens bench-import bench-serve lint format \
	install services clean \
	messages catalogues

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.installed

.env:
	@printf 'SECRET_KEY=%s\nDEBUG=1\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env with a new random SECRET_KEY (development settings)."

## run: install, migrate, load the seed data, create an admin, start web + worker + beat
run: install .env messages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py loaddata fixtures/seed.json
	$(BIN)/python manage.py ensure_admin
	@mkdir -p .run
	PATH="$(abspath $(BIN)):$$PATH" RUN_PORT=$(PORT) exec $(BIN)/honcho -f Procfile start

## test: install and run the whole suite against PostgreSQL and Redis on localhost
test: install node_modules/.package-lock.json messages
	bash bin/ensure-services
	bash bin/ensure-browser
	bash bin/ensure-nginx
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory audit
	SECRET_KEY=test-only-not-secret DEBUG=0 $(PROD_LIKE_ENV) \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	$(BIN)/pytest $(PYTEST_ARGS)

## typecheck: mypy, strict on timeline/ and config/ (settings in pyproject.toml [tool.mypy]);
## the Django plugin imports the settings, so it gets the same production-like environment
typecheck: install
	SECRET_KEY=test-only-not-secret DEBUG=0 $(PROD_LIKE_ENV) \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	$(BIN)/mypy

## audit: static security scan of our code (bandit) and known vulnerabilities in the installed
## packages (pip-audit: fails on one; only warns, loudly, if its database cannot be reached)
audit: install
	$(BIN)/bandit --quiet -c pyproject.toml -r timeline config
	$(BIN)/python bin/audit_dependencies.py

## faults: the fault suite, against private PostgreSQL and Redis servers that it restarts
faults: install node_modules/.package-lock.json messages
	bash bin/ensure-browser
	$(BIN)/python -m tests.faults.services start
	set -a; . .run/faults/env; set +a; \
	SECRET_KEY=test-only-not-secret DEBUG=0 SECURE_SSL_REDIRECT=0 $(PROD_LIKE_ENV) \
	DATABASE_URL=postgres://postgres@127.0.0.1:$$FAULTS_PG_PORT/timeline \
	REDIS_URL=redis://127.0.0.1:$$FAULTS_REDIS_PORT/0 \
	$(BIN)/pytest tests/faults -p no:cacheprovider $(FAULTS_ARGS); \
	status=$$?; $(BIN)/python -m tests.faults.services stop; exit $$status

## bench: feed rendering against django-ical and plain icalendar, then the peak resident memory
## of a cold 50,000-event publish against plain icalendar's (needs PostgreSQL)
bench: install
	bash bin/ensure-services
	SECRET_KEY=bench-only-not-secret $(PROD_LIKE_ENV) DATABASE_URL=$(TEST_DATABASE_URL) \
	$(BIN)/python bench/feeds.py
	SECRET_KEY=bench-only-not-secret $(PROD_LIKE_ENV) DATABASE_URL=$(TEST_DATABASE_URL) \
	$(BIN)/python bench/memory.py

## bench-dispatch: reminders, then weekly digests, sent by the dispatcher against Django's own bulk send (needs PostgreSQL)
bench-dispatch: install
	bash bin/ensure-services
	SECRET_KEY=bench-only-not-secret $(PROD_LIKE_ENV) DATABASE_URL=$(TEST_DATABASE_URL) \
	$(BIN)/python bench/dispatch.py
	SECRET_KEY=bench-only-not-secret $(PROD_LIKE_ENV) DATABASE_URL=$(TEST_DATABASE_URL) \
	$(BIN)/python bench/digests.py

## bench-tokens: time refusing unknown, truncated, forged, malformed, revoked tokens (needs PostgreSQL)
bench-tokens: install
	bash bin/ensure-services
	SECRET_KEY=bench-only-not-secret SECURE_SSL_REDIRECT=0 $(PROD_LIKE_ENV) \
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/tokens.py

## bench-import: a 5,000-event .ics and a 5,000-row CSV: dry run and apply against the bare parse (needs PostgreSQL)
bench-import: install messages
	bash bin/ensure-services
	SECRET_KEY=bench-only-not-secret $(PROD_LIKE_ENV) DATABASE_URL=$(TEST_DATABASE_URL) \
	$(BIN)/python bench/imports.py

## bench-serve: feeds through nginx in front of gunicorn (compose's shape) and through gunicorn
## alone, against bare nginx serving the same file, with wrk (needs PostgreSQL; installs nginx, wrk)
bench-serve: install messages
	bash bin/ensure-services
	bash bin/ensure-nginx
	SECRET_KEY=bench-only-not-secret SECURE_SSL_REDIRECT=0 $(PROD_LIKE_ENV) \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python bench/serve.py

## messages: compile the catalogues (timeline/locale/*/LC_MESSAGES/django.po) into the .mo files
## Django reads. The .mo files are build output, not in git; compilemessages remakes a stale one only.
## Run from timeline/ so it finds our catalogues alone, not those of the packages in .venv.
messages: install
	bash bin/ensure-gettext
	cd timeline && $(abspath $(BIN))/django-admin compilemessages --verbosity 0

## catalogues: add the code's new strings to the .po files (then translate them: the suite fails
## on any untranslated or fuzzy entry, and on any string of the code the .po files lack)
catalogues: install
	bash bin/ensure-gettext
	cd timeline && $(abspath $(BIN))/django-admin makemessages $(MAKEMESSAGES_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .run staticfiles
