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
