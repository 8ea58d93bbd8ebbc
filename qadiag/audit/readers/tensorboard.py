"""TensorBoard ``events.out.tfevents.*`` files -> log rows, streamed, every checksum checked.

TFRecord framing: ``uint64 LE length``, ``uint32 masked CRC-32C of those 8 bytes``, the payload,
``uint32 masked CRC-32C of the payload``; the payload is a ``tensorboard.compat.proto.Event``. The
stock loaders stop silently at the first bad record; this reader reports it and goes on: a payload
whose checksum fails is skipped (its length was intact), a length whose checksum fails makes the
reader scan forward for the next header whose checksum holds. The scan checks every candidate
position of a megabyte at once (numpy), so a region of garbage costs time linear in its size at memory
speed (16 MB in a fraction of a second), and checksums are computed in C (``google-crc32c``).

The TensorBoard callback writes each key of a ``Trainer.log`` dict as its own scalar event, named by
``rewrite_logs`` (``eval_loss -> eval/loss``), with the global step; rows are rebuilt from runs of
events with one step (see :class:`~qadiag.audit.records.RowSplitter`). The training arguments come
as the ``args`` text summary.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import google_crc32c

from qadiag.audit.files import open_regular
from qadiag.audit.readers.base import (
    READ_CHUNK,
    Layout,
    Problems,
    Reader,
    ReadLog,
    Record,
    TooDeep,
    decode_json,
)
from qadiag.audit.records import SETTING_NAMES, RowSplitter, Setting, Source, trainer_key

HEADER = 12  # length + its CRC
FOOTER = 4
MAX_EVENT = 64 << 20
ARGS_TAGS = frozenset({"args", "args/text_summary"})
_FLOAT_TYPES = {1: "<f", 2: "<d", 19: "<e"}  # DT_FLOAT, DT_DOUBLE, DT_HALF
_INT_TYPES = {3: "int_val", 9: "int64_val"}  # DT_INT32, DT_INT64
_MASK_DELTA = 0xA282EAD8
_length_header = struct.Struct("<QI")
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


def _first_valid_header(data: bytes) -> int | None:
    """Offset in ``data`` of the first 12 bytes that are a record header whose checksum holds.

    Lengths are below 2**32 and above 0, so a header's bytes 4..7 are zero and one of bytes 0..3 is
    not: only such places are checksummed, all of them in one pass.
    """
    import numpy as np

    base, tables = _length_crc_tables()
    array = np.frombuffer(data, dtype=np.uint8)
    positions = len(array) - HEADER + 1
    if positions <= 0:
        return None
    byte = [array[i : i + positions] for i in range(8)]
    high_zero = (byte[4] | byte[5] | byte[6] | byte[7]) == 0
    candidates = np.flatnonzero(high_zero & ((byte[0] | byte[1] | byte[2] | byte[3]) != 0))
    if not candidates.size:
        return None
    low = [array[candidates + i].astype(np.uint32) for i in range(4)]
    stored = [array[candidates + 8 + i].astype(np.uint32) for i in range(4)]
    length = low[0] | low[1] << 8 | low[2] << 16 | low[3] << 24
    crc = np.uint32(base) ^ tables[0][low[0]] ^ tables[1][low[1]] ^ tables[2][low[2]] ^ tables[3][low[3]]
    masked = ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)
    expected = stored[0] | stored[1] << 8 | stored[2] << 16 | stored[3] << 24
    valid = np.flatnonzero((masked == expected) & (length <= MAX_EVENT))
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


def payloads(handle: BinaryIO, size: int, problems: Problems) -> Iterator[tuple[int, bytes]]:
    """``(offset, event bytes)`` for each record whose checksums hold; problems go to ``problems``."""
    pos = 0
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
                f"resumed at the next intact record, byte {found}"
                if found is not None
                else "no intact record follows"
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


def scalar(value: Any) -> float | None:
    """The number a summary value holds: ``simple_value`` or a scalar tensor; None for anything else."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return value.simple_value
    if kind != "tensor" or value.metadata.plugin_data.plugin_name not in ("", "scalars"):
        return None
    tensor = value.tensor
    if any(dim.size != 1 for dim in tensor.tensor_shape.dim):
        return None
    if tensor.dtype in _FLOAT_TYPES:
        if tensor.tensor_content:
            fmt = _FLOAT_TYPES[tensor.dtype]
            return (
                struct.unpack_from(fmt, tensor.tensor_content)[0]
                if len(tensor.tensor_content) >= struct.calcsize(fmt)
                else None
            )
        values = tensor.double_val if tensor.dtype == 2 else (tensor.float_val or tensor.half_val)
        return float(values[0]) if values else None
    if tensor.dtype in _INT_TYPES:
        values = getattr(tensor, _INT_TYPES[tensor.dtype])
        return float(values[0]) if values else None
    return None


