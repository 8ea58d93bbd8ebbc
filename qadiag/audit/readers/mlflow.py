"""MLflow runs -> log rows: the file store (``mlruns/<exp>/<run>/``) and ``mlflow.db`` (sqlite).

File store: ``metrics/<key>`` files of ``timestamp value step`` lines (keys with ``/`` make
sub-directories), ``params/<name>`` files holding the value as text. ``mlflow.db``: tables ``metrics``
(``key, value, timestamp, step, is_nan, run_uuid``; NaN is stored as ``0`` with ``is_nan=1``,
infinities as +-``sys.float_info.max``) and ``params`` (``key, value, run_uuid``).

The MLflow callback logs each ``Trainer.log`` dict with one ``log_metrics`` call: one step, one
timestamp, the Trainer's own keys (no ``train/`` rewrite). Rows are rebuilt from entries sharing both.

File store: ``metrics/`` and ``params/`` are walked without following links (a ``metrics`` linked to
``/etc`` or ``/proc/self`` is reported, not entered). The per-key files are merged by timestamp, a
line at a time, and each file is open only while one block of it is read: however many metrics a run
has, one file is open at a time.

Database: never changed, and nothing is created next to it. Without a write-ahead log it is opened
``mode=ro&immutable=1`` (no lock, no journal, no ``-wal``/``-shm`` read or created). When an
``mlflow.db-wal`` holds content not yet checkpointed, the database and its log are copied into a
private temporary directory and the copy is opened, so rows that only the log holds are read. Only
real tables are queried (a view, recursive or not, and a virtual table are refused); every query runs
under a budget of VM steps and seconds (``set_progress_handler``) and of rows, with values limited in
length, and every value is checked for its type (steps stored as TEXT or REAL are data, not crashes).
"""

from __future__ import annotations

import heapq
import math
import os
import re
import shutil
import sqlite3
import stat
import sys
import tempfile
import time
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qadiag.audit.files import Entry, describe, files_below, open_regular
from qadiag.audit.readers.base import (
    DirectoryClaim,
    Layout,
    Problems,
    Reader,
    ReadLog,
    Record,
    describe_value,
    whole_step,
)
from qadiag.audit.records import SETTING_NAMES, LogRow, RowSplitter, Setting, Source

DATABASE = "mlflow.db"
MAX_LINE = 4096
MAX_PARAM = 8192
# Most metric files of one run read (each holds a stream of the merge).
MAX_METRIC_FILES = 10_000
# Asynchronous logging appends lines slightly out of timestamp order; this many per file are re-sorted
# (fewer when a run has many metric files, so that the merge's memory stays bounded).
REORDER_WINDOW = 256
REORDER_BUDGET = 1 << 16
# The parts of a file-store run: the walk does not look for other logs inside them.
RUN_PARTS = frozenset({"metrics", "params", "tags", "artifacts"})
SQLITE_MAGIC = b"SQLite format 3\x00"
# Per query: sqlite VM instructions between two checks, instructions and seconds allowed, rows read.
CHECK_EVERY = 10_000
MAX_INSTRUCTIONS = 50_000_000_000
MAX_QUERY_SECONDS = 60.0
MAX_RUNS = 10_000
MAX_PARAM_ROWS = 100_000
MAX_METRIC_ROWS = 100_000_000
# Longest string or blob sqlite may build for a value (a crafted zeroblob(1e9) is refused).
MAX_SQL_VALUE = 1 << 20
# Largest database + write-ahead log copied to read content only the log holds.
MAX_COPY = 1 << 30
_PARAM_WORDS = {"None": None, "True": True, "False": False}
# The tables listing runs needs, and reading one.
RUN_TABLES, METRIC_TABLES = ("runs",), ("metrics", "params")


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


def _read_block(path: Path, position: int) -> bytes:
    """``MAX_LINE`` bytes of ``path`` from ``position``; the file is open only for this read."""
    with open_regular(path) as handle:
        handle.seek(position)
        return handle.read(MAX_LINE)


