"""A Django storage that keeps files in the database, so every web host reads what a worker wrote.

The default home of published feeds (settings.FEED_STORAGE): the database is the one thing every
host already shares, a feed's bytes commit in the same transaction as its Feed row (no host ever
sees validators whose bytes are not there yet), and a pg_dump backs them up with the record.
"""

from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from ..models import StoredFile


@deconstructible
class DatabaseStorage(Storage):
    """Store each file as one row (StoredFile): name, bytes, size."""

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if "w" in mode or "a" in mode:
            raise ValueError("files in the database are written with save(), not opened to write")
        content = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
        if content is None:
            raise FileNotFoundError(name)
        return ContentFile(bytes(content), name=name)

    def _save(self, name: str, content: IO[Any]) -> str:
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        # Names are digests of their content: a row of this name, written meanwhile by another
        # publisher, holds these very bytes.
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
