"""Keep published feed bytes in Django storage, with a manifest to splice them on the next publish.

A feed is a head (calendar properties and time zones), one VEVENT per event, and a tail. Each
VEVENT is also kept deflated as an independent, byte-aligned block (a full flush resets the
dictionary), so the gzip form of a feed is assembled by joining blocks rather than compressing
megabytes again; the manifest records each event's version and byte lengths, so the next publish
reuses every unchanged VEVENT straight from the previous bytes.
"""

import hashlib
import json
import zlib
from array import array
from dataclasses import dataclass
from typing import cast

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from .ical import END_CALENDAR

# No file name, no mtime: the same body always gives the same gzip bytes.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
FINAL_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
COLUMNS = ("event_id", "revision", "length", "gzip_length")


def deflate_blocks(items: list[bytes]) -> list[bytes]:
    """Return each item as raw deflate blocks that stand alone and end on a byte boundary.

    A full flush after each item resets the compressor's dictionary, so one compressor can
    serve them all (setting one up costs more than compressing a VEVENT).
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return [compressor.compress(item) + compressor.flush(zlib.Z_FULL_FLUSH) for item in items]


def deflate_block(data: bytes) -> bytes:
    """Return *data* as raw deflate blocks that stand alone and end on a byte boundary."""
    return deflate_blocks([data])[0]


DEFLATED_END = deflate_block(END_CALENDAR)


# One event's VEVENT at a revision: (revision, body, deflated body).
Piece = tuple[int, bytes | memoryview, bytes | memoryview]


@dataclass(frozen=True)
class Assembled:
    body: bytes
    gzip: bytes
    manifest: bytes
    etag: str


def etag_of(body: bytes) -> str:
    """Return a strong ETag for these bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def assemble(
    render_key: str, head: bytes, revisions: dict[int, int], pieces: dict[int, Piece]
) -> Assembled:
    """Join a head and the pieces of the events (in the order of *revisions*) into a feed.

    Return its bytes, its gzip form, its manifest and its ETag. A piece is fully determined by
    its event, revision and render key, so the ETag is a digest of the head and the manifest:
    the same digest always means the same bytes, without hashing megabytes.
    """
    ordered = [pieces[event_id] for event_id in revisions]
    body = b"".join([head, *(piece[1] for piece in ordered), END_CALENDAR])
    deflated_head = deflate_block(head)
    deflated = b"".join(
        [deflated_head, *(piece[2] for piece in ordered), DEFLATED_END, FINAL_BLOCK]
    )
    trailer = zlib.crc32(body).to_bytes(4, "little") + (len(body) & 0xFFFFFFFF).to_bytes(
        4, "little"
    )
    columns = array("q", bytes(8 * len(COLUMNS) * len(ordered)))
    columns[0::4] = array("q", revisions.keys())
    columns[1::4] = array("q", revisions.values())
    columns[2::4] = array("q", [len(piece[1]) for piece in ordered])
    columns[3::4] = array("q", [len(piece[2]) for piece in ordered])
    header = {"render_key": render_key, "head": len(head), "gzip_head": len(deflated_head)}
    manifest = json.dumps(header).encode() + b"\n" + columns.tobytes()
    digest = hashlib.sha256(head + manifest).hexdigest()[:40]
    return Assembled(body, GZIP_HEADER + deflated + trailer, manifest, f'"{digest}"')


class Previous:
    """The pieces of the last published version of a feed, by event id."""

    def __init__(self, manifest: bytes, body: bytes, gzipped: bytes) -> None:
        line, _, packed = manifest.partition(b"\n")
        header = json.loads(line)
        self.render_key: str = header["render_key"]
        columns = array("q")
        columns.frombytes(packed)
        self._columns = columns
        self._body = memoryview(body)
        self._gzip = memoryview(gzipped)
        self._head = header["head"]
        self._gzip_head = len(GZIP_HEADER) + header["gzip_head"]

    @property
    def event_ids(self) -> set[int]:
        return set(self._columns[:: len(COLUMNS)])

    def current_pieces(self, revisions: dict[int, int]) -> dict[int, Piece]:
        """Return the stored pieces of the events still at the given revisions."""
        pieces: dict[int, Piece] = {}
        body, gzipped, columns = self._body, self._gzip, self._columns
        offset, gzip_offset = self._head, self._gzip_head
        for start in range(0, len(columns), len(COLUMNS)):
            event_id, revision, length, gzip_length = columns[start : start + 4]
            if revisions.get(event_id) == revision:
                pieces[event_id] = (
                    revision,
                    body[offset : offset + length],
                    gzipped[gzip_offset : gzip_offset + gzip_length],
                )
            offset += length
            gzip_offset += gzip_length
        return pieces


def load_previous(names: tuple[str, str, str]) -> Previous | None:
    """Return the previous version from storage, or None if any part is missing."""
    body_name, gzip_name, manifest_name = names
    if not all(names):
        return None
    try:
        return Previous(read(manifest_name), read(body_name), read(gzip_name))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def save(key: str, assembled: Assembled) -> tuple[str, str, str]:
    """Store a feed under names derived from its content; return (body, gzip, manifest) names."""
    folder = "feeds/" + key.replace(":", "/")
    digest = assembled.etag.strip('"')
    names = []
    for suffix, data in (
        (".ics", assembled.body),
        (".ics.gz", assembled.gzip),
        (".manifest", assembled.manifest),
    ):
        name = f"{folder}/{digest}{suffix}"
        if not storages["feeds"].exists(name):
            name = storages["feeds"].save(name, ContentFile(data))
        names.append(name)
    return names[0], names[1], names[2]


def read(name: str) -> bytes:
    """Return the bytes stored under *name*."""
    with storages["feeds"].open(name, "rb") as stored:
        return cast(bytes, stored.read())


def delete(names: list[str]) -> None:
    """Remove stored files that no feed points to any more."""
    for name in names:
        if name:
            storages["feeds"].delete(name)