def _lines(path: Path, problems: Problems) -> Iterator[tuple[int, int, bytes]]:
    """``(offset, line number, line)`` for each line of a metric file, each at most MAX_LINE bytes (longer
    ones are reported and skipped). Raises OSError when the file cannot be read."""
    position = line_start = 0
    number = 1
    line, overlong = b"", False
    while True:
        block = _read_block(path, position)
        if not block:
            if line and not overlong:
                yield line_start, number, line
            return
        pieces = block.split(b"\n")
        offset = position
        position += len(block)
        for index, piece in enumerate(pieces):
            if not overlong:
                line += piece
                if len(line) > MAX_LINE:
                    problems.corrupt(
                        f"metric line longer than {MAX_LINE} bytes", line_start, "skipped it", line=number, column=1
                    )
                    line, overlong = b"", True
            offset += len(piece)
            if index < len(pieces) - 1:  # the piece ended at a newline, and so did the line
                if not overlong:
                    yield line_start, number, line
                offset += 1
                number += 1
                line, overlong, line_start = b"", False, offset


def _metric_entries(path: Path, key: str, problems: Problems) -> Iterator[tuple[int, int, str, float, int]]:
    """``(timestamp, step, key, value, line number)`` per line of one metric file; problems for bad lines."""
    try:
        for offset, number, line in _lines(path, problems):
            fields = line.split()
            if not fields:
                continue
            try:
                timestamp, value = int(fields[0]), float(fields[1])
                step = int(fields[2]) if len(fields) > 2 else 0
            except (IndexError, ValueError):
                what = f"metric line {line[:40]!r} is not 'timestamp value step'"
                problems.corrupt(what, offset, "skipped it", line=number, column=1)
                continue
            if whole_step(timestamp) is None or whole_step(step) is None:
                problems.bad_value(
                    f"metric line {line[:40]!r} has a timestamp or step outside the 64-bit range loggers "
                    "write; skipped it",
                    offset=offset,
                    line=number,
                    column=1,
                )
                continue
            yield timestamp, step, key, value, number
    except OSError as error:
        problems.unreadable(error)


MetricEntry = tuple[int, int, str, float, int]


def _reordered(entries: Iterator[MetricEntry], window: int) -> Iterator[MetricEntry]:
    """A file's entries in timestamp order, re-sorted within a window of ``window`` entries."""
    heap: list[MetricEntry] = []
    for entry in entries:
        if len(heap) < window:
            heapq.heappush(heap, entry)
        else:
            yield heapq.heappushpop(heap, entry)
    while heap:
        yield heapq.heappop(heap)


