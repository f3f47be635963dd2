"""Backups: bin/backup-db dumps the database, bin/restore-db brings it back, every row found.

A seeded database (the seed fixture, subscribers, their follows, an outbox, published feeds) is
copied into a scratch database that plays production; production is dumped, dropped, made again
empty and restored, and every event, subscription and outbox row is compared with the original.
"""

import datetime as dt
import os
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from psycopg import sql

from timeline.feeds import publishing as feeds
from timeline.models import Event, Notification, Topic

from .factories import NotificationFactory, SubscriberFactory
from .processes import ROOT

BACKUP, RESTORE = ROOT / "bin" / "backup-db", ROOT / "bin" / "restore-db"

# The rows a restore must bring back, each with the columns that say it is the same row.
ROWS = {
    "events": "SELECT id, uid, slug, start_utc, end_utc, revision, title_en, title_ru, title_kk"
    " FROM timeline_event",
    "sources": "SELECT id, event_id, url FROM timeline_source",
    "subscribers": "SELECT id, email, confirmed_at FROM timeline_subscriber",
    "subscriptions": "SELECT id, subscriber_id, topic_id, country, actor_id, track_id, event_id"
    " FROM timeline_subscription",
    "outbox": "SELECT id, subscriber_id, event_id, kind, key, state, due_at, sent_at,"
    " payload::text FROM timeline_notification",
    "feeds": "SELECT key, etag, size, last_modified FROM timeline_feed",
    # Published feeds are stored in the database (FEED_STORAGE's default): body, gzip, manifest.
    "feed files": "SELECT f.key, s.name, s.part, s.size, md5(s.content) FROM timeline_feed f"
    " JOIN timeline_storedfile s ON s.name IN (f.body_name, f.gzip_name, f.manifest_name)",
}
EVERY_TABLE = (
    "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
)


def database_url(name: str) -> str:
    """Return the URL of database *name* on the test database's server, as the role it uses."""
    settings = connection.settings_dict
    login = quote(settings["USER"], safe="")
    if settings["PASSWORD"]:
        login += ":" + quote(settings["PASSWORD"], safe="")
    host = settings["HOST"] or "127.0.0.1"
    return f"postgres://{login}@{host}:{settings['PORT'] or 5432}/{name}"


def scratch_name() -> str:
    """Return a scratch database's name: the configured one's, plus `_prod`."""
    return urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") + "_prod"


