"""TensorBoard ``events.out.tfevents.*`` files -> log rows, streamed, every checksum checked.

The framing (TFRecord, checksums, damage) is :mod:`~qadiag.audit.readers.tfrecord`'s; each payload is a
``tensorboard.compat.proto.Event``. Scalar events in the writers' own layout are read from their bytes a
batch at a time (:mod:`~qadiag.audit.readers.tensorboard_layout`); every other event is decoded by protobuf.

The TensorBoard callback writes each key of a ``Trainer.log`` dict as its own scalar event, named by
``rewrite_logs`` (``eval_loss -> eval/loss``), with the global step; rows are rebuilt from runs of
events with one step (see :class:`~qadiag.audit.records.RowSplitter`). The training arguments come
as the ``args`` text summary.

A large file is read in parts, in parallel (:meth:`TensorBoardReader.parts`): a part starting inside the
file finds its first record by its checksum (:func:`~qadiag.audit.readers.tfrecord.resync`) and cuts at the
first change of step after its start, where a row always begins (:class:`PartGate`); the part before reads
on to that same entry. Parts join when both found it (the seam), else the file is read whole.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from qadiag.audit.files import open_regular
from qadiag.audit.readers import tfrecord
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
)
from qadiag.audit.readers.tensorboard_layout import scalar_layout
from qadiag.audit.records import SETTING_NAMES, Entries, RowSplitter, Setting, Source, trainer_key

ARGS_TAGS = frozenset({"args", "args/text_summary"})
_FLOAT_TYPES = {1: "<f", 2: "<d", 19: "<e"}  # DT_FLOAT, DT_DOUBLE, DT_HALF
_INT_TYPES = {3: "int_val", 9: "int64_val"}  # DT_INT32, DT_INT64
# A file is read in parts, in parallel, when it is at least this large; parts are at least PART_BYTES.
SPLIT_BYTES = 32 << 20
PART_BYTES = 8 << 20


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


class PartGate:
    """Which entries (the Trainer-key scalars rows are made of) of a file one part reads. A part that starts
    inside the file skips its first entries up to the first change of step; a part that stops inside the file
    reads past its stop up to that same change (a row begins there whatever came before). The position of
    that entry is the seam."""

    def __init__(self, part: Part | None, seam: Seam) -> None:
        self.seam = seam
        self.stop = part.stop if part is not None else None
        self.skipping = part is not None and part.start > 0
        self.first_step: int | None = None  # skipping: the step of the first entry seen
        self.stop_step: int | None = None  # the step of the first entry at or after the stop
        self.done = False

    def admit(self, step: int, offset: int, index: int) -> bool:
        """Whether the entry (``index``: its place in its event) is this part's; sets ``done`` past the end."""
        if self.done:
            return False
        if self.skipping:
            if self.first_step is None:
                self.first_step = step
            if step == self.first_step:
                return False
            self.skipping = False
            self.seam.start = (offset, index)
        if self.stop is not None and offset >= self.stop:
            if self.stop_step is None:
                self.stop_step = step
            elif step != self.stop_step:
                self.done = True
                self.seam.stop = (offset, index)
                return False
        return True

    def admitted(self, steps: Any, offsets: Any) -> tuple[int, int]:
        """:meth:`admit` for many entries of one-value events: the range ``[begin, end)`` admitted."""
        import numpy as np

        count = len(steps)
        begin, end = 0, count
        if self.done or not count:
            return count, count
        if self.skipping:
            if self.first_step is None:
                self.first_step = int(steps[0])
            other = np.flatnonzero(steps != self.first_step)
            if not other.size:
                return count, count
            begin = int(other[0])
            self.skipping = False
            self.seam.start = (int(offsets[begin]), 0)
        if self.stop is not None:
            past = np.flatnonzero(offsets[begin:] >= self.stop)
            if past.size:
                first_past = begin + int(past[0])
                if self.stop_step is None:
                    self.stop_step = int(steps[first_past])
                other = np.flatnonzero(steps[first_past:] != self.stop_step)
                if other.size:
                    end = first_past + int(other[0])
                    self.done = True
                    self.seam.stop = (int(offsets[end]), 0)
        return begin, end


