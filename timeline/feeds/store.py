"""Keep published feed bytes in Django storage, with a manifest to splice them on the next publish.

A feed is a head (calendar properties and time zones), one VEVENT per event, and a tail. Each
VEVENT is also kept deflated as an independent, byte-aligned block (a full flush resets the
dictionary), so the gzip form of a feed is assembled by joining blocks rather than compressing
megabytes again; the manifest records each event's version and byte lengths, so the next publish
reuses every unchanged VEVENT straight from the previous bytes.
"""

import hashlib
import io
import json
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate
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
    render_key: str, head: bytes, revisions: dict[int, int], pieces: Iterable[Piece]
) -> Assembled:
    """Join a head and the pieces of the events (one each, in the order of *revisions*) into a
    feed.

    Return its bytes, its gzip form, its manifest and its ETag. A piece is fully determined by
    its event, revision and render key, so the ETag is a digest of the head and the manifest:
    the same digest always means the same bytes, without hashing megabytes. The pieces are
    written out as they come, so they need not all be in memory at once, and each of the
    feed's two forms is built in one growing buffer rather than joined from a list (which would
    hold it twice).
    """
    deflated_head = deflate_block(head)
    body, gzipped = io.BytesIO(head), io.BytesIO(GZIP_HEADER + deflated_head)
    body.seek(0, io.SEEK_END)
    gzipped.seek(0, io.SEEK_END)
    lengths, gzip_lengths = array("q"), array("q")
    for _revision, text, deflated in pieces:
        body.write(text)
        gzipped.write(deflated)
        lengths.append(len(text))
        gzip_lengths.append(len(deflated))
    if len(lengths) != len(revisions):
        raise ValueError(f"{len(lengths)} pieces for {len(revisions)} events")
    body.write(END_CALENDAR)
    data = body.getvalue()  # the buffer itself, not a copy
    gzipped.write(DEFLATED_END + FINAL_BLOCK)
    gzipped.write(zlib.crc32(data).to_bytes(4, "little"))
    gzipped.write((len(data) & 0xFFFFFFFF).to_bytes(4, "little"))
    columns = array("q", bytes(8 * len(COLUMNS) * len(lengths)))
    columns[0::4] = array("q", revisions.keys())
    columns[1::4] = array("q", revisions.values())
    columns[2::4] = lengths
    columns[3::4] = gzip_lengths
    header = {"render_key": render_key, "head": len(head), "gzip_head": len(deflated_head)}
    manifest = json.dumps(header).encode() + b"\n" + columns.tobytes()
    digest = hashlib.sha256(head + manifest).hexdigest()[:40]
    return Assembled(data, gzipped.getvalue(), manifest, f'"{digest}"')


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
        gzip_head = len(GZIP_HEADER) + header["gzip_head"]
        # Where each piece starts, and the last one ends.
        self._offsets = array("q", accumulate(columns[2::4], initial=header["head"]))
        self._gzip_offsets = array("q", accumulate(columns[3::4], initial=gzip_head))

    @property
    def event_ids(self) -> set[int]:
        return set(self._columns[:: len(COLUMNS)])

    def current_pieces(self, revisions: dict[int, int]) -> "StoredPieces":
        """Return the stored pieces of the events still at the given revisions."""
        ids, stored = self._columns[0::4], self._columns[1::4]
        rows = {
            event_id: row
            for row, (event_id, revision) in enumerate(zip(ids, stored, strict=True))
            if revisions.get(event_id) == revision
        }
        return StoredPieces(self, rows)

    def close(self) -> None:
        """Let go of the stored bytes (the pieces are assembled); the event ids stay known."""
        self._body = self._gzip = memoryview(b"")

    def piece(self, row: int) -> Piece:
        """Return the piece in the given row of the manifest."""
        offsets, gzip_offsets = self._offsets, self._gzip_offsets
        return (
            self._columns[row * len(COLUMNS) + 1],
            self._body[offsets[row] : offsets[row + 1]],
            self._gzip[gzip_offsets[row] : gzip_offsets[row + 1]],
        )


class StoredPieces(Mapping[int, Piece]):
    """The current pieces of a previous version by event id, each sliced out when it is read.

    Rather than all at once: two slices per event are about 20 MB at 50,000 events.
    """

    def __init__(self, previous: Previous, rows: dict[int, int]) -> None:
        self._previous = previous
        self._rows = rows

    def __getitem__(self, event_id: int) -> Piece:
        return self._previous.piece(self._rows[event_id])

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._rows

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


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
