"""MLflow runs -> log rows: the file store (``mlruns/<exp>/<run>/``) and ``mlflow.db`` (sqlite).

File store: ``metrics/<key>`` files of ``timestamp value step`` lines (keys with ``/`` make
sub-directories), ``params/<name>`` files holding the value as text. ``mlflow.db``: tables ``metrics``
(``key, value, timestamp, step, is_nan, run_uuid``; NaN is stored as ``0`` with ``is_nan=1``,
infinities as +-``sys.float_info.max``) and ``params`` (``key, value, run_uuid``).

The MLflow callback logs each ``Trainer.log`` dict with one ``log_metrics`` call: one step, one
timestamp, the Trainer's own keys (no ``train/`` rewrite). Rows are rebuilt from entries sharing both.
The file store's per-key files are merged by timestamp, one line at a time; the database is opened
read-only (``mode=ro``, ``immutable=1``) and streamed from a cursor.
"""

from __future__ import annotations

import heapq
import math
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from qadiag.audit.readers.base import Problems
from qadiag.audit.records import SETTING_NAMES, Item, RowSplitter, Setting, Source

MAX_LINE = 4096
MAX_PARAM = 8192
# Asynchronous logging appends lines slightly out of timestamp order; this many are re-sorted.
REORDER_WINDOW = 256
SQLITE_MAGIC = b"SQLite format 3\x00"
_PARAM_WORDS = {"None": None, "True": True, "False": False}


class DatabaseProblem(Exception):
    """A database that cannot be listed; carries the findings to report for it."""

    def __init__(self, findings: list[Any]) -> None:
        super().__init__(findings[0].message if findings else "unreadable database")
        self.findings = findings


def param_value(text: str) -> Any:
    """MLflow stores params as ``str(value)``: ``None``, ``True`` and ``False`` come back as such."""
    return _PARAM_WORDS.get(text, text)


def stored_float(value: float, is_nan: bool = False) -> float:
    """Undo MLflow's storage of non-finite values in the database."""
    if is_nan:
        return math.nan
    if abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value


# -- file store -----------------------------------------------------------------------------------


def _lines(handle: BinaryIO, problems: Problems) -> Iterator[tuple[int, bytes] | Any]:
    """Lines of a metric file, each at most MAX_LINE bytes (longer ones are reported and skipped)."""
    offset = 0
    while True:
        line = handle.readline(MAX_LINE)
        if not line:
            return
        start, offset = offset, offset + len(line)
        if not line.endswith(b"\n") and len(line) == MAX_LINE:
            while line and not line.endswith(b"\n"):
                line = handle.readline(MAX_LINE)
                offset += len(line)
            yield from problems.corrupt(f"metric line longer than {MAX_LINE} bytes", start, "skipped it")
            continue
        yield start, line


def _metric_entries(path: Path, key: str, problems: Problems) -> Iterator[Any]:
    """``(timestamp, step, key, value)`` per line of one metric file; findings for bad lines."""
    try:
        with open(path, "rb") as handle:
            for item in _lines(handle, problems):
                if not isinstance(item, tuple):
                    yield item
                    continue
                offset, line = item
                fields = line.split()
                try:
                    timestamp, value = int(fields[0]), float(fields[1])
                    step = int(fields[2]) if len(fields) > 2 else 0
                except (IndexError, ValueError):
                    if line.strip():
                        yield from problems.corrupt(
                            f"metric line {line[:40]!r} is not 'timestamp value step'", offset, "skipped it"
                        )
                    continue
                yield timestamp, step, key, value
    except OSError as error:
        yield from problems.unreadable(error)


def _merged_metrics(run_dir: Path, problems: Problems) -> Iterator[Any]:
    """Every metric file's entries in timestamp order (a k-way merge: one line per file in memory)."""
    metrics_dir = run_dir / "metrics"
    streams = []
    findings: list[Any] = []
    for path in sorted(metrics_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            key = path.relative_to(metrics_dir).as_posix()
            streams.append(_entries_only(_metric_entries(path, key, Problems(str(path))), findings))
    for entry in heapq.merge(*streams):
        yield from findings
        findings.clear()
        yield entry
    yield from findings


def _entries_only(entries: Iterator[Any], findings: list[Any]) -> Iterator[tuple[int, int, str, float]]:
    """A file's entries in timestamp order (re-sorted within a window), its findings set aside."""
    window: list[tuple[int, int, str, float]] = []
    for entry in entries:
        if not isinstance(entry, tuple):
            findings.append(entry)
        elif len(window) < REORDER_WINDOW:
            heapq.heappush(window, entry)
        else:
            yield heapq.heappushpop(window, entry)
    while window:
        yield heapq.heappop(window)


def _file_params(run_dir: Path, source: Source) -> Iterator[Item]:
    for name in sorted(SETTING_NAMES):
        path = run_dir / "params" / name
        problems = Problems(str(path))
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_PARAM).decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        except OSError as error:
            yield from problems.unreadable(error)
            continue
        yield Setting(source, str(path), name, param_value(text))