class _FileRows:
    """The rows and settings of one event file (or of a part of it)."""

    def __init__(self, source: Source, path: Path, splitter: RowSplitter, gate: PartGate, problems: Problems) -> None:
        self.source, self.path, self.file = source, path, str(path)
        self.splitter, self.gate, self.problems = splitter, gate, problems
        self.names: list[str] = []
        self.name_ids: dict[str, int] = {}

    def read(self, start: int) -> Iterator[Record]:
        try:
            from tensorboard.compat.proto import event_pb2
        except ImportError as error:
            self.problems.unsupported(
                f"cannot decode TensorBoard events: {error}", "install tensorboard to audit its event files"
            )
            return
        try:
            with open_regular(self.path) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size == 0:
                    self.problems.empty("the writer was opened but nothing was logged")
                if start > 0:
                    found = tfrecord.resync(handle, start)
                    if found is None:
                        return
                    start = found
                for item in tfrecord.records(handle, size, self.problems, start):
                    if isinstance(item, tfrecord.Batch):
                        yield from self._batch(item, event_pb2)
                    else:
                        yield from self._event(*item, event_pb2)
                    if self.gate.done:
                        return
        except OSError as error:
            self.problems.unreadable(error)

    def _name_id(self, name: str) -> int:
        known = self.name_ids.get(name)
        if known is None:
            known = self.name_ids[name] = len(self.names)
            self.names.append(name)
        return known

    def _batch(self, batch: tfrecord.Batch, event_pb2: Any) -> Iterator[Record]:
        import numpy as np

        found = scalar_layout(batch)
        names = [trainer_key(tag) for tag in found.tags]
        usable = (
            found.fits
            & np.array([name is not None for name in names] + [False])[np.where(found.fits, found.tag, len(names))]
        )
        others = ~found.fits
        # runs of records read from their bytes, between the records protobuf decodes
        cuts = np.flatnonzero(others)
        begin = 0
        for cut in [*cuts.tolist(), len(batch.starts)]:
            if cut > begin:
                yield from self._scalars(batch, found, names, usable, begin, cut)
            if cut < len(batch.starts):
                start, length = int(batch.starts[cut]), int(batch.lengths[cut])
                payload = batch.data[start + tfrecord.HEADER : start + tfrecord.HEADER + length]
                yield from self._event(batch.base + start, payload, event_pb2)
            if self.gate.done:
                return
            begin = cut + 1

    def _scalars(
        self, batch: tfrecord.Batch, found: Any, names: list[str | None], usable: Any, begin: int, end: int
    ) -> Iterator[Record]:
        import numpy as np

        chosen = np.flatnonzero(usable[begin:end]) + begin
        if not chosen.size:
            return
        offsets = batch.starts[chosen] + batch.base
        steps = found.steps[chosen]
        first, last = self.gate.admitted(steps, offsets)
        chosen = chosen[first:last]
        if not chosen.size:
            return
        tag_ids = found.tag[chosen]
        name_of_tag = np.array([self._name_id(name) if name is not None else -1 for name in names], dtype=np.int64)
        entries = Entries(
            steps[first:last],
            name_of_tag[tag_ids],
            tag_ids,
            found.values[chosen],
            offsets[first:last],
            found.wall_times[chosen],
            self.names,
            found.tags,
        )
        yield from self.splitter.add_many(entries)

    def _event(self, offset: int, payload: bytes, event_pb2: Any) -> Iterator[Record]:
        from google.protobuf.message import DecodeError

        try:
            event = event_pb2.Event.FromString(payload)
        except DecodeError:
            self.problems.unsupported(
                f"record at byte {offset} passed its checksum but does not decode as a TensorBoard "
                "Event (written by another TFRecord writer, or nested deeper than protobuf's limit); "
                "skipped",
                "audit only TensorBoard event files; a crafted or damaged record cannot be read",
                offset=offset,
            )
            return
        for index, value in enumerate(event.summary.value):
            if value.tag in ARGS_TAGS:  # a part may read a setting its neighbour reads too: the first counts
                yield from args_settings(self.source, self.file, value, offset, self.problems)
                continue
            name = trainer_key(value.tag)
            number = scalar(value) if name is not None else None
            if number is None:
                continue
            if not self.gate.admit(event.step, offset, index):  # the gate counts what the rows are made of
                if self.gate.done:
                    return
                continue
            row = self.splitter.add(
                event.step, name, number, stored_as=value.tag, offset=offset, wall_time=event.wall_time
            )
            if row is not None:
                yield row


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

    def parts(self, source: Source, pieces: int) -> list[Part] | None:
        """Files of at least SPLIT_BYTES in byte ranges of at least PART_BYTES, one part per range."""
        found: list[Part] = []
        for number, path in enumerate(source.files):
            try:
                size = os.lstat(path).st_size
            except OSError:
                size = 0
            count = max(1, min(pieces, size // max(PART_BYTES, 1))) if size >= SPLIT_BYTES and pieces > 1 else 1
            bounds = [size * index // count for index in range(1, count)]
            found.extend(Part(number, start, stop) for start, stop in zip([0, *bounds], [*bounds, None]))
        return found if len(found) > len(source.files) else None

    def read(self, source: Source, log: ReadLog, part: Part | None = None) -> Iterator[Record]:
        splitter = RowSplitter(source, "", last_keys=frozenset({"epoch"}))
        files = enumerate(source.files) if part is None else [(part.file, source.files[part.file])]
        for _, path in files:
            yield from _flushed(splitter)
            splitter.file = str(path)
            with log.reading(path) as problems:
                gate = PartGate(part, log.seam)
                yield from _FileRows(source, path, splitter, gate, problems).read(part.start if part else 0)
        yield from _flushed(splitter)


def _flushed(splitter: RowSplitter) -> Iterable[Record]:
    row = splitter.flush()
    return () if row is None else (row,)


READER = TensorBoardReader()
