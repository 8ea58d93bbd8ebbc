"""TFRecord framing (TensorBoard event files), every checksum checked, damage reported, in bulk where it is clean.

A record is ``uint64 LE length``, ``uint32 masked CRC-32C of those 8 bytes``, the payload, ``uint32 masked
CRC-32C of the payload``. The stock loaders stop silently at the first bad record; :func:`records` reports
it and goes on: a payload whose checksum fails is skipped (its length was intact), a length whose checksum
fails makes the reader scan forward for the next header whose checksum holds. The scan checks every
candidate position of a megabyte at once (numpy), so a region of garbage costs time linear in its size at
memory speed (16 MB in a fraction of a second).

Intact stretches of a file are handed out in batches (:class:`Batch`): the record chain of a megabyte is
walked, then the length checksums are checked all at once (CRC-32C is linear, so numpy evaluates it from
tables) and the payload checksums in C (``google-crc32c``); from the first record that is not intact, the
file is read one record at a time, with the reports above.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import google_crc32c

from qadiag.audit.readers.base import READ_CHUNK, Problems

HEADER = 12  # length + its CRC
FOOTER = 4
MAX_EVENT = 64 << 20
BATCH_BYTES = 1 << 20
_MASK_DELTA = 0xA282EAD8
_length_header = struct.Struct("<QI")
_length = struct.Struct("<Q")
_crc = struct.Struct("<I")


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C (Castagnoli), rotated and offset."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@functools.cache
def _length_crc_tables() -> tuple[int, Any]:
    """CRC-32C is linear over GF(2): the CRC of an 8-byte length whose upper 4 bytes are zero is
    ``base ^ T[0][b0] ^ T[1][b1] ^ T[2][b2] ^ T[3][b3]``, which numpy evaluates at every position at once."""
    import numpy as np

    base = google_crc32c.value(bytes(8))
    tables = np.array(
        [[google_crc32c.value(bytes(i) + bytes([b]) + bytes(7 - i)) ^ base for b in range(256)] for i in range(4)],
        dtype=np.uint32,
    )
    return base, tables


def _length_checksums_hold(array: Any, starts: Any) -> Any:
    """For records at ``starts`` of a uint8 ``array``: whether each length's masked CRC-32C is the one stored
    after it (lengths of 4 GiB or more never are: no record is that long)."""
    import numpy as np

    base, tables = _length_crc_tables()
    low = [array[starts + i].astype(np.uint32) for i in range(4)]
    high_zero = (array[starts + 4] | array[starts + 5] | array[starts + 6] | array[starts + 7]) == 0
    stored = [array[starts + 8 + i].astype(np.uint32) for i in range(4)]
    crc = np.uint32(base) ^ tables[0][low[0]] ^ tables[1][low[1]] ^ tables[2][low[2]] ^ tables[3][low[3]]
    masked = ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)
    expected = stored[0] | stored[1] << 8 | stored[2] << 16 | stored[3] << 24
    return high_zero & (masked == expected)


def _first_valid_header(data: bytes) -> int | None:
    """Offset in ``data`` of the first 12 bytes that are a record header whose checksum holds.

    Lengths are below 2**32 and above 0, so a header's bytes 4..7 are zero and one of bytes 0..3 is
    not: only such places are checksummed, all of them in one pass.
    """
    import numpy as np

    array = np.frombuffer(data, dtype=np.uint8)
    positions = len(array) - HEADER + 1
    if positions <= 0:
        return None
    byte = [array[i : i + positions] for i in range(8)]
    high_zero = (byte[4] | byte[5] | byte[6] | byte[7]) == 0
    candidates = np.flatnonzero(high_zero & ((byte[0] | byte[1] | byte[2] | byte[3]) != 0))
    if not candidates.size:
        return None
    lengths = array[candidates] | array[candidates + 1].astype(np.uint32) << 8
    lengths |= array[candidates + 2].astype(np.uint32) << 16 | array[candidates + 3].astype(np.uint32) << 24
    valid = np.flatnonzero(_length_checksums_hold(array, candidates) & (lengths <= MAX_EVENT))
    return int(candidates[valid[0]]) if valid.size else None


def resync(handle: BinaryIO, start: int) -> int | None:
    """Offset of the next record header at or after ``start`` whose checksum holds."""
    window = start
    while True:
        handle.seek(window)
        data = handle.read(READ_CHUNK + HEADER - 1)
        if len(data) < HEADER:
            return None
        found = _first_valid_header(data)
        if found is not None:
            return window + found
        window += READ_CHUNK


@dataclass
class Batch:
    """Intact records, in file order: record ``i`` starts at byte ``base + starts[i]`` of the file, its
    payload is ``data[starts[i] + 12 : starts[i] + 12 + lengths[i]]``."""

    data: bytes
    base: int
    starts: Any  # numpy int64
    lengths: Any  # numpy int64


def _intact(data: bytes) -> tuple[Batch, int, bool]:
    """The intact records at the start of ``data``; where the first one not among them starts; and whether
    that one is whole-looking (its length is intact, it only goes on past the end of ``data``) rather than
    damaged or too long."""
    import numpy as np

    unpack, crc32c, size = _length.unpack_from, google_crc32c.value, len(data)
    starts: list[int] = []
    lengths: list[int] = []
    checksums: list[int] = []  # of the payloads, computed as the chain is walked (one pass in Python)
    pos = 0
    while pos + HEADER <= size:
        length = unpack(data, pos)[0]
        end = pos + HEADER + length + FOOTER
        if end > size or length > MAX_EVENT:
            break
        starts.append(pos)
        lengths.append(length)
        checksums.append(crc32c(data[pos + HEADER : end - FOOTER]))
        pos = end
    continues = pos + HEADER > size or (
        unpack(data, pos)[0] <= MAX_EVENT and masked_crc32c(data[pos : pos + 8]) == _crc.unpack_from(data, pos + 8)[0]
    )
    found = np.array(starts, dtype=np.int64)
    sizes = np.array(lengths, dtype=np.int64)
    array = np.frombuffer(data, dtype=np.uint8)
    if found.size:
        good = _length_checksums_hold(array, found) & _payload_checksums_hold(array, found, sizes, checksums)
        if not good.all():
            keep = int(np.argmin(good))
            found, sizes, pos, continues = found[:keep], sizes[:keep], int(found[keep]), False
    return Batch(data, 0, found, sizes), pos, continues


def _payload_checksums_hold(array: Any, starts: Any, lengths: Any, checksums: list[int]) -> Any:
    """For records at ``starts``: whether the masked ``checksums`` of their payloads are the ones stored
    after them."""
    import numpy as np

    computed = np.array(checksums, dtype=np.uint32)
    computed = ((computed >> 15) | (computed << 17)) + np.uint32(_MASK_DELTA)
    ends = starts + HEADER + lengths
    stored = array[ends].astype(np.uint32) | array[ends + 1].astype(np.uint32) << 8
    stored |= array[ends + 2].astype(np.uint32) << 16 | array[ends + 3].astype(np.uint32) << 24
    return computed == stored


def records(handle: BinaryIO, size: int, problems: Problems, start: int = 0) -> Iterator[Batch | tuple[int, bytes]]:
    """The records of an open event file from byte ``start`` (a record header) on: intact stretches as
    :class:`Batch` objects, then, from the first record that is not intact, ``(offset, payload)`` for each
    record whose checksums hold; problems go to ``problems``."""
    pos, want = start, BATCH_BYTES
    while pos < size:
        handle.seek(pos)
        data = handle.read(want)
        batch, stopped, continues = _intact(data)
        if len(batch.starts):
            batch.base = pos
            yield batch
        pos += stopped
        if not continues or (len(data) < want and stopped < len(data)):
            break  # damaged, or cut short at the end of the file: record by record, with the reports
        # the next record goes on past this read: read from it, at least all of it
        want = BATCH_BYTES if stopped else max(BATCH_BYTES, HEADER + _length.unpack_from(data, 0)[0] + FOOTER)
    yield from one_by_one(handle, pos, size, problems)


def one_by_one(handle: BinaryIO, pos: int, size: int, problems: Problems) -> Iterator[tuple[int, bytes]]:
    """``(offset, payload)`` for each record from ``pos`` on whose checksums hold; problems go to
    ``problems``."""
    while pos < size:
        handle.seek(pos)
        header = handle.read(HEADER)
        if len(header) < HEADER:
            problems.truncated("a record header", pos)
            return
        length, length_crc = _length_header.unpack(header)
        if masked_crc32c(header[:8]) != length_crc:
            found = resync(handle, pos + 1)
            where = (
                f"resumed at the next intact record, byte {found}" if found is not None else "no intact record follows"
            )
            problems.corrupt("record length checksum mismatch", pos, where)
            if found is None:
                return
            pos = found
            continue
        if length > MAX_EVENT:
            problems.impossible_length("an event record", length, MAX_EVENT, pos, "the rest was not read")
            return
        end = pos + HEADER + length + FOOTER
        if end > size:
            problems.truncated("an event record", pos)
            return
        data = handle.read(length)
        (data_crc,) = _crc.unpack(handle.read(FOOTER))
        if masked_crc32c(data) != data_crc:
            problems.corrupt("event checksum mismatch", pos, "skipped this event, read on")
        else:
            yield pos, data
        pos = end
