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
# Distinct tags one batch reads from bytes (a Trainer run logs a few dozen keys in all).
MAX_DISTINCT_TAGS = 256


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
    """``width`` bytes from each position of ``at``, as an ``(n, width)`` uint8 matrix (rows of a sliding
    window: no index matrix is built; a position too close to the end reads the last ``width`` bytes, which
    the caller's layout checks reject)."""
    import numpy as np

    windows = np.lib.stride_tricks.sliding_window_view(array, width)
    return windows[np.minimum(at, len(windows) - 1)]


def scalar_layout(batch: Batch) -> Scalars:
    import numpy as np

    array = np.frombuffer(batch.data, dtype=np.uint8)
    last = len(array) - 1
    payload = batch.starts + HEADER
    end = payload + batch.lengths
    fits = (batch.lengths >= 20) & (array[np.minimum(payload, last)] == WALL_TIME)
    wall_times = _gather(array, payload + 1, 8).view("<f8").ravel()
    has_step = array[np.minimum(payload + 9, last)] == STEP
    varint = _gather(array, payload + 10, MAX_VARINT)
    ends_here = varint < 0x80
    length = np.argmax(ends_here, axis=1) + 1
    fits &= ~has_step | (ends_here.any(axis=1) & (length < MAX_VARINT))  # negative steps: left to protobuf
    length = np.where(has_step, length, 0)
    steps = np.zeros(len(payload), dtype=np.uint64)
    for place in range(int(length[fits].max(initial=0))):  # a few bytes: the steps of one batch are alike
        digits = (varint[:, place] & 0x7F).astype(np.uint64) << np.uint64(7 * place)
        steps |= np.where(place < length, digits, np.uint64(0))
    steps = steps.view(np.int64)
    summary = payload + 9 + np.where(has_step, 1 + length, 0)
    head = _gather(array, summary, 6)  # summary tag, its length, value tag, its length, tag tag, tag length
    size, value_size, tag_size = head[:, 1].astype(np.int64), head[:, 3].astype(np.int64), head[:, 5].astype(np.int64)
    fits &= (head[:, 0] == SUMMARY) & (head[:, 2] == VALUE) & (head[:, 4] == TAG)
    fits &= (size < 0x80) & (value_size == size - 2) & (tag_size <= MAX_TAG) & (value_size == tag_size + 7)
    tag_start = summary + 6
    after_tag = tag_start + tag_size
    fits &= array[np.minimum(after_tag, last)] == SIMPLE_VALUE
    fits &= after_tag + 5 == end
    with np.errstate(invalid="ignore"):  # a NaN is a value like any other
        values = _gather(array, after_tag + 1, 4).view("<f4").ravel().astype(np.float64)
    tag, tags, readable = _tags(array, tag_start, tag_size, fits)
    fits &= readable
    return Scalars(fits, steps, tag, tags, values, wall_times)


def _tags(array: Any, starts: Any, sizes: Any, fits: Any) -> tuple[Any, list[str], Any]:
    """Each record's tag as an index into the list of distinct tags, and whether it could be read: UTF-8
    (protobuf refuses the others) and told apart from the other tags. Tags are compared as 8-byte words
    (the bytes past a tag's end masked off): each record against the first record of each distinct tag,
    one distinct tag at a time (a batch has a few); past MAX_DISTINCT_TAGS the rest is left to protobuf."""
    import numpy as np

    tag = np.zeros(len(starts), dtype=np.int64)
    readable = np.zeros(len(starts), dtype=bool)
    chosen = np.flatnonzero(fits)
    if not chosen.size:
        return tag, [], readable
    size = sizes[chosen]
    words = _gather(array, starts[chosen], -(-int(size.max()) // 8) * 8).view("<u8")
    for column in range(words.shape[1]):
        kept = np.clip(size - 8 * column, 0, 8).astype(np.uint64) * np.uint64(8)
        with np.errstate(over="ignore"):
            mask = np.where(kept == 64, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << kept) - np.uint64(1))
        words[:, column] &= mask
    digest = size.astype(np.uint64)
    with np.errstate(over="ignore"):
        for word in words.T:
            digest = (digest ^ word) * np.uint64(0x9E3779B97F4A7C15)
    number = np.full(len(chosen), -1, dtype=np.int64)
    firsts: list[int] = []
    tags: list[str] = []
    utf8: list[bool] = []
    while len(tags) < MAX_DISTINCT_TAGS:
        left = np.flatnonzero(number < 0)
        if not left.size:
            break
        first = int(left[0])
        number[(digest == digest[first]) & (number < 0)] = len(tags)
        firsts.append(first)
        text = bytes(words[first].view(np.uint8)[: int(size[first])])
        try:
            tags.append(text.decode("utf-8"))
            utf8.append(True)
        except UnicodeDecodeError:
            tags.append("")
            utf8.append(False)
    grouped = number >= 0
    representative = np.array(firsts, dtype=np.int64)[number[grouped]]
    # the digest groups tags; the bytes decide (a crafted tag whose digest collides is left to protobuf)
    grouped[grouped] = (size[grouped] == size[representative]) & (words[grouped] == words[representative]).all(axis=1)
    number = np.where(grouped, number, -1)
    known = number >= 0
    tag[chosen[known]] = number[known]
    readable[chosen[known]] = np.array(utf8, dtype=bool)[number[known]]
    return tag, tags, readable