def _real_directory(path: Path, log: ReadLog) -> bool:
    """Whether ``path`` is a directory to read (reported when it is a link or special file)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as error:
        log.directory(path).unreadable(error, what="the directory")
        return False
    if stat.S_ISDIR(mode):
        return True
    log.file(path).not_regular(describe(mode))
    return False


def _metric_files(metrics_dir: Path, log: ReadLog) -> list[Entry]:
    """The regular files below ``metrics/``, at most MAX_METRIC_FILES; links and special files reported."""
    if not _real_directory(metrics_dir, log):
        return []
    entries, problems = files_below(metrics_dir)
    for error in problems:
        log.directory(error.filename).unreadable(error, what="the directory")
    regular = []
    for entry in entries:
        if not entry.is_file:
            log.file(entry.path).not_regular(entry.what())
        elif len(regular) < MAX_METRIC_FILES:
            regular.append(entry)
    if len(regular) < sum(entry.is_file for entry in entries):
        log.directory(metrics_dir).over_budget(
            f"the run has more than {MAX_METRIC_FILES:,} metric files: only the first {MAX_METRIC_FILES:,} "
            "(in name order) were read",
            "a Trainer run logs a few dozen metrics: check what wrote the others",
        )
    return regular


def _merged_metrics(metrics_dir: Path, files: list[Entry], log: ReadLog) -> Iterator[MetricEntry]:
    """Every metric file's entries in timestamp order (a k-way merge: a line or two per file in memory)."""
    window = max(4, min(REORDER_WINDOW, REORDER_BUDGET // max(len(files), 1)))
    streams = [
        _reordered(_metric_entries(entry.path, _metric_key(metrics_dir, entry), log.file(entry.path)), window)
        for entry in files
    ]
    yield from heapq.merge(*streams)


def _metric_key(metrics_dir: Path, entry: Entry) -> str:
    """``metrics/eval/loss`` holds the key ``eval/loss``."""
    return entry.path.relative_to(metrics_dir).as_posix()


def _file_params(run_dir: Path, source: Source, log: ReadLog) -> Iterator[Setting]:
    params = run_dir / "params"
    if not _real_directory(params, log):
        return
    for name in sorted(SETTING_NAMES):
        path = params / name
        problems = log.file(path)
        try:
            with open_regular(path) as handle:
                text = handle.read(MAX_PARAM).decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        except OSError as error:
            problems.unreadable(error)
            continue
        yield Setting(source, str(path), name, param_value(text))


def _read_file_store(source: Source, log: ReadLog) -> Iterator[Record]:
    run_dir = source.files[0]
    yield from _file_params(run_dir, source, log)
    metrics_dir = run_dir / "metrics"
    files = _metric_files(metrics_dir, log)
    paths = {_metric_key(metrics_dir, entry): str(entry.path) for entry in files}
    splitter = RowSplitter(source, str(run_dir))
    for timestamp, step, key, value, line in _merged_metrics(metrics_dir, files, log):
        row = splitter.add(step, key, value, group=timestamp, wall_time=timestamp / 1000, place=(paths[key], line))
        if row is not None:
            yield row
    last = splitter.flush()
    if last is not None:
        yield last


# -- sqlite ---------------------------------------------------------------------------------------


class _Budget:
    """A progress handler that stops a query past its instruction or time budget."""

    def __init__(self) -> None:
        self.exceeded: str | None = None
        self.start()

    def start(self) -> None:
        self.calls, self.deadline, self.exceeded = 0, time.monotonic() + MAX_QUERY_SECONDS, None

    def __call__(self) -> int:
        self.calls += 1
        if self.calls * CHECK_EVERY > MAX_INSTRUCTIONS:
            self.exceeded = f"took more than {MAX_INSTRUCTIONS:,} sqlite steps"
        elif time.monotonic() > self.deadline:
            self.exceeded = f"took longer than {MAX_QUERY_SECONDS:g} s"
        return 1 if self.exceeded else 0


class _BudgetExceeded(Exception):
    pass


class _EmptyDatabase(sqlite3.DatabaseError):
    pass


def _copy(source: Path, target: Path) -> None:
    with open_regular(source) as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)


def _write_ahead_log(path: Path, problems: Problems | None) -> Path | None:
    """The ``-wal`` beside the database when it holds content to read; a link or special file there is
    ignored (sqlite would follow or block on it), and reported to ``problems`` if given."""
    wal = path.with_name(path.name + "-wal")
    try:
        info = os.lstat(wal)
    except OSError:
        return None
    mode, size = info.st_mode, info.st_size
    if not stat.S_ISREG(mode):
        if problems is None:
            return None
        problems.add(
            "QD909",
            f"{describe(mode)} stands where the database's write-ahead log ({wal.name}) is expected: it was not "
            "opened, and the database was read without it",
            "keep the logs themselves in the run directory",
        )
        return None
    if size == 0:
        return None
    if size + os.lstat(path).st_size > MAX_COPY:
        if problems is None:
            return None
        problems.over_budget(
            f"the database and its write-ahead log {wal.name} are larger than {MAX_COPY >> 20:,} MiB: the log "
            "was not read, so the newest rows (not yet checkpointed) may be missing",
            "checkpoint the database on the machine that ran it (open it with sqlite3 once) and audit again",
        )
        return None
    return wal


@contextmanager
def connect(path: Path, problems: Problems | None) -> Iterator[tuple[sqlite3.Connection, _Budget]]:
    """The database read-only, with a query budget, never changed; see the module docstring. What is
    wrong with its write-ahead log goes to ``problems`` (None: already reported when its runs were listed).

    Raises OSError (not a regular file...) and sqlite3.Error (not a database...).
    """
    with open_regular(path) as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if not head:
        raise _EmptyDatabase
    if head != SQLITE_MAGIC:
        raise sqlite3.DatabaseError(f"file is not a database (it starts with {head!r})")
    wal = _write_ahead_log(path, problems)
    with ExitStack() as cleanup:
        if wal is None:
            uri = f"file:{quote(os.fsencode(os.path.abspath(path)))}?mode=ro&immutable=1"
        else:
            private = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="qadiag-mlflow-"))
            copy = Path(private) / DATABASE
            _copy(path, copy)
            _copy(wal, copy.with_name(copy.name + "-wal"))
            uri = f"file:{quote(os.fsencode(copy))}?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
        try:
            connection.text_factory = lambda data: data.decode("utf-8", "replace")
            if hasattr(connection, "setlimit"):  # Python >= 3.11
                connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_SQL_VALUE)
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA query_only = ON")
            budget = _Budget()
            connection.set_progress_handler(budget, CHECK_EVERY)
            yield connection, budget
        finally:
            connection.close()


