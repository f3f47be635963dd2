"""A Django storage that keeps files in the database, so every web host reads what a worker wrote.

The default home of published feeds (settings.FEED_STORAGE): the database is the one thing every
host already shares, a feed's bytes commit in the same transaction as its Feed row (no host ever
sees validators whose bytes are not there yet), and a pg_dump backs them up with the record.

A file is kept as parts of at most PART_BYTES, one row each, written and read one at a time, and
on PostgreSQL in binary: Django's psycopg cursors bind values on the client, which sends a bytea
as hex text, and a 46 MB feed in one value cost several times its size in the worker's memory
(client-side text, and libpq's buffers grown to the whole value).
"""

import io
from typing import IO, Any

import psycopg
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from ..models import StoredFile

PART_BYTES = 1024 * 1024


@deconstructible
class DatabaseStorage(Storage):
    """Store each file as rows of StoredFile: name, part number, bytes."""

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if "w" in mode or "a" in mode:
            raise ValueError("files in the database are written with save(), not opened to write")
        content = io.BytesIO()
        part = 0
        while (chunk := _read_part(name, part)) is not None:
            content.write(chunk)
            part += 1
        if part == 0:
            raise FileNotFoundError(name)
        # getvalue() hands over the buffer without a copy once nothing else refers to it.
        return ContentFile(content.getvalue(), name=name)

    def _save(self, name: str, content: IO[Any]) -> str:
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        now = timezone.now()
        for part, start in enumerate(range(0, max(len(view), 1), PART_BYTES)):
            _write_part(name, part, view[start : start + PART_BYTES], now)
        return name

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def size(self, name: str) -> int:
        size = StoredFile.objects.filter(name=name).aggregate(total=Sum("size"))["total"]
        if size is None:
            raise FileNotFoundError(name)
        return int(size)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("files in the database have no address of their own")

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.rstrip("/") + "/" if path else ""
        names = (
            StoredFile.objects.filter(name__startswith=prefix, part=0)
            .values_list("name", flat=True)
            .distinct()
        )
        folders, files = set(), []
        for name in names:
            first, slash, _rest = name[len(prefix) :].partition("/")
            if slash:
                folders.add(first)
            else:
                files.append(first)
        return sorted(folders), sorted(files)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _raw_cursor() -> Any:
    """Return a plain psycopg cursor (server-side binding) on Django's connection."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _write_part(name: str, part: int, data: memoryview, now: Any) -> None:
    # Names are digests of their content: a part of this name, written meanwhile by another
    # publisher, holds these very bytes.
    if not _postgresql():
        StoredFile.objects.bulk_create(
            [StoredFile(name=name, part=part, content=bytes(data), size=len(data))],
            ignore_conflicts=True,
        )
        return
    with _raw_cursor() as cursor:
        cursor.execute(
            "INSERT INTO timeline_storedfile (name, part, content, size, created_at) "
            "VALUES (%s, %s, %b, %s, %s) ON CONFLICT (name, part) DO NOTHING",
            [name, part, data, len(data), now],
        )


def _read_part(name: str, part: int) -> bytes | None:
    if not _postgresql():
        rows = StoredFile.objects.filter(name=name, part=part).values_list("content", flat=True)
        content = rows.first()
        return None if content is None else bytes(content)
    with _raw_cursor() as cursor:
        cursor.execute(
            "SELECT content FROM timeline_storedfile WHERE name = %s AND part = %s",
            [name, part],
            binary=True,
        )
        row = cursor.fetchone()
    return None if row is None else bytes(row[0])
