"""Where published feeds are kept: the database by default, or a bucket (FEED_STORAGE=s3)."""

import subprocess
import sys

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from moto.server import ThreadedMotoServer

from timeline.feeds import publishing

from .factories import EventFactory
from .processes import ROOT, free_port

pytestmark = pytest.mark.django_db


def settings_in_child(**environment: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh process with *environment* on top of the suite's."""
    import os

    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_database_is_the_default_storage():
    assert storages["feeds"].__class__.__name__ == "DatabaseStorage"


def test_an_unknown_storage_is_refused_at_startup():
    started = settings_in_child(FEED_STORAGE="nfs")
    assert started.returncode != 0
    assert "FEED_STORAGE is 'nfs'" in started.stderr


def test_s3_without_a_bucket_is_refused_at_startup():
    started = settings_in_child(FEED_STORAGE="s3", FEED_S3_BUCKET="")
    assert started.returncode != 0
    assert "FEED_S3_BUCKET" in started.stderr


@pytest.fixture
def bucket(settings, monkeypatch):
    """An S3 endpoint on localhost (moto's server: no real S3 is reachable here), as FEEDS."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="timeline-feeds")
    storages_setting = dict(settings.STORAGES)
    storages_setting["feeds"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "timeline-feeds",
            "endpoint_url": endpoint,
            "location": "timeline",
            "default_acl": "private",
            "file_overwrite": True,
        },
    }
    settings.STORAGES = storages_setting
    yield endpoint
    server.stop()


def test_feeds_published_to_a_bucket_are_read_back(bucket, client):
    EventFactory(title="Talks in Astana")
    feed = publishing.publish("en/all")
    keys = {
        item["Key"]
        for item in boto3.client("s3", endpoint_url=bucket).list_objects_v2(
            Bucket="timeline-feeds"
        )["Contents"]
    }
    assert f"timeline/{feed.body_name}" in keys and f"timeline/{feed.gzip_name}" in keys
    response = client.get("/feeds/en/all.ics")
    assert response.status_code == 200
    assert b"Talks in Astana" in response.content
    assert response["ETag"] == feed.etag


def test_bytes_go_to_and_from_postgresql_unchanged_in_binary():
    from timeline.feeds.db_storage import DatabaseStorage
    from timeline.models import StoredFile

    assert StoredFile._meta.db_table == "timeline_storedfile"  # as db_storage's SQL names it
    storage = DatabaseStorage()
    every_byte = bytes(range(256)) * 10_000  # 2.5 MB: three parts
    name = storage.save("feeds/test/every-byte.bin", ContentFile(every_byte))
    assert StoredFile.objects.filter(name=name).count() == 3
    assert storage.open(name).read() == every_byte
    assert storage.size(name) == len(every_byte)
    empty = storage.save("feeds/test/empty.bin", ContentFile(b""))
    assert storage.open(empty).read() == b"" and storage.size(empty) == 0
    # The same name written by a second publisher between its check and its write (save()
    # renames a name it sees taken; a race passes that check): kept once, nothing raised.
    assert storage._save(name, ContentFile(every_byte)) == name
    assert StoredFile.objects.filter(name=name).count() == 3
    storage.delete(name)
    assert not storage.exists(name)