def _read_file_store(source: Source) -> Iterator[Item]:
    run_dir = source.files[0]
    file = str(run_dir)
    yield from _file_params(run_dir, source)
    splitter = RowSplitter(source, file)
    for entry in _merged_metrics(run_dir, Problems(file)):
        if not isinstance(entry, tuple):
            yield entry
            continue
        timestamp, step, key, value = entry
        row = splitter.add(step, key, value, group=timestamp, wall_time=timestamp / 1000)
        if row is not None:
            yield row
    last = splitter.flush()
    if last is not None:
        yield last


# -- sqlite ---------------------------------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    """Read-only, no locks, nothing written next to the file (no journal, no WAL)."""
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1", uri=True)


def _database_findings(error: sqlite3.Error, problems: Problems) -> list[Any]:
    message = str(error)
    if "not a database" in message:
        with open(problems.file, "rb") as handle:
            head = handle.read(16)
        if head != SQLITE_MAGIC:
            return list(problems.wrong_format("an MLflow sqlite database (mlflow.db)", head))
    if "unable to open" in message:
        return list(problems.unreadable(OSError(f"sqlite cannot open it ({message})")))
    if "no such table" in message or "no such column" in message:
        return list(
            problems.unsupported(
                f"not an MLflow tracking database ({message})",
                "point the audit at the mlflow.db that MLFLOW_TRACKING_URI named during training",
            )
        )
    return list(problems.corrupt(f"the database is damaged ({message})", 0, "its runs were not read"))


def list_runs(path: Path) -> list[tuple[str, str]]:
    """``(run_uuid, name)`` of every run in an ``mlflow.db``; raises DatabaseProblem."""
    problems = Problems(str(path))
    try:
        with open(path, "rb"):
            pass
        connection = connect(path)
        try:
            return [
                (str(uuid), str(name or uuid))
                for uuid, name in connection.execute("SELECT run_uuid, name FROM runs")
            ]
        finally:
            connection.close()
    except OSError as error:
        raise DatabaseProblem(list(problems.unreadable(error))) from None
    except sqlite3.Error as error:
        raise DatabaseProblem(_database_findings(error, problems)) from None


def _read_database(source: Source) -> Iterator[Item]:
    path, run_uuid = source.files[0], source.table_key
    file = str(path)
    problems = Problems(file)
    try:
        connection = connect(path)
    except sqlite3.Error as error:
        yield from _database_findings(error, problems)
        return
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(metrics)")}
        nan_column = "is_nan" if "is_nan" in columns else "0"
        for name, value in connection.execute(
            "SELECT key, value FROM params WHERE run_uuid = ?", (run_uuid,)
        ):
            if name in SETTING_NAMES:
                yield Setting(source, file, name, param_value(str(value)))
        splitter = RowSplitter(source, file)
        cursor = connection.execute(
            f"SELECT key, value, timestamp, step, {nan_column} FROM metrics WHERE run_uuid = ? "
            "ORDER BY timestamp, step",
            (run_uuid,),
        )
        for key, value, timestamp, step, is_nan in cursor:
            row = splitter.add(
                step,
                str(key),
                stored_float(float(value), bool(is_nan)),
                group=timestamp,
                wall_time=timestamp / 1000,
            )
            if row is not None:
                yield row
        last = splitter.flush()
        if last is not None:
            yield last
    except (sqlite3.Error, TypeError, ValueError) as error:
        yield from _database_findings(sqlite3.DatabaseError(str(error)), problems)
    finally:
        connection.close()


def read(source: Source) -> Iterator[Item]:
    """Rows of one MLflow run: a file-store run directory, or one run of an ``mlflow.db``."""
    if source.table_key is None:
        yield from _read_file_store(source)
    else:
        yield from _read_database(source)