def args_settings(source: Source, file: str, value: Any, offset: int, problems: Problems) -> Iterator[Setting]:
    """Settings from the ``args`` text the TensorBoard callback writes (``TrainingArguments`` as JSON)."""
    strings = value.tensor.string_val
    if not strings:
        return
    try:
        args = decode_json(strings[0].decode("utf-8", "replace"))
    except TooDeep:
        problems.too_deep("the 'args' text summary", offset, "its settings were not read")
        return
    except ValueError as error:
        problems.malformed_json(f"the 'args' text summary is not JSON ({error})", offset)
        return
    if isinstance(args, dict):
        for name in sorted(SETTING_NAMES & args.keys()):
            yield Setting(source, file, name, args[name])


def events(path: Path, problems: Problems) -> Iterator[tuple[int, Any]]:
    """``(offset, Event)`` for each intact event of one file; problems go to ``problems``."""
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2
    except ImportError as error:
        problems.unsupported(
            f"cannot decode TensorBoard events: {error}", "install tensorboard to audit its event files"
        )
        return
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                problems.empty("the writer was opened but nothing was logged")
            for offset, data in payloads(handle, size, problems):
                try:
                    yield offset, event_pb2.Event.FromString(data)
                except DecodeError:
                    problems.unsupported(
                        f"record at byte {offset} passed its checksum but does not decode as a TensorBoard "
                        "Event (written by another TFRecord writer, or nested deeper than protobuf's limit); "
                        "skipped",
                        "audit only TensorBoard event files; a crafted or damaged record cannot be read",
                        offset=offset,
                    )
    except OSError as error:
        problems.unreadable(error)


def _events_order(path: Path) -> tuple[int, str]:
    """``events.out.tfevents.<unix time>.<host>...``: by creation time, then name."""
    parts = path.name.split(".")
    stamp = parts[3] if len(parts) > 3 and parts[3].isascii() and parts[3].isdigit() else "0"
    return int(stamp), path.name


def _events_home(directory: Path, output_dirs: Iterable[Path]) -> Path:
    """The output dir above a TensorBoard directory (``<output_dir>/runs/<stamp>``), if any."""
    candidates = set(output_dirs)
    for parent in directory.parents:
        if parent in candidates:
            return parent
    if directory.parent.name == "runs":
        return directory.parent.parent
    return directory


class TensorBoardReader(Reader):
    """The ``events.out.tfevents.*`` files of one log directory, read as one stream in creation order."""

    kind = "tensorboard"
    looked_for = "TensorBoard events.out.tfevents.* files"
    file_names = re.compile(r"events\.out\.tfevents\..*", re.DOTALL)

    def sources(self, groups: Mapping[Hashable, Sequence[Path]], layout: Layout, log: ReadLog) -> Iterator[Source]:
        for directory, files in sorted(groups.items(), key=lambda item: str(item[0])):
            home = _events_home(Path(str(directory)), layout.output_dirs)
            yield Source(self.kind, str(directory), tuple(sorted(files, key=_events_order)), home)

    def read(self, source: Source, log: ReadLog) -> Iterator[Record]:
        splitter = RowSplitter(source, "", last_keys=frozenset({"epoch"}))
        for path in source.files:
            yield from _flushed(splitter)
            splitter.file = file = str(path)
            with log.reading(path) as problems:
                for offset, event in events(path, problems):
                    for value in event.summary.value:
                        if value.tag in ARGS_TAGS:
                            yield from args_settings(source, file, value, offset, problems)
                            continue
                        name = trainer_key(value.tag)
                        number = scalar(value) if name is not None else None
                        if number is None:
                            continue
                        row = splitter.add(
                            event.step, name, number, stored_as=value.tag, offset=offset, wall_time=event.wall_time
                        )
                        if row is not None:
                            yield row
        yield from _flushed(splitter)


def _flushed(splitter: RowSplitter) -> Iterator[Record]:
    row = splitter.flush()
    if row is not None:
        yield row


READER = TensorBoardReader()
