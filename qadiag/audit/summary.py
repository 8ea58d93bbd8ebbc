"""What one source says, reduced to what the cross-source rules need.

A :class:`SourceSummary` keeps the step and value of ``loss``/``eval_loss`` (16 bytes each, in arrays) with
where each was read (the file, as change points; the line, for text files), the steps of evaluations (8
bytes each), a bounded set of evaluation keys, and the settings. An audit may hold tens of thousands of
them: slots, and a series only for a key the source logged.

Summaries of consecutive parts of one source merge (:meth:`SourceSummary.merge`) into exactly the summary of
the whole: a large file is read in parts, in parallel (:mod:`qadiag.audit.parallel`).
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from typing import Any

from qadiag.audit.records import LogRow, Setting, Source
from qadiag.namespaces import RowKind

# Evaluation keys kept per source for QD204 (a source with more has its list dropped, and QD204 is not judged).
MAX_EVAL_KEYS = 1024


@dataclass(slots=True)
class Series:
    """One key's logged values in order: step, value, and where each was read."""

    steps: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))
    lines: array = field(default_factory=lambda: array("q"))  # empty when the source's files have no lines
    # (index of the first entry read from a file, that file), one per change of file
    file_changes: list[tuple[int, str]] = field(default_factory=list)

    def add(self, step: int, value: float, file: str, line: int | None) -> None:
        changes = self.file_changes
        if not changes or (changes[-1][1] is not file and changes[-1][1] != file):
            changes.append((len(self.steps), file))
        if line is not None and not self.lines and self.steps:
            self.lines.frombytes(bytes(8 * len(self.steps)))  # earlier entries had no line: 0
        if line is not None or self.lines:
            self.lines.append(line or 0)
        self.steps.append(step)
        self.values.append(value)

    def place(self, index: int) -> tuple[str, int | None]:
        """The file and line (None when unknown) of entry ``index``."""
        at = bisect.bisect_right(self.file_changes, index, key=lambda change: change[0]) - 1
        line = self.lines[index] if self.lines else 0
        return self.file_changes[at][1], line or None

    def extend(self, later: Series) -> None:
        if later.lines and not self.lines:
            self.lines.frombytes(bytes(8 * len(self.steps)))
        if self.lines and not later.lines:
            self.lines.frombytes(bytes(8 * len(later.steps)))
        else:
            self.lines.extend(later.lines)
        offset = len(self.steps)
        for index, file in later.file_changes:
            if not self.file_changes or self.file_changes[-1][1] != file:
                self.file_changes.append((offset + index, file))
        self.steps.extend(later.steps)
        self.values.extend(later.values)


@dataclass(slots=True)
class SourceSummary:
    """What one source says, for the cross-source rules (see the module docstring)."""

    source: Source
    rows: int = 0
    min_step: int | None = None
    max_step: int | None = None
    first_file: str | None = None
    eval_steps: array = field(default_factory=lambda: array("q"))
    eval_keys: set[str] = field(default_factory=set)
    eval_keys_complete: bool = True
    series: dict[str, Series] = field(default_factory=dict)
    settings: dict[str, Setting] = field(default_factory=dict)

    def setting(self, item: Setting) -> None:
        self.settings.setdefault(item.name, item)

    def add(self, row: LogRow, kind: RowKind) -> None:
        if not self.rows:
            self.first_file = row.place()[0]
        self.rows += 1
        step = row.step
        if step is not None:
            if self.max_step is None or step > self.max_step:
                self.max_step = step
            if self.min_step is None or step < self.min_step:
                self.min_step = step
        if kind is RowKind.EVAL:
            self._evaluation(row.values, step)
            key = "eval_loss"  # an eval loss only from evaluation rows, a training loss only from others
        else:
            key = "loss"
        value = row.values.get(key)
        if step is None or value is None:
            return
        if type(value) is not float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return
            value = float(value)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        if row.key_places is None:
            series.add(step, value, row.file, row.line)
        else:
            file, line, _ = row.place(key)
            series.add(step, value, file, line)

    def _evaluation(self, values: dict[str, Any], step: int | None) -> None:
        if step is not None:
            self.eval_steps.append(step)
        if not self.eval_keys_complete:
            return
        for key in values:
            if key not in self.eval_keys:
                if len(self.eval_keys) >= MAX_EVAL_KEYS:
                    self._too_many_eval_keys()
                    return
                self.eval_keys.add(key)

    def _too_many_eval_keys(self) -> None:
        self.eval_keys_complete = False
        self.eval_keys = set()  # not judged any more: nothing to keep

    def evidence_file(self, key: str) -> str:
        """The file that holds ``key``'s values (an MLflow metric file, the log of a resumed part), else
        the file of the first row: a file, never a directory."""
        series = self.series.get(key)
        if series is not None and series.file_changes:
            return series.file_changes[0][1]
        return self.first_file or str(self.source.files[0])

    def merge(self, later: SourceSummary) -> None:
        """Add the summary of the part of the source read after this one."""
        if not later.rows and not later.settings:
            return
        if not self.rows:
            self.first_file = later.first_file
        self.rows += later.rows
        for bound, pick in (("min_step", min), ("max_step", max)):
            theirs = getattr(later, bound)
            if theirs is not None:
                ours = getattr(self, bound)
                setattr(self, bound, theirs if ours is None else pick(ours, theirs))
        self.eval_steps.extend(later.eval_steps)
        if self.eval_keys_complete:
            if not later.eval_keys_complete or len(self.eval_keys | later.eval_keys) > MAX_EVAL_KEYS:
                self._too_many_eval_keys()
            else:
                self.eval_keys |= later.eval_keys
        for key, series in later.series.items():
            if key in self.series:
                self.series[key].extend(series)
            else:
                self.series[key] = series
        for item in later.settings.values():
            self.setting(item)
