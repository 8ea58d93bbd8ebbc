"""Audits on every core: sources, and parts of large files, read in worker processes and merged in order.

Reading is CPU-bound Python, so the work goes to processes (``concurrent.futures.ProcessPoolExecutor``,
forked where the platform allows, so that workers start in milliseconds with qadiag already imported).
The work is sources, and parts of large files (:meth:`~qadiag.audit.readers.base.Reader.parts`); a task is
a run of them of about :func:`task_bytes` (many small sources go together, so that a directory of 200 runs
is not 600 round trips); results come back in order and are joined exactly as one process would have read them
(:func:`~qadiag.audit.pipeline.joined`); parts that do not join are read again whole. Below
:data:`PARALLEL_MIN_BYTES` of input the audit stays in this process: starting workers would cost more
than it saves.

What crosses between processes is qadiag's own data (sources, summaries, findings), pickled by the pool;
nothing read from a run directory is ever unpickled.

``jobs`` follows ``--jobs``: the number of processes; 0 means one per core this process may use.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from qadiag.audit import readers
from qadiag.audit.pipeline import PartAudit, ProgressSink, SourceResult, audit_part, audit_source, joined
from qadiag.audit.readers.base import Part
from qadiag.audit.records import Source

# Less input than this is read in this process.
PARALLEL_MIN_BYTES = 8 << 20
# A large file is cut into up to this many parts per worker, and the work into about this many tasks per
# worker: a worker slowed by another process on its core then holds up a small task, not half the audit.
PARTS_PER_WORKER = 4
# Largest task made of several small sources.
MAX_TASK_BYTES = 8 << 20


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(jobs: int) -> int:
    """``--jobs``: a number of processes, or 0 for one per available core."""
    return jobs if jobs > 0 else available_cores()


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


Unit = tuple[Source, Part | None]


def task_bytes(total: int, workers: int) -> int:
    """How much input one task of several small sources holds."""
    return max(1, min(MAX_TASK_BYTES, total // (workers * PARTS_PER_WORKER)))


def tasks(units: Sequence[Unit], size: int) -> list[list[Unit]]:
    """Consecutive units grouped into tasks of about ``size`` bytes (a part of a large file is one task)."""
    found: list[list[Unit]] = []
    held = size  # start a new task at once
    for source, part in units:
        weight = size if part is not None else source.size
        if held + weight > size and (not found or found[-1]):
            found.append([])
            held = 0
        found[-1].append((source, part))
        held += weight
    return found


def audit_units(units: Sequence[Unit]) -> list[PartAudit]:
    """One task, in a worker: its sources and parts, in order."""
    return [audit_part(source, part) for source, part in units]


def audit_sources(sources: Sequence[Source], jobs: int, progress: ProgressSink | None = None) -> list[SourceResult]:
    """Every source's summary and findings, in the order of ``sources``, read by ``jobs`` processes."""
    workers = worker_count(jobs)
    total = sum(source.size for source in sources)
    if workers < 2 or total < PARALLEL_MIN_BYTES:
        return [audit_source(source, progress) for source in sources]
    pieces = workers * PARTS_PER_WORKER
    plans = [readers.reader_for(source.kind).parts(source, pieces) or [None] for source in sources]
    units: list[Unit] = [(source, part) for source, plan in zip(sources, plans) for part in plan]
    grouped = tasks(units, task_bytes(total, workers))
    if len(grouped) < 2:
        return [audit_source(source, progress) for source in sources]
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    try:
        futures = [pool.submit(audit_units, task) for task in grouped]
        parts = (part for future in futures for part in future.result())
        results = []
        for source, plan in zip(sources, plans):
            result = joined([next(parts) for _ in plan])
            if result is None:  # the parts do not join exactly: read the source whole
                result = audit_source(source)
            if progress is not None:
                progress.finished(source)
            results.append(result)
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, what was not started is not started
    return results
