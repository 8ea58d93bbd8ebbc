"""Scalar events read straight from their bytes, a whole batch of records at once (numpy).

The TensorBoard writers (``SummaryWriter.add_scalar``, tensorboard's ``EventFileWriter``) write a scalar as
an ``Event`` in one layout: ``wall_time`` (field 1, fixed64), ``step`` (field 2, varint; absent when 0),
``summary`` (field 5) holding one ``value`` (field 1) of a ``tag`` (field 1, at most 127 bytes) and a
``simple_value`` (field 2, fixed32), nothing else. :func:`scalar_layout` checks that layout for every record
of a :class:`~qadiag.audit.readers.tfrecord.Batch` and reads step, tag, value and wall time where it holds;
records in any other layout (text summaries such as the training arguments, tensors, another writer's
field order, a tag that is not UTF-8) are left to protobuf, which decodes them one by one, so the result is
what protobuf gives either way (tests/audit/test_tensorboard.py compares them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qadiag.audit.readers.tfrecord import HEADER, Batch

WALL_TIME, STEP, SUMMARY, VALUE, TAG, SIMPLE_VALUE = 0x09, 0x10, 0x2A, 0x0A, 0x0A, 0x15
# Tags longer than this are read by protobuf (the Trainer's are a few dozen bytes).
MAX_TAG = 48
MAX_VARINT = 10


@dataclass
class Scalars:
    """Per record of a batch: whether it is in the scalar layout, and if so its step, tag, value and wall
    time (``tag`` indexes ``tags``, the distinct tags of the batch)."""

    fits: Any
    steps: Any
    tag: Any
    tags: list[str]
    values: Any
    wall_times: Any


def _gather(array: Any, at: Any, width: int) -> Any:
    """``width`` bytes from each position of ``at`` (positions past the end read the last byte: masked by
    the caller), as an ``(n, width)`` uint8 matrix."""
    import numpy as np

    index = at[:, None] + np.arange(width, dtype=np.int64)
    return array[np.minimum(index, len(array) - 1)]


def _little_endian(bytes_: Any, dtype: str) -> Any:
    import numpy as np

    return np.ascontiguousarray(bytes_).view(np.dtype(dtype).newbyteorder("<")).ravel()


def scalar_layout(batch: Batch) -> Scalars:
    import numpy as np

    array = np.frombuffer(batch.data, dtype=np.uint8)
    payload = batch.starts + HEADER
    end = payload + batch.lengths
    fits = (batch.lengths >= 20) & (array[np.minimum(payload, len(array) - 1)] == WALL_TIME)
    wall_times = _little_endian(_gather(array, payload + 1, 8), "f8")
    has_step = array[np.minimum(payload + 9, len(array) - 1)] == STEP
    varint = _gather(array, payload + 10, MAX_VARINT)
    ends_here = varint < 0x80
    length = np.argmax(ends_here, axis=1) + 1
    fits &= ~has_step | (ends_here.any(axis=1) & (length < MAX_VARINT))  # negative steps: left to protobuf
    kept = np.arange(MAX_VARINT) < length[:, None]
    shifts = (7 * np.arange(MAX_VARINT)).astype(np.uint64)
    steps = (((varint & 0x7F).astype(np.uint64) << shifts) * kept).sum(axis=1, dtype=np.uint64).view(np.int64)
    steps = np.where(has_step, steps, 0)
    summary = payload + 9 + np.where(has_step, 1 + length, 0)
    head = _gather(array, summary, 6)  # summary tag, its length, value tag, its length, tag tag, tag length
    size, value_size, tag_size = head[:, 1].astype(np.int64), head[:, 3].astype(np.int64), head[:, 5].astype(np.int64)
    fits &= (head[:, 0] == SUMMARY) & (head[:, 2] == VALUE) & (head[:, 4] == TAG)
    fits &= (size < 0x80) & (value_size == size - 2) & (tag_size <= MAX_TAG) & (value_size == tag_size + 7)
    tag_start = summary + 6
    after_tag = tag_start + tag_size
    fits &= array[np.minimum(after_tag, len(array) - 1)] == SIMPLE_VALUE
    fits &= after_tag + 5 == end
    with np.errstate(invalid="ignore"):  # a NaN is a value like any other
        values = _little_endian(_gather(array, after_tag + 1, 4), "f4").astype(np.float64)
    tag, tags, readable = _tags(array, tag_start, tag_size, fits)
    fits &= readable
    return Scalars(fits, steps, tag, tags, values, wall_times)


def _tags(array: Any, starts: Any, sizes: Any, fits: Any) -> tuple[Any, list[str], Any]:
    """Each record's tag as an index into the list of distinct tags, and whether it is UTF-8 (the others
    are left to protobuf, which refuses them)."""
    import numpy as np

    tag = np.zeros(len(starts), dtype=np.int64)
    readable = np.zeros(len(starts), dtype=bool)
    chosen = np.flatnonzero(fits)
    if not chosen.size:
        return tag, [], readable
    raw = _gather(array, starts[chosen], MAX_TAG)
    raw[np.arange(MAX_TAG) >= sizes[chosen][:, None]] = 0
    keys = np.concatenate([raw, sizes[chosen][:, None].astype(np.uint8)], axis=1)
    distinct, first, inverse = np.unique(
        np.ascontiguousarray(keys).view(np.dtype((np.void, MAX_TAG + 1))).ravel(),
        return_index=True,
        return_inverse=True,
    )
    tags: list[str] = []
    utf8 = np.zeros(len(distinct), dtype=bool)
    for number, row in enumerate(first):
        text = bytes(raw[row, : int(sizes[chosen][row])])
        try:
            tags.append(text.decode("utf-8"))
            utf8[number] = True
        except UnicodeDecodeError:
            tags.append("")
    tag[chosen] = inverse.ravel()
    readable[chosen] = utf8[inverse.ravel()]
    return tag, tags, readable