def _check_tables(connection: sqlite3.Connection, names: Sequence[str]) -> None:
    """Raise sqlite3.Error unless each name is a real table (not a view, not a virtual table)."""
    found: dict[str, tuple[str, str]] = {}
    for name, kind, sql in connection.execute(
        f"SELECT name, type, sql FROM sqlite_master WHERE lower(name) IN ({','.join('?' * len(names))})",
        [name.lower() for name in names],
    ):
        found[str(name).lower()] = (str(kind), str(sql or ""))
    for name in names:
        if name not in found:
            raise sqlite3.OperationalError(f"no such table: {name}")
        kind, sql = found[name]
        if kind != "table" or re.match(r"\s*create\s+virtual\b", sql, re.IGNORECASE):
            what = "a virtual table" if kind == "table" else f"a {kind}"
            raise _NotATable(f"{name!r} is {what}, not a table")


class _NotATable(sqlite3.DatabaseError):
    pass


def _rows(cursor: sqlite3.Cursor, budget: _Budget, limit: int) -> Iterator[tuple[Any, ...]]:
    """The cursor's rows, at most ``limit``; raises _BudgetExceeded past it or past the budget."""
    try:
        for count, row in enumerate(cursor):
            if count >= limit:
                raise _BudgetExceeded(f"returned more than {limit:,} rows")
            yield row
    except sqlite3.OperationalError:
        if budget.exceeded:
            raise _BudgetExceeded(budget.exceeded) from None
        raise


def _query(
    connection: sqlite3.Connection, budget: _Budget, sql: str, parameters: Sequence[Any], limit: int
) -> Iterator[tuple[Any, ...]]:
    budget.start()
    try:
        cursor = connection.execute(sql, parameters)
    except sqlite3.OperationalError:
        if budget.exceeded:
            raise _BudgetExceeded(budget.exceeded) from None
        raise
    return _rows(cursor, budget, limit)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def _report(error: Exception, problems: Problems, what: str) -> None:
    """The finding for a database that could not be listed or read."""
    message = str(error)
    if isinstance(error, _BudgetExceeded):
        problems.over_budget(
            f"a query on the database {message}: stopped there; {what} was not read",
            "an MLflow database this costly to read was crafted or is not MLflow's: audit a copy made with "
            "`sqlite3 mlflow.db .dump`, or the file store",
        )
    elif isinstance(error, OSError):
        problems.unreadable(error)
    elif isinstance(error, _EmptyDatabase):
        problems.empty("no MLflow run was stored in it")
    elif isinstance(error, _NotATable):
        problems.unsupported(
            f"{message}: audit-logs queries only real tables (a view can make a query run without end); "
            f"{what} was not read",
            "point the audit at the mlflow.db that MLflow itself wrote",
        )
    elif "file is not a database" in message and "starts with" in message:
        head = message.split("starts with ", 1)[1]
        problems.add(
            "QD908",
            f"this is not an MLflow sqlite database (mlflow.db): it starts with {head[:80]}",
            "point the audit at the run directory as the logger wrote it; a file renamed or overwritten "
            "with other content cannot be audited",
            offset=0,
        )
    elif "unable to open" in message:
        problems.unreadable(OSError(f"sqlite cannot open it ({message})"))
    elif "no such table" in message or "no such column" in message:
        problems.unsupported(
            f"not an MLflow tracking database ({message})",
            "point the audit at the mlflow.db that MLFLOW_TRACKING_URI named during training",
        )
    elif "too big" in message:
        problems.over_budget(
            f"a value in the database is longer than {MAX_SQL_VALUE:,} bytes; {what} was not read",
            "no MLflow value is this long: the database was crafted or damaged",
        )
    else:
        problems.corrupt(f"the database is damaged ({message})", 0, f"{what} was not read")


def list_runs(path: Path, problems: Problems) -> list[tuple[str, str]]:
    """``(run_uuid, name)`` of every run in an ``mlflow.db`` (at most MAX_RUNS); problems are reported
    and end the listing."""
    runs: list[tuple[str, str]] = []
    try:
        with connect(path, problems) as (connection, budget):
            _check_tables(connection, RUN_TABLES)
            for uuid, name in _query(connection, budget, "SELECT run_uuid, name FROM runs", (), MAX_RUNS):
                run_id = _text(uuid)
                if run_id:
                    runs.append((run_id, _text(name) or run_id))
    except (OSError, sqlite3.Error, _BudgetExceeded) as error:
        _report(error, problems, "the rest of the list of runs")
    return runs


