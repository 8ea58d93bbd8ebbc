"""TensorBoard ``events.out.tfevents.*`` files -> log rows, streamed, every checksum checked.

TFRecord framing: ``uint64 LE length``, ``uint32 masked CRC-32C of those 8 bytes``, the payload,
``uint32 masked CRC-32C of the payload``; the payload is a ``tensorboard.compat.proto.Event``. The
stock loaders stop silently at the first bad record; this reader reports it and goes on: a payload
whose checksum fails is skipped (its length was intact), a length whose checksum fails makes the
reader scan forward for the next header whose checksum holds.

The TensorBoard callback writes each key of a ``Trainer.log`` dict as its own scalar event, named by
``rewrite_logs`` (``eval_loss -> eval/loss``), with the global step; rows are rebuilt from runs of
events with one step (see :class:`~qadiag.audit.records.RowSplitter`). The training arguments come
as the ``args`` text summary.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from qadiag.audit.readers.base import READ_CHUNK, Problems
from qadiag.audit.records import SETTING_NAMES, Item, RowSplitter, Setting, Source, trainer_key

HEADER = 12  # length + its CRC
FOOTER = 4
MAX_EVENT = 64 << 20
ARGS_TAGS = frozenset({"args", "args/text_summary"})
_FLOAT_TYPES = {1: "<f", 2: "<d", 19: "<e"}  # DT_FLOAT, DT_DOUBLE, DT_HALF
_INT_TYPES = {3: "int_val", 9: "int64_val"}  # DT_INT32, DT_INT64
_ZEROS = b"\0\0\0\0"
_NONZERO = re.compile(rb"[^\x00]")
_length_header = struct.Struct("<QI")
_crc = struct.Struct("<I")


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C (Castagnoli), rotated and offset."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _valid_header(data: bytes, at: int) -> bool:
    length, crc = _length_header.unpack_from(data, at)
    return 0 < length <= MAX_EVENT and masked_crc32c(data[at : at + 8]) == crc


def resync(handle: BinaryIO, start: int) -> int | None:
    """Offset of the next record header at or after ``start`` whose checksum holds.

    Lengths are below 2**32 and above 0, so a header's bytes 4..7 are zero and one of bytes 0..3 is
    not: only such places are checksummed, and runs of zeros are jumped over.
    """
    window = start
    while True:
        handle.seek(window)
        data = handle.read(READ_CHUNK + HEADER - 1)
        if len(data) < HEADER:
            return None
        at = data.find(_ZEROS, 4)
        while at != -1 and at + 8 <= len(data):
            if data[at - 4 : at] != _ZEROS:
                if _valid_header(data, at - 4):
                    return window + at - 4
                at = data.find(_ZEROS, at + 1)
                continue
            nonzero = _NONZERO.search(data, at)
            at = data.find(_ZEROS, nonzero.start() + 1) if nonzero else -1
        window += READ_CHUNK


def payloads(handle: BinaryIO, size: int, problems: Problems) -> Iterator[tuple[int, bytes] | Any]:
    """``(offset, event bytes)`` for each record whose checksums hold; findings in between."""
    pos = 0
    while pos < size:
        handle.seek(pos)
        header = handle.read(HEADER)
        if len(header) < HEADER:
            yield from problems.truncated("a record header", pos)
            return
        length, length_crc = _length_header.unpack(header)
        if masked_crc32c(header[:8]) != length_crc:
            found = resync(handle, pos + 1)
            where = (
                f"resumed at the next intact record, byte {found}"
                if found is not None
                else "no intact record follows"
            )
            yield from problems.corrupt("record length checksum mismatch", pos, where)
            if found is None:
                return
            pos = found
            continue
        if length > MAX_EVENT:
            yield from problems.impossible_length(
                "an event record", length, MAX_EVENT, pos, "the rest was not read"
            )
            return
        end = pos + HEADER + length + FOOTER
        if end > size:
            yield from problems.truncated("an event record", pos)
            return
        data = handle.read(length)
        (data_crc,) = _crc.unpack(handle.read(FOOTER))
        if masked_crc32c(data) != data_crc:
            yield from problems.corrupt("event checksum mismatch", pos, "skipped this event, read on")
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


def args_settings(source: Source, file: str, value: Any, offset: int, problems: Problems) -> Iterator[Item]:
    """Settings from the ``args`` text the TensorBoard callback writes (``TrainingArguments`` as JSON)."""
    strings = value.tensor.string_val
    if not strings:
        return
    try:
        args = json.loads(strings[0].decode("utf-8", "replace"))
    except ValueError as error:
        yield from problems.malformed_json(f"the 'args' text summary is not JSON ({error})", offset)
        return
    if isinstance(args, dict):
        for name in SETTING_NAMES & args.keys():
            yield Setting(source, file, name, args[name])


def events(path: Path, problems: Problems) -> Iterator[Any]:
    """``(offset, Event)`` for each intact event of one file; findings."""
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2
    except ImportError as error:
        yield from problems.unsupported(
            f"cannot decode TensorBoard events: {error}", "install tensorboard to audit its event files"
        )
        return
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                yield from problems.empty("the writer was opened but nothing was logged")
            for item in payloads(handle, size, problems):
                if not isinstance(item, tuple):
                    yield item
                    continue
                offset, data = item
                try:
                    yield offset, event_pb2.Event.FromString(data)
                except DecodeError:
                    yield from problems.unsupported(
                        f"record at byte {offset} passed its checksum but is not a TensorBoard Event; "
                        "skipped",
                        "it was written by another TFRecord writer: audit only TensorBoard event files",
                        offset=offset,
                    )
    except OSError as error:
        yield from problems.unreadable(error)


def read(source: Source) -> Iterator[Item]:
    """Rows of every event file of one log directory, in file order."""
    splitter = RowSplitter(source, "", last_keys=frozenset({"epoch"}))
    for path in source.files:
        yield from _flushed(splitter)
        splitter.file = file = str(path)
        problems = Problems(file)
        for item in events(path, problems):
            if not isinstance(item, tuple):
                yield item
                continue
            offset, event = item
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
        yield from problems.summary()
    yield from _flushed(splitter)


def _flushed(splitter: RowSplitter) -> Iterator[Item]:
    row = splitter.flush()
    if row is not None:
        yield row
