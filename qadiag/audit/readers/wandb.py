"""W&B ``run-<id>.wandb`` transaction logs (and ``files/wandb-summary.json``) -> log rows, streamed.

The framing, checked against wandb 0.31 (wandb-core writes it; no Python reader ships with wandb):
a 7-byte header ``:W&B``, uint16 LE ``0xBEE1``, version byte ``0``; then LevelDB log framing in
32 KiB blocks: chunks ``<IHB`` = CRC-32 (zlib, over the type byte and the payload), payload length,
type (FULL=1, FIRST=2, MIDDLE=3, LAST=4), the payload; a block tail shorter than a chunk header is
zero padding. The header counts towards block 0, except in files written by wandb-core before
0.17.6, whose blocks start 7 bytes later (wandb PR #8088): the reader tells the two apart by which
layout the first two blocks parse under. Each record is a ``wandb_internal_pb2.Record``; a
``history`` record is one ``wandb.log`` call, its items keyed by ``".".join(nested_key) or key``
with the value as JSON in ``value_json`` (bare ``NaN``/``Infinity`` included).

A damaged chunk is reported with its byte offset and reading resumes at the next block, as LevelDB
does; a file cut short (a killed run) is reported and everything before the cut is kept. Only the
record types the audit needs (history, config, run) are decoded: the type is read from the encoded
record first (wandb-core writes the fields outside the ``record_type`` oneof, such as ``num`` and
``_info``, before it), which skips the ``summary`` record that precedes every history record.

Values are data: a ``train/global_step`` that is not a whole number, a ``value_json`` nested deeper
than the decoder goes or a protobuf nested past its limit are findings, never exceptions.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from qadiag.audit.files import open_regular
from qadiag.audit.readers.base import (
    Layout,
    Part,
    Problems,
    Reader,
    ReadLog,
    Record,
    Seam,
    TooDeep,
    decode_json,
    describe_value,
    whole_step,
)
from qadiag.audit.records import SETTING_NAMES, LogRow, Setting, Source, trainer_key
from qadiag.namespaces import TRAIN_SUMMARY_KEYS

MAGIC = b":W&B"
HEADER = MAGIC + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32768
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
BLOCKS_PER_READ = 32
MAX_RECORD = 64 << 20
MAX_SUMMARY = 16 << 20

# Record fields (wandb_internal.proto) the audit decodes: history, config, run.
HISTORY, CONFIG, RUN = 2, 5, 17
AUDITED_RECORDS = frozenset({HISTORY, CONFIG, RUN})
# Record's fields outside its record_type oneof: num, control, uuid, _info (a test checks them against wandb).
OUTSIDE_ONEOF = frozenset({1, 16, 19, 200})
# RunRecord.config; ConfigRecord.update; ConfigItem.key, .nested_key, .value_json.
RUN_CONFIG, CONFIG_UPDATE, ITEM_KEY, ITEM_NESTED_KEY, ITEM_VALUE_JSON = 4, 1, 1, 2, 16
STEP_KEY = "train/global_step"
# A file is read in parts, in parallel, when it is at least this large; parts are at least PART_BYTES.
SPLIT_BYTES = 32 << 20
PART_BYTES = 8 << 20

_chunk_header = struct.Struct("<IHB")
_LEADING_NUM = re.compile(rb"\x08[\x80-\xff]{0,9}[\x00-\x7f]")


def _walk(head: bytes, origin: int) -> int:
    """How many valid chunks the start of a file holds if its blocks start at ``origin``."""
    pos, valid = CHUNK_HEADER, 0
    while pos + CHUNK_HEADER <= len(head):
        block_end = origin + ((pos - origin) // BLOCK + 1) * BLOCK
        if block_end - pos < CHUNK_HEADER:
            pos = block_end
            continue
        crc, length, kind = _chunk_header.unpack_from(head, pos)
        end = pos + CHUNK_HEADER + length
        if (
            end > block_end
            or end > len(head)
            or not FULL <= kind <= LAST
            or zlib.crc32(head[pos + 6 : end]) != crc
        ):
            break
        valid += 1
        pos = end
    return valid


def block_origin(head: bytes) -> int:
    """0 for files from wandb >= 0.17.6 (header inside block 0), 7 for older wandb-core files."""
    if len(head) <= BLOCK:
        return 0
    return CHUNK_HEADER if _walk(head, CHUNK_HEADER) > _walk(head, 0) else 0


class _Assembler:
    """Joins FIRST/MIDDLE/LAST chunks into records, within a size cap."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.parts: list[bytes] | None = None
        self.size = 0
        self.offset = 0
        self.resyncing = False

    def drop(self) -> None:
        self.parts, self.size = None, 0

    def add(self, kind: int, payload: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
        if kind in (FULL, FIRST):
            if self.parts is not None:
                self.problems.corrupt(
                    f"record split across blocks from byte {self.offset} never got its last part",
                    offset,
                    "it was skipped",
                )
            self.resyncing = False
            if kind == FULL:
                self.drop()
                yield offset, payload
            else:
                self.parts, self.size, self.offset = [payload], len(payload), offset
            return
        if self.parts is None:
            if not self.resyncing:
                self.problems.corrupt(
                    "continuation chunk without the start of its record", offset, "it was skipped"
                )
            return
        self.size += len(payload)
        if self.size > MAX_RECORD:
            self.problems.impossible_length(
                "record split across blocks", self.size, MAX_RECORD, self.offset, "it was skipped"
            )
            self.drop()
            self.resyncing = True
            return
        self.parts.append(payload)
        if kind == LAST:
            record = b"".join(self.parts)
            self.drop()
            yield self.offset, record


def payloads(
    handle: BinaryIO, problems: Problems, part: Part | None = None, seam: Seam | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(offset, record bytes)`` for each record of an open ``.wandb`` file; problems go to ``problems``.

    With ``part``, only the records whose first chunk starts in ``[part.start, part.stop)``: the chunks
    that continue a record from before ``part.start`` are skipped, and a record that goes on past
    ``part.stop`` is read to its end. ``seam`` gets where the first record read starts and where the
    next part's first record starts (None: the end of the file), for the caller to check that parts join.
    """
    head = handle.read(2 * BLOCK + CHUNK_HEADER)
    if not head:
        problems.empty("the run wrote no records")
        return
    if head[:4] != MAGIC:
        problems.wrong_format("a W&B transaction log (.wandb)", head)
        return
    if len(head) < CHUNK_HEADER:
        problems.truncated("the file header", 0)
        return
    start = part.start if part is not None else 0
    stop = part.stop if part is not None and part.stop is not None else None
    if head[:CHUNK_HEADER] != HEADER and start == 0:
        problems.unsupported(
            f"unknown .wandb header {head[:CHUNK_HEADER]!r} (this reader knows {HEADER!r}); the records "
            "were read as if it were that version",
            "upgrade qadiag if a newer wandb changed the format",
            offset=0,
        )
    origin = block_origin(head)
    assembler = _Assembler(problems)
    if start == 0:
        # Reads are whole blocks, so a well-formed chunk never straddles two reads.
        data, begin = head[: origin + 2 * BLOCK], 0
        handle.seek(len(data))
        pos = CHUNK_HEADER
    else:
        handle.seek(start)
        data, begin, pos = handle.read(BLOCKS_PER_READ * BLOCK), start, start
        assembler.resyncing = True  # chunks that continue a record of the part before are not ours
    cut: tuple[str, int] | None = None  # what the file ends inside, and where
    while True:
        if pos >= begin + len(data):
            begin, data = begin + len(data), handle.read(BLOCKS_PER_READ * BLOCK)
            if not data:
                break
        block_end = origin + ((pos - origin) // BLOCK + 1) * BLOCK
        if block_end - pos < CHUNK_HEADER:
            pos = block_end
            continue
        local = pos - begin
        if local + CHUNK_HEADER > len(data):
            if data[local:].strip(b"\0"):
                cut = ("a chunk header", pos)
            break
        crc, length, kind = _chunk_header.unpack_from(data, local)
        end = pos + CHUNK_HEADER + length
        if crc == 0 and length == 0 and kind == 0:  # zero-filled rest of a block
            pos = block_end
            continue
        if end > block_end:
            problems.impossible_length(
                "a chunk", length, block_end - pos - CHUNK_HEADER, pos, "skipped to the next 32 KiB block"
            )
            assembler.drop()
            assembler.resyncing = True
            pos = block_end
            continue
        if end - begin > len(data):
            cut = ("a chunk", pos)
            break
        if zlib.crc32(data[local + 6 : end - begin]) != crc or not FULL <= kind <= LAST:
            problems.corrupt(
                "chunk checksum mismatch" if FULL <= kind <= LAST else f"unknown chunk type {kind}",
                pos,
                "skipped to the next 32 KiB block",
            )
            assembler.drop()
            assembler.resyncing = True
            pos = block_end
            continue
        if kind <= FIRST and assembler.parts is None and seam is not None:
            if start and seam.start is None:
                seam.start = pos  # this part's first record (the first part's is the file's)
            if stop is not None and pos >= stop:  # the next part's first record: this part ends
                seam.stop = pos
                return
        if kind == FULL and assembler.parts is None:  # the common case, without a generator per chunk
            assembler.resyncing = False
            yield pos, data[local + CHUNK_HEADER : end - begin]
        else:
            yield from assembler.add(kind, data[local + CHUNK_HEADER : end - begin], pos)
        pos = end
    if assembler.parts is not None:
        # One cut, one finding: the record in progress is what was lost, wherever the last chunk stops.
        where = cut[1] if cut else assembler.offset
        cut = (f"the record that starts at byte {assembler.offset} and is split across blocks", where)
    if cut:
        problems.truncated(*cut)


def split(path: Path, pieces: int) -> list[tuple[int, int | None]]:
    """``[(start, stop), ...]``: ``pieces`` or fewer byte ranges of a ``.wandb`` file of at least
    SPLIT_BYTES, each starting at a 32 KiB block boundary (``stop`` None: to the end); one range for a
    smaller file or one that cannot be read (its reader reports why)."""
    if pieces < 2:
        return [(0, None)]
    try:
        if os.lstat(path).st_size < SPLIT_BYTES:
            return [(0, None)]
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(2 * BLOCK + CHUNK_HEADER)
    except OSError:
        return [(0, None)]
    if size < SPLIT_BYTES or head[:4] != MAGIC:
        return [(0, None)]
    origin = block_origin(head)
    count = max(1, min(pieces, size // PART_BYTES))
    bounds = sorted({origin + (size * number // count - origin) // BLOCK * BLOCK for number in range(1, count)})
    bounds = [bound for bound in bounds if bound > origin]
    return list(zip([0, *bounds], [*bounds, None]))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """``(value, position after it)``; value -1 when the data ends first or the varint is longer than the
    10 bytes of a uint64 (a run of continuation bytes must not grow one number without end)."""
    value, shift = 0, 0
    end = min(len(data), pos + 10)
    while pos < end:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return -1, pos


def record_type(payload: bytes, outside_oneof: frozenset[int]) -> int:
    """Field number of the record's ``record_type`` oneof, without decoding the record.

    wandb-core writes the fields outside the oneof (``num``, ``control``, ``uuid``, ``_info``) first;
    they are skipped by wire type. 0 when the payload ends first or is not a protobuf.
    """
    leading_num = _LEADING_NUM.match(payload)  # the usual layout: num, then the oneof's one-byte tag
    if leading_num is not None and leading_num.end() < len(payload):
        tag = payload[leading_num.end()]
        if tag < 0x80 and tag >> 3 not in outside_oneof:
            return tag >> 3
    pos = 0
    while pos < len(payload):
        tag, pos = _varint(payload, pos)
        field, wire = tag >> 3, tag & 7
        if field not in outside_oneof:
            return field if tag > 0 else 0
        if wire == 0:
            _, pos = _varint(payload, pos)
        elif wire == 2:
            length, pos = _varint(payload, pos)
            pos += length
        else:
            return 0
    return 0


def _record_class() -> Any:
    """``wandb_internal_pb2.Record``; ImportError when wandb is not installed. Imported only for records the
    byte readers leave to protobuf: the history and config records wandb-core writes need no wandb."""
    from wandb.proto import wandb_internal_pb2

    return wandb_internal_pb2.Record


def typed_payloads(
    path: Path,
    problems: Problems,
    wanted: frozenset[int] | None = None,
    part: Part | None = None,
    seam: Seam | None = None,
) -> Iterator[tuple[int, int, bytes]]:
    """``(offset, record type, payload)`` for each record (of the ``wanted`` types; of ``part`` only);
    problems go to ``problems``."""
    try:
        with open_regular(path) as handle:
            for offset, payload in payloads(handle, problems, part, seam):
                kind = record_type(payload, OUTSIDE_ONEOF)
                if wanted is None or kind in wanted:
                    yield offset, kind, payload
    except OSError as error:
        problems.unreadable(error)


def decoded(offset: int, payload: bytes, problems: Problems) -> Any | None:
    """The ``wandb_internal_pb2.Record`` of one payload, or None (reported) when it is not one."""
    try:
        record_class = _record_class()
    except ImportError as error:
        problems.unsupported(
            f"cannot decode the .wandb record at byte {offset}: {error}",
            "install wandb (`pip install wandb`) to audit W&B runs written by other wandb versions",
            offset=offset,
        )
        return None
    from google.protobuf.message import DecodeError

    try:
        return record_class.FromString(payload)
    except DecodeError:
        problems.unsupported(
            f"record at byte {offset} passed its checksum but does not decode as a wandb Record (written by "
            "another wandb version, or nested deeper than protobuf's limit); skipped",
            "if a newer wandb wrote it, audit with that version installed; otherwise the file was crafted or "
            "damaged before its checksums were written",
            offset=offset,
        )
        return None


def records(path: Path, problems: Problems, wanted: frozenset[int] | None = None) -> Iterator[tuple[int, Any]]:
    """``(offset, wandb_internal_pb2.Record)`` for each record (of the ``wanted`` types)."""
    for offset, _, payload in typed_payloads(path, problems, wanted):
        record = decoded(offset, payload, problems)
        if record is not None:
            yield offset, record


def json_value(raw: str | bytes) -> Any:
    """A ``value_json``: numbers (``NaN``/``Infinity`` included) fast, other JSON decoded, anything that
    is not JSON kept as text. Raises :class:`~qadiag.audit.readers.base.TooDeep` for JSON nested too deep
    to decode, and UnicodeDecodeError for bytes that are not UTF-8 (protobuf refuses such a record too).
    """
    try:
        return float(raw)
    except ValueError:
        pass
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        return decode_json(text)
    except ValueError:
        return text


def item_key(item: Any) -> str:
    nested = item.nested_key
    return ".".join(nested) if nested else item.key


def item_value(item: Any) -> Any:
    raw = item.value_json
    if raw:
        return json_value(raw)
    kind = item.WhichOneof("value") if _has_typed_values(item) else None
    if kind is None or kind == "none":
        return None
    value = getattr(item, kind)
    return json_value(value) if kind == "json" else value


def _has_typed_values(item: Any) -> bool:
    """Newer wandb protos may carry a typed value instead of ``value_json``."""
    return "value" in item.DESCRIPTOR.oneofs_by_name


_MAX_CACHED_KEYS = 4096
# What a history key is for: the step, the wall time, a Trainer key (its name), or nothing (None).
_STEP, _TIME = object(), object()
_TEXT = frozenset({bytes, str})


def protobuf_items(record: Any) -> tuple[list[tuple[str, Any]], int | None]:
    """``([(stored key, value_json), ...], step.num)`` of a decoded history Record; typed values (newer
    protos) come already parsed."""
    items = []
    for item in record.history.item:
        raw = item.value_json
        items.append((item_key(item), raw if raw else item_value(item)))
    return items, (record.history.step.num if record.history.HasField("step") else None)


class HistoryRows:
    """Turns history records into rows; what each logger key means is looked up once per key, not
    once per row. ``row_from_bytes`` is the audit's hot loop; ``row`` takes decoded items. Values that
    cannot be read go to ``problems`` (the sink of the file being read)."""

    def __init__(self, source: Source, problems: Problems | None = None) -> None:
        self.source = source
        self.problems = problems or Problems(source.name)
        self.meaning: dict[str | bytes, tuple[Any, str]] = {}

    def learn(self, key: str | bytes) -> tuple[Any, str]:
        stored = key.decode("utf-8") if isinstance(key, bytes) else key
        name = _STEP if stored == STEP_KEY else _TIME if stored == "_timestamp" else trainer_key(stored)
        if len(self.meaning) < _MAX_CACHED_KEYS:
            self.meaning[key] = (name, stored)
        return name, stored

    def row(self, file: str, index: int, offset: int, items: list[tuple[Any, Any]], step: int | None) -> LogRow:
        """Raises UnicodeDecodeError on bytes that are not UTF-8: decode that record with protobuf."""
        values: dict[str, Any] = {}
        logger_keys: dict[str, str] = {}
        logged_step, wall_time = None, None
        meanings = self.meaning
        for key, raw in items:
            meaning = meanings.get(key)
            name, stored = meaning if meaning is not None else self.learn(key)
            if name is None:
                continue
            if raw.__class__ in _TEXT:
                try:
                    value = float(raw)
                except ValueError:
                    try:
                        value = json_value(raw)
                    except TooDeep:
                        self.problems.too_deep(f"the value of {stored!r}", offset, "left it out of the row")
                        continue
            else:
                value = raw  # None, or a typed value protobuf already parsed
            if value.__class__ is dict and "_type" in value:
                continue  # a W&B media object (table, image...) logged on purpose: not a metric
            if name is _STEP:
                logged_step = value
            elif name is _TIME:
                wall_time = value if value.__class__ is float else None
            else:
                values[name] = value
                logger_keys[name] = stored
        if logged_step is not None:
            whole = whole_step(logged_step)
            if whole is None:
                self.problems.bad_value(
                    f"{STEP_KEY} is {describe_value(logged_step)}, not a whole number: the row was read with "
                    "the history step instead",
                    offset=offset,
                )
            else:
                step = whole
        return LogRow(self.source, file, index, step, values, logger_keys, offset, wall_time)

    def row_from_bytes(self, file: str, index: int, offset: int, payload: bytes) -> LogRow | None:
        """The row of a history record read straight from its bytes, or None to decode it with protobuf.

        Building protobuf objects for every item costs more than the rest of the audit. This covers the
        layout wandb-core writes: ``num``, then ``history`` = items of one ``nested_key`` and a
        ``value_json`` (lengths under 128), and ``step``; anything else (a key in two parts, a typed
        value, a long value, a field added by a newer wandb, bytes that are not UTF-8) returns None.
        """
        try:
            return self._row_from_bytes(file, index, offset, payload)
        except (IndexError, UnicodeDecodeError):
            return None

    def _row_from_bytes(self, file: str, index: int, offset: int, payload: bytes) -> LogRow | None:
        leading_num = _LEADING_NUM.match(payload)
        pos = leading_num.end() if leading_num is not None else 0
        if payload[pos] != 0x12:
            return None
        length, second = payload[pos + 1], payload[pos + 2]
        if length < 0x80:
            pos += 2
        elif second < 0x80:  # a history of 128 bytes to 16 KiB: a two-byte length
            length, pos = (length & 0x7F) | second << 7, pos + 3
        else:
            length, pos = _varint(payload, pos + 1)
        end = pos + length
        if length < 0 or end > len(payload):
            return None
        items: list[tuple[bytes, bytes | None]] = []
        step = None
        while pos < end:
            tag, size = payload[pos], payload[pos + 1]
            item_end = pos + 2 + size
            if size >= 0x80 or item_end > end:
                return None
            if tag == 0x12:  # step: HistoryStep{num = 1}; step 0 is an empty message
                step, after = _varint(payload, pos + 3) if size else (0, item_end)
                if (size and payload[pos + 2] != 0x08) or after != item_end or step < 0:
                    return None  # not exactly one varint field: let protobuf judge it
                step = step - (1 << 64) if step >= 1 << 63 else step  # int64
                pos = item_end
                continue
            # an item: 0x12 <n> nested_key, 0x82 0x01 <n> value_json
            key_size = payload[pos + 3]
            key_end = pos + 4 + key_size
            if (
                tag != 0x0A
                or payload[pos + 2] != 0x12
                or key_size >= 0x80
                or payload[key_end] != 0x82
                or payload[key_end + 1] != 0x01
                or key_end + 3 + payload[key_end + 2] != item_end
            ):
                return None
            items.append((payload[pos + 4 : key_end], payload[key_end + 3 : item_end] or None))
            pos = item_end
        return self.row(file, index, offset, items, step)


def settings(
    source: Source, file: str, items: list[tuple[str, Any]], problems: Problems, offset: int
) -> Iterator[Setting]:
    """The settings among a config record's ``(key, value_json)`` items."""
    for key, raw in items:
        if key in SETTING_NAMES:
            try:
                yield Setting(source, file, key, json_value(raw))
            except TooDeep:
                problems.too_deep(f"the config value of {key!r}", offset, "left it out")


def protobuf_config(record: Any) -> list[tuple[str, Any]]:
    """``(key, value_json)`` of the config items of a decoded config or run Record."""
    kind = record.WhichOneof("record_type")
    config = record.config if kind == "config" else record.run.config
    return [(item_key(item), item.value_json) for item in config.update]


def _fields(data: bytes) -> list[tuple[int, int, Any]] | None:
    """The fields of one protobuf message, ``(number, wire type, value)`` (an int, or bytes for
    length-delimited and fixed-size values); None when it does not parse as one."""
    found: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if tag <= 0:
            return None
        if wire == 0:
            value, pos = _varint(data, pos)
            if value < 0:
                return None
        elif wire in (1, 2, 5):
            if wire == 2:
                size, pos = _varint(data, pos)
                if size < 0:
                    return None
            else:
                size = 8 if wire == 1 else 4
            if pos + size > len(data):
                return None
            value, pos = data[pos : pos + size], pos + size
        else:
            return None
        found.append((tag >> 3, wire, value))
    return found


def _single(fields: list[tuple[int, int, Any]], number: int) -> bytes | None:
    """The one length-delimited field ``number`` of a message (empty when absent); None when it is given
    twice or with another wire type (protobuf merges or refuses those: left to it)."""
    values = [(wire, value) for field, wire, value in fields if field == number]
    if not values:
        return b""
    if len(values) > 1 or values[0][0] != 2:
        return None
    return values[0][1]


def config_items(payload: bytes, kind: int) -> list[tuple[str, Any]] | None:
    """``(key, value_json)`` of a config (or run) record's items read from its bytes, as protobuf decodes
    them; None for a layout left to protobuf (a field given twice or with another type, another member
    of the record type, text that is not UTF-8)."""
    record = _fields(payload)
    if record is None or any(field not in OUTSIDE_ONEOF and field != kind for field, _, _ in record):
        return None
    body = _single(record, kind)
    if body is not None and kind == RUN:
        run = _fields(body)
        body = _single(run, RUN_CONFIG) if run is not None else None
    config = _fields(body) if body is not None else None
    if config is None:
        return None
    items = []
    try:
        for field, wire, value in config:
            if field != CONFIG_UPDATE:
                continue
            item = _fields(value) if wire == 2 else None
            if item is None:
                return None
            key, raw = _single(item, ITEM_KEY), _single(item, ITEM_VALUE_JSON)
            nested = [value.decode("utf-8") for number, wire, value in item if number == ITEM_NESTED_KEY and wire == 2]
            if key is None or raw is None or any(number == ITEM_NESTED_KEY and wire != 2 for number, wire, _ in item):
                return None
            items.append((".".join(nested) or key.decode("utf-8"), raw.decode("utf-8")))
    except UnicodeDecodeError:
        return None
    return items


def summary_row(source: Source, run_dir: Path, index: int, problems: Problems) -> LogRow | None:
    """The final-row keys (``train_loss``, ``train_runtime``...) that W&B keeps in the summary only."""
    path = run_dir / "files" / "wandb-summary.json"
    try:
        with open_regular(path, below=run_dir) as handle:
            data = handle.read(MAX_SUMMARY + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        problems.unreadable(error)
        return None
    if len(data) > MAX_SUMMARY:
        problems.impossible_length("wandb-summary.json", len(data), MAX_SUMMARY, 0, "it was not read")
        return None
    try:
        summary = decode_json(data.decode("utf-8", "replace"))
    except TooDeep:
        problems.too_deep("wandb-summary.json", 0, "it was not read")
        return None
    except ValueError as error:
        problems.malformed_json(f"wandb-summary.json does not parse: {error}", 0)
        return None
    if not isinstance(summary, dict):
        problems.malformed_json("wandb-summary.json is not a JSON object", 0)
        return None
    values = {key: value for key, value in summary.items() if key in TRAIN_SUMMARY_KEYS}
    if not values:
        return None
    logged = summary.get(STEP_KEY)
    step = whole_step(logged)
    if step is None and logged is not None:
        problems.bad_value(f"{STEP_KEY} is {describe_value(logged)}, not a whole number: read without a step")
    return LogRow(source, str(path), index, step, values, {key: key for key in values})


class WandbReader(Reader):
    """``run-<id>.wandb`` transaction logs: the files of one run id in one ``wandb/`` dir (a resumed run
    has several) are one source."""

    kind = "wandb"
    looked_for = "W&B run-*.wandb files"
    file_names = re.compile(r"run-(?P<id>.+)\.wandb")

    def group(self, directory: Path, name: str) -> Hashable:
        match = self.file_names.fullmatch(name)
        return directory.parent, match["id"] if match else name

    def sources(self, groups: Mapping[Hashable, Sequence[Path]], layout: Layout, log: ReadLog) -> Iterator[Source]:
        for (wandb_dir, run_id), files in sorted(groups.items(), key=lambda item: tuple(map(str, item[0]))):
            ordered = tuple(sorted(files))
            name = str(ordered[0].parent) if len(ordered) == 1 else f"{wandb_dir} (W&B run {run_id})"
            yield Source(self.kind, name, ordered, ordered[0].parent)

    def parts(self, source: Source, pieces: int) -> list[Part] | None:
        """Files of at least SPLIT_BYTES in ranges of whole 32 KiB blocks, one part per range."""
        ranges = [split(path, pieces) for path in source.files]
        if all(len(found) == 1 for found in ranges):
            return None
        return [Part(number, start, stop) for number, found in enumerate(ranges) for start, stop in found]

    def read(self, source: Source, log: ReadLog, part: Part | None = None) -> Iterator[Record]:
        """Rows of every ``.wandb`` file of one W&B run (or of one part of one), in order, each file's
        followed by its summary's final row."""
        index = 0
        history = HistoryRows(source)
        for path in source.files if part is None else [source.files[part.file]]:
            file = str(path)
            with log.reading(path) as problems:
                history.problems = problems
                seam = log.seam if part is not None else None
                for offset, kind, payload in typed_payloads(path, problems, AUDITED_RECORDS, part, seam):
                    if kind == HISTORY:
                        row = history.row_from_bytes(file, index, offset, payload)
                        if row is None:
                            record = decoded(offset, payload, problems)
                            if record is None:
                                continue
                            row = history.row(file, index, offset, *protobuf_items(record))
                        yield row
                        index += 1
                        continue
                    items = config_items(payload, kind)
                    if items is None:
                        record = decoded(offset, payload, problems)
                        if record is None:
                            continue
                        items = protobuf_config(record)
                    yield from settings(source, file, items, problems, offset)
            if part is not None and part.stop is not None:
                continue  # the summary follows the file's last part
            summary = path.parent / "files" / "wandb-summary.json"
            with log.reading(summary) as problems:
                row = summary_row(source, path.parent, index, problems)
                if row is not None:
                    yield row
                    index += 1


READER = WandbReader()
