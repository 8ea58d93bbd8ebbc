"""The records every reader produces, and what a reader reads.

A :class:`LogRow` is one logged dict: one ``Trainer.log`` call as ``trainer_state.json`` stores it, one
W&B ``history`` record, one group of TensorBoard scalars or MLflow metrics with the same step. Rows,
not single key/value pairs, are the unit because the namespace rules need to see the keys that were
logged together: a training row and an evaluation row often share a step, and merging them would
hide an un-prefixed evaluation metric among the training keys.

Keys are stored as the Trainer logged them (``eval_f1``); sources that store the logger-side name
(W&B, TensorBoard: ``eval/f1``) keep that too, so a finding can say where the key landed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.namespaces import EVAL_PREFIX, TEST_PREFIX, logger_key


def __getattr__(name: str) -> Any:
    """``SourceKind`` is derived from the registered readers (:mod:`qadiag.audit.readers`, which imports
    this module): it is looked up there on first use, so ``from qadiag.audit.records import SourceKind``
    keeps working."""
    if name == "SourceKind":
        from qadiag.audit.readers import SourceKind

        return SourceKind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Source:
    """One log source of a run: the files a reader reads as one stream, in order.

    ``kind`` is the reader's kind (:attr:`qadiag.audit.readers.base.Reader.kind`).
    ``home`` is the directory the source belongs to by its location (an output dir, a W&B run dir);
    the run it is audited with may change once the source says which output dir it logged for.
    ``table_key`` selects one run inside a shared file (an ``mlflow.db`` run id).
    """

    kind: str
    name: str
    files: tuple[Path, ...]
    home: Path
    table_key: str | None = None

    @property
    def size(self) -> int:
        total = 0
        for path in self.files:
            try:
                total += os.lstat(path).st_size
            except OSError:
                continue
        return total


@dataclass(slots=True)
class LogRow:
    """One logged dict. ``values`` maps the Trainer-side key to the logged value.

    Where the row is: ``file`` and byte ``offset``; ``line`` and ``column`` (1-based) when the file is text
    (trainer_state.json). A row gathered from one file per key (an MLflow file-store run: ``metrics/<key>``)
    has ``key_places``, each key's file and line, and ``file`` is its first key's file.
    """

    source: Source
    file: str
    index: int
    step: int | None
    values: dict[str, Any]
    logger_keys: dict[str, str] | None = None
    offset: int | None = None
    wall_time: float | None = None
    line: int | None = None
    column: int | None = None
    key_places: dict[str, tuple[str, int]] | None = None

    def logger_key(self, key: str) -> str:
        """Where ``key`` landed in W&B/TensorBoard: as stored, or as the callbacks would file it."""
        if self.logger_keys is not None and key in self.logger_keys:
            return self.logger_keys[key]
        return logger_key(key)

    def place(self, key: str | None = None) -> tuple[str, int | None, int | None]:
        """``(file, line, column)`` of the evidence for ``key`` in this row (the row itself when the key is
        not in it, or is None)."""
        if not self.key_places:
            return self.file, self.line, self.column
        found = self.key_places.get(key) if key is not None else None
        file, line = found or next(iter(self.key_places.values()))
        return file, line, None


@dataclass(frozen=True)
class Setting:
    """A training argument a source recorded (W&B config, TensorBoard ``args`` text, MLflow params)."""

    source: Source
    file: str
    name: str
    value: Any


SETTING_NAMES = frozenset({"metric_for_best_model", "output_dir", "logging_nan_inf_filter"})


@dataclass
class Entries:
    """Per-key entries in bulk (numpy arrays, one element per entry): the entry's key is ``names[keys[i]]``,
    stored as ``tag_names[tags[i]]``."""

    steps: Any
    keys: Any
    tags: Any
    values: Any
    offsets: Any
    wall_times: Any
    names: list[str]
    tag_names: list[str]


@dataclass
class RowSplitter:
    """Rebuilds logged rows from per-key entries (TensorBoard scalars, MLflow metrics).

    Entries of one ``Trainer.log`` call arrive together with one step (and, for MLflow, one
    timestamp); a new row starts when the step or group changes, when a key repeats, or after a
    ``last_keys`` entry: ``Trainer.log`` appends ``epoch`` to every row, so in sources that keep the
    logging order (TensorBoard) it closes the row.
    """

    source: Source
    file: str
    last_keys: frozenset[str] = frozenset()
    index: int = 0
    _step: int | None = None
    _group: Any = None
    _values: dict[str, Any] = field(default_factory=dict)
    _logger_keys: dict[str, str] = field(default_factory=dict)
    _offset: int | None = None
    _wall_time: float | None = None
    _places: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add(
        self,
        step: int | None,
        key: str,
        value: Any,
        *,
        stored_as: str | None = None,
        group: Any = None,
        offset: int | None = None,
        wall_time: float | None = None,
        place: tuple[str, int] | None = None,
    ) -> LogRow | None:
        """Add one entry (``place``: the file and line it was read from, when each key has its own file);
        returns the row it completed, if any."""
        done = None
        if self._values and (step != self._step or group != self._group or key in self._values):
            done = self.flush()
        if not self._values:
            self._step, self._group, self._offset, self._wall_time = step, group, offset, wall_time
        self._values[key] = value
        if stored_as is not None:
            self._logger_keys[key] = stored_as
        if place is not None:
            self._places[key] = place
        if key in self.last_keys:
            return done or self.flush()
        return done

    def add_many(self, entries: Entries) -> list[LogRow]:
        """Add many entries at once (no group, no places: TensorBoard scalars); returns the rows they
        complete, exactly the rows :meth:`add` one by one would. The rows that only whole entries of
        ``entries`` make are built from arrays; the row in progress at either end goes through :meth:`add`,
        and so does everything when two entries of a row have one key or an ``epoch`` begins a row."""
        import numpy as np

        rows: list[LogRow] = []
        count = len(entries.steps)
        steps, keys, tags = entries.steps.tolist(), entries.keys.tolist(), entries.tags.tolist()
        values, offsets, wall_times = entries.values.tolist(), entries.offsets.tolist(), entries.wall_times.tolist()

        def one_by_one(first: int, last: int) -> None:
            for at in range(first, last):
                row = self.add(
                    steps[at],
                    entries.names[keys[at]],
                    values[at],
                    stored_as=entries.tag_names[tags[at]],
                    offset=offsets[at],
                    wall_time=wall_times[at],
                )
                if row is not None:
                    rows.append(row)

        begin = 0
        while begin < count and self._values:  # the row in progress before these entries
            one_by_one(begin, begin + 1)
            begin += 1
        if begin == count:
            return rows
        closing = np.array([name in self.last_keys for name in entries.names], dtype=bool)[entries.keys[begin:]]
        step = entries.steps[begin:]
        changed = np.concatenate([[False], step[1:] != step[:-1]])
        closed = np.concatenate([[True], closing[:-1]])  # the entry before closed its row
        flushed = ~closed & changed
        starts = closed | flushed
        row_of = np.cumsum(starts) - 1
        pairs = np.sort(row_of * len(entries.names) + entries.keys[begin:])
        if (closing & flushed).any() or (pairs[1:] == pairs[:-1]).any():
            one_by_one(begin, count)
            return rows
        first = np.flatnonzero(starts) + begin
        last = np.append(first[1:], count)
        whole = len(first) if closing[-1] else len(first) - 1
        shapes: dict[tuple[int, ...], tuple[tuple[str, ...], dict[str, str]]] = {}
        for start, stop in zip(first[:whole].tolist(), last[:whole].tolist()):
            shape = tuple(tags[start:stop])
            known = shapes.get(shape)
            if known is None:
                names = tuple(entries.names[key] for key in keys[start:stop])
                known = shapes[shape] = (names, dict(zip(names, (entries.tag_names[tag] for tag in shape))))
            rows.append(
                LogRow(
                    self.source,
                    self.file,
                    self.index,
                    steps[start],
                    dict(zip(known[0], values[start:stop])),
                    known[1],
                    offsets[start],
                    wall_times[start],
                )
            )
            self.index += 1
        if whole < len(first):
            one_by_one(int(first[whole]), count)
        return rows

    def flush(self) -> LogRow | None:
        if not self._values:
            return None
        places = self._places or None
        row = LogRow(
            self.source,
            next(iter(places.values()))[0] if places else self.file,
            self.index,
            self._step,
            self._values,
            self._logger_keys or None,
            self._offset,
            self._wall_time,
            key_places=places,
        )
        self.index += 1
        self._values, self._logger_keys, self._places = {}, {}, {}
        return row


def trainer_key(stored: str) -> str | None:
    """Undo ``rewrite_logs``: ``train/x -> x``, ``eval/x -> eval_x``, ``test/x -> test_x``.

    Keys in no Trainer section were not logged through the Trainer callbacks: ``None``.
    """
    section, sep, name = stored.partition("/")
    if not sep or not name:
        return None
    if section == "train":
        return name
    if section == "eval":
        return EVAL_PREFIX + name
    if section == "test":
        return TEST_PREFIX + name
    return None