def create_database(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as server:
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as server:
        server.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def run(script: Path, *args: str, url: str | None) -> subprocess.CompletedProcess:
    """Run a backup script with DATABASE_URL=*url* (unset if None)."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url is not None:
        environment["DATABASE_URL"] = url
    return subprocess.run(
        [str(script), *args], env=environment, capture_output=True, text=True, timeout=300
    )


def contents(url: str) -> dict:
    """Return the rows of ROWS, sorted, and the row count of every table, of database *url*."""
    with psycopg.connect(url) as db:
        found = {name: sorted(db.execute(query).fetchall()) for name, query in ROWS.items()}
        tables = [table for (table,) in db.execute(EVERY_TABLE).fetchall()]
        found["counts"] = {
            table: db.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }
    return found


def seed() -> None:
    """Load the seed, give it subscribers with follows and outbox rows, and publish feeds."""
    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    topic = Topic.objects.order_by("pk").first()
    events = list(Event.objects.order_by("start_utc", "pk")[:4])
    now = timezone.now().replace(microsecond=0)
    states = [
        {"state": Notification.State.PENDING},
        {"state": Notification.State.SENT, "sent_at": now},
        {"state": Notification.State.FAILED, "attempts": 8, "last_error": "550 no such user"},
        {"state": Notification.State.SKIPPED},
    ]
    for n, (event, state) in enumerate(zip(events, states, strict=True)):
        subscriber = SubscriberFactory(follows=[topic, event, "KZ"])
        NotificationFactory(
            subscriber=subscriber, event=event, due_at=now + dt.timedelta(hours=n), **state
        )
    NotificationFactory(
        subscriber=subscriber,
        event=None,
        kind=Notification.Kind.DIGEST,
        key="daily:2026-01-31",
        payload={},
    )
    for key in feeds.in_every_language(["all"]):
        feeds.publish(key)


@pytest.mark.slow
def test_a_dropped_database_is_restored_with_every_row(transactional_db, tmp_path):
    seed()
    original = contents(database_url(connection.settings_dict["NAME"]))
    assert len(original["events"]) >= 8
    assert len(original["subscriptions"]) == 12
    assert len(original["outbox"]) == 5
    assert len(original["feeds"]) == 3
    assert len(original["feed files"]) == 9

    production = scratch_name()
    production_url = database_url(production)
    drop_database(production)  # left by an interrupted run
    try:
        # "Production": a copy of the seeded test database.
        test_dump = tmp_path / "test.dump"
        copied = run(BACKUP, str(test_dump), url=database_url(connection.settings_dict["NAME"]))
        assert copied.returncode == 0, copied.stderr
        create_database(production)
        made = run(RESTORE, str(test_dump), url=production_url)
        assert made.returncode == 0, made.stderr

        # The nightly backup, then the disaster, then the restore.
        nightly = tmp_path / "nightly" / "timeline.dump"
        nightly.parent.mkdir()
        backed_up = run(BACKUP, str(nightly), url=production_url)
        assert backed_up.returncode == 0, backed_up.stderr
        assert f"Backed up to {nightly}" in backed_up.stdout
        assert list(nightly.parent.iterdir()) == [nightly]  # no partial file left beside it
        assert nightly.stat().st_mode & 0o077 == 0  # subscribers' addresses, TOTP secrets
        drop_database(production)
        create_database(production)
        restored = run(RESTORE, str(nightly), url=production_url)
        assert restored.returncode == 0, restored.stderr
        assert contents(production_url) == original

        # Ids go on after the restored ones: the sequences came back too.
        with psycopg.connect(production_url) as db:
            (next_id,) = db.execute(
                "SELECT nextval(pg_get_serial_sequence('timeline_notification', 'id'))"
            ).fetchone()
        assert next_id > max(row[0] for row in original["outbox"])

        # Over a database that holds data, only with --clean, which replaces what the dump holds.
        with psycopg.connect(production_url) as db:
            db.execute("DELETE FROM timeline_notification")
            db.execute("UPDATE timeline_event SET title_en = 'Overwritten'")
        refused = run(RESTORE, str(nightly), url=production_url)
        assert refused.returncode == 2
        assert "the database is not empty" in refused.stderr and "--clean" in refused.stderr
        cleaned = run(RESTORE, "--clean", str(nightly), url=production_url)
        assert cleaned.returncode == 0, cleaned.stderr
        assert contents(production_url) == original
    finally:
        drop_database(production)


def test_backup_refuses_to_overwrite_a_file(tmp_path):
    existing = tmp_path / "yesterday.dump"
    existing.write_bytes(b"yesterday's backup")
    result = run(BACKUP, str(existing), url="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    assert "exists: refusing to overwrite" in result.stderr
    assert existing.read_bytes() == b"yesterday's backup"


@pytest.mark.parametrize("script", [BACKUP, RESTORE], ids=["backup-db", "restore-db"])
def test_a_missing_argument_gets_the_usage(script):
    for args in [(), ("",), ("a.dump", "b.dump")]:
        result = run(script, *args, url="postgres://nobody@127.0.0.1:1/none")
        assert result.returncode == 2, args
        assert result.stderr.startswith(f"{script.name}: usage: bin/{script.name} "), args


@pytest.mark.parametrize("script", [BACKUP, RESTORE], ids=["backup-db", "restore-db"])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "DATABASE_URL is not set"),
        ("sqlite:///db.sqlite3", "DATABASE_URL is not a PostgreSQL database (sqlite://…)"),
    ],
)
def test_a_database_other_than_postgresql_is_named(script, url, message, tmp_path):
    dump = tmp_path / "timeline.dump"
    if script == RESTORE:
        dump.write_bytes(b"")
    result = run(script, str(dump), url=url)
    assert result.returncode == 2
    assert message in result.stderr
    assert not list(tmp_path.glob("*.partial.*"))


def test_restore_refuses_what_is_not_a_dump(tmp_path):
    missing = run(RESTORE, str(tmp_path / "none.dump"), url="postgres://nobody@127.0.0.1:1/none")
    assert missing.returncode == 2
    assert "none.dump: no such file" in missing.stderr
    text = tmp_path / "notes.txt"
    text.write_text("not a dump\n")
    result = run(RESTORE, str(text), url="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    assert "is not a dump made by bin/backup-db" in result.stderr


def test_a_failed_dump_leaves_no_file(tmp_path):
    dump = tmp_path / "timeline.dump"
    result = run(BACKUP, str(dump), url="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "pg_dump: error" in result.stderr
    assert list(tmp_path.iterdir()) == []