def _database_value(value: Any, is_nan: Any) -> float | None:
    if is_nan:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return stored_float(float(value))
    try:
        return float(_text(value) or "")
    except ValueError:
        return None


def _read_database(source: Source, log: ReadLog) -> Iterator[Record]:
    path, run_uuid = source.files[0], source.table_key
    file = str(path)
    with log.reading(path) as problems:
        try:
            with connect(path, None) as (connection, budget):
                _check_tables(connection, METRIC_TABLES)
                for name, value in _query(
                    connection, budget, "SELECT key, value FROM params WHERE run_uuid = ?", (run_uuid,), MAX_PARAM_ROWS
                ):
                    name = _text(name)
                    if name in SETTING_NAMES:
                        yield Setting(source, file, name, param_value((_text(value) or "")[:MAX_PARAM]))
                columns = {str(row[1]) for row in connection.execute("PRAGMA table_info(metrics)")}
                nan_column = "is_nan" if "is_nan" in columns else "0"
                splitter = RowSplitter(source, file)
                rows = _query(
                    connection,
                    budget,
                    f"SELECT key, value, timestamp, step, {nan_column} FROM metrics WHERE run_uuid = ? "
                    "ORDER BY timestamp, step",
                    (run_uuid,),
                    MAX_METRIC_ROWS,
                )
                for key, value, timestamp, step, is_nan in rows:
                    row = _database_entry(splitter, problems, _text(key), value, timestamp, step, is_nan)
                    if row is not None:
                        yield row
                last = splitter.flush()
                if last is not None:
                    yield last
        except (OSError, sqlite3.Error, _BudgetExceeded) as error:
            _report(error, problems, f"the rest of MLflow run {run_uuid}")


def _database_entry(
    splitter: RowSplitter, problems: Problems, key: str | None, value: Any, timestamp: Any, step: Any, is_nan: Any
) -> LogRow | None:
    """Add one ``metrics`` row to the splitter (the row it completes, if any); values of the wrong type
    are reported."""
    number = _database_value(value, is_nan)
    if key is None or number is None:
        problems.bad_value(
            f"a metrics row of this run has key {describe_value(key)} and value {describe_value(value)}: "
            "not a metric; skipped it",
            key=key,
        )
        return None
    whole = whole_step(step)
    if whole is None and step is not None:
        problems.bad_value(
            f"{key!r} is stored with step {describe_value(step)}, not a whole number: read without a step",
            key=key,
        )
    moment = whole_step(timestamp)
    return splitter.add(
        whole, key, number, group=moment, wall_time=moment / 1000 if moment is not None else None
    )


# -- the reader -----------------------------------------------------------------------------------


class MlflowReader(Reader):
    """File-store runs (a directory with ``meta.yaml`` and ``metrics/``) and every run of an ``mlflow.db``."""

    kind = "mlflow"
    looked_for = "MLflow runs (mlruns/<experiment>/<run>/) and mlflow.db"
    file_names = re.compile(re.escape(DATABASE))

    def group(self, directory: Path, name: str) -> Hashable:
        return ("database", directory / name)

    def claim_directory(self, directory: Path, entries: Sequence[Entry]) -> DirectoryClaim | None:
        meta = any(entry.name == "meta.yaml" and not entry.is_dir for entry in entries)
        if meta and any(entry.name == "metrics" for entry in entries):
            return DirectoryClaim(group=("run", directory), skip=RUN_PARTS)
        return None

    def sources(self, groups: Mapping[Hashable, Sequence[Path]], layout: Layout, log: ReadLog) -> Iterator[Source]:
        for (what, path), _ in sorted(groups.items(), key=lambda item: (item[0][0] == "database", str(item[0][1]))):
            if what == "run":
                yield Source(self.kind, str(path), (path,), path)
                continue
            runs: list[tuple[str, str]] = []
            with log.reading(path) as problems:
                runs = list_runs(path, problems)
            for run_id, name in runs:
                # the run id comes from the file: quoted, it names a home below the database's directory
                home = path.parent / quote(run_id, safe="")
                yield Source(self.kind, f"{path} (MLflow run {name})", (path,), home, run_id)

    def read(self, source: Source, log: ReadLog) -> Iterator[Record]:
        """Rows of one MLflow run: a file-store run directory, or one run of an ``mlflow.db``."""
        if source.table_key is None:
            with log.reading(source.files[0], directory=True):
                yield from _read_file_store(source, log)
        else:
            yield from _read_database(source, log)


READER = MlflowReader()
