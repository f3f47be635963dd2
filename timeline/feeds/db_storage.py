"""A Django storage that keeps files in the database, so every web host reads what a worker wrote.

The default home of published feeds (settings.FEED_STORAGE): the database is the one thing every
host already shares, a feed's bytes commit in the same transaction as its Feed row (no host ever
sees validators whose bytes are not there yet), and a pg_dump backs them up with the record.
"""

from typing import IO, Any

import psycopg
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.db import connection
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from ..models import StoredFile


@deconstructible
class DatabaseStorage(Storage):
    """Store each file as one row (StoredFile): name, bytes, size."""

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if "w" in mode or "a" in mode:
            raise ValueError("files in the database are written with save(), not opened to write")
        content = _read_binary(name) if connection.vendor == "postgresql" else _read_orm(name)
        if content is None:
            raise FileNotFoundError(name)
        return ContentFile(content, name=name)

    def _save(self, name: str, content: IO[Any]) -> str:
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        # Names are digests of their content: a row of this name, written meanwhile by another
        # publisher, holds these very bytes.
        if connection.vendor == "postgresql":
            _insert_binary(name, data)
        else:
            StoredFile.objects.bulk_create(
                [StoredFile(name=name, content=data, size=len(data))], ignore_conflicts=True
            )
        return name

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def size(self, name: str) -> int:
        size = StoredFile.objects.filter(name=name).values_list("size", flat=True).first()
        if size is None:
            raise FileNotFoundError(name)
        return int(size)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("files in the database have no address of their own")

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.rstrip("/") + "/" if path else ""
        names = StoredFile.objects.filter(name__startswith=prefix).values_list("name", flat=True)
        folders, files = set(), []
        for name in names:
            first, slash, _rest = name[len(prefix) :].partition("/")
            if slash:
                folders.add(first)
            else:
                files.append(first)
        return sorted(folders), sorted(files)


# Django's psycopg cursors bind values on the client, which sends a bytea as hex text and reads
# one back the same way: a feed of 50,000 events (46 MB) then cost several times its size in
# memory. On PostgreSQL the bytes go both ways in binary, through a plain psycopg cursor on
# Django's own connection (so in the same transaction as the feed's row).
# The table is StoredFile's (tests/test_feed_storage.py checks the name).


def _raw_cursor() -> Any:
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _insert_binary(name: str, data: bytes) -> None:
    with _raw_cursor() as cursor:
        cursor.execute(
            "INSERT INTO timeline_storedfile (name, content, size, created_at) "
            "VALUES (%s, %b, %s, %s) ON CONFLICT (name) DO NOTHING",
            [name, data, len(data), timezone.now()],
        )


def _read_binary(name: str) -> bytes | None:
    with _raw_cursor() as cursor:
        cursor.execute(
            "SELECT content FROM timeline_storedfile WHERE name = %s",
            [name],
            binary=True,
        )
        row = cursor.fetchone()
    return None if row is None else bytes(row[0])


def _read_orm(name: str) -> bytes | None:
    content = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
    return None if content is None else bytes(content)
