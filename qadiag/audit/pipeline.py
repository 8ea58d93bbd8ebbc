"""From sources to findings: read each source once (or in parts, in parallel), streaming it through the row
rules, then group the sources into runs, apply the cross-source rules, and merge findings by cause.

A reader that fails on a file reports QD910 for that file and the audit goes on (see
:meth:`qadiag.audit.readers.base.ReadLog.reading`; a failure outside a reader's own guard is caught
here, per source). An error in the rules or here is a bug that stops the audit (exit 2).

A source read in parts (:meth:`~qadiag.audit.readers.base.Reader.parts`) is audited part by part, each from a
fresh start (:class:`SourceAudit`), and the parts are joined in order (:meth:`SourceAudit.absorb`): the
rules say what only the join shows, the findings and summaries merge. A source read whole is one part
joined to nothing, the same code. Parts that do not join exactly (reading problems in any of them, seams
that do not meet, more kinds of one finding than the bounds keep) are not used: the source is read
whole instead (:func:`joined`), so parallel and serial audits give the same report.

Findings are bounded whatever the input (:mod:`qadiag.audit.grouping`): per source, a code keeps at most
:data:`MAX_KEYS_PER_CODE` keys; over the report, a code keeps at most :data:`MAX_FINDINGS_PER_CODE` causes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from qadiag.audit import readers
from qadiag.audit.grouping import BoundedFindings, CauseGroups, NotMergeable, code_and_key
from qadiag.audit.readers.base import Part, ReadLog
from qadiag.audit.records import LogRow, Setting, Source
from qadiag.audit.rules import CROSS_SOURCE_RULES, MAX_CACHED_KEY_SETS, ROW_RULES
from qadiag.audit.runs import group_runs
from qadiag.audit.summary import SourceSummary
from qadiag.findings import Finding
from qadiag.namespaces import RowKind, infer_row_kind

MAX_KEYS_PER_CODE = 20
MAX_FINDINGS_PER_CODE = 50
PROGRESS_EVERY_RECORDS = 0x1000


class ProgressSink(Protocol):
    def update(self, source: Source, offset: int) -> None: ...

    def finished(self, source: Source) -> None: ...


class SourceAudit:
    """One source (or one part of it) checked row by row: the row rules, and the summary the cross-source
    rules need."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.summary = SourceSummary(source)
        self.rules = [make() for make in ROW_RULES]
        self.found = BoundedFindings(MAX_KEYS_PER_CODE, code_and_key)
        self._kinds: dict[tuple[str, ...], RowKind] = {}

    def row(self, row: LogRow) -> None:
        if not row.values:
            return
        keys = tuple(row.values)
        kind = self._kinds.get(keys)
        if kind is None:
            kind = infer_row_kind(keys)
            if len(self._kinds) < MAX_CACHED_KEY_SETS:
                self._kinds[keys] = kind
        self.summary.add(row, kind)
        for rule in self.rules:
            found = rule.check(row, kind)
            if found:
                self.found.extend(found)

    def absorb(self, later: SourceAudit) -> None:
        """Join the part read after everything absorbed so far (raises
        :class:`~qadiag.audit.grouping.NotMergeable` when its findings cannot be merged exactly)."""
        for mine, theirs in zip(self.rules, later.rules):
            self.found.extend(mine.seam(theirs))
        self.found.merge(later.found)
        self.summary.merge(later.summary)

    def finish(self) -> None:
        for rule in self.rules:
            self.found.extend(rule.finish())

    def drop_caches(self) -> None:
        """Forget what only speeds up reading (before this part is sent to another process)."""
        self._kinds.clear()


@dataclass
class PartAudit:
    """What reading one part of a source gave: its audit, the reading problems, where it began and ended."""

    source: Source
    audit: SourceAudit
    problems: list[Finding]
    start: Any
    stop: Any


@dataclass
class SourceResult:
    summary: SourceSummary
    findings: list[Finding]


def audit_part(source: Source, part: Part | None = None, progress: ProgressSink | None = None) -> PartAudit:
    """Read one source, or one part of it, through the row rules."""
    log = ReadLog()
    state = SourceAudit(source)
    reader = readers.reader_for(source.kind)
    records = reader.read(source, log) if part is None else reader.read(source, log, part)
    count = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as error:  # a reader failing outside its per-file guard: this source stops here
            log.file(log.current or source.name).crashed(error)
            break
        if record.__class__ is LogRow:
            state.row(record)
            count += 1
            if progress is not None and not count % PROGRESS_EVERY_RECORDS and record.offset is not None:
                progress.update(source, record.offset)
        elif isinstance(record, Setting):
            state.summary.setting(record)
        else:
            raise TypeError(
                f"the {source.kind} reader yielded a {type(record).__name__}; readers yield LogRow and Setting "
                "records and report problems into their ReadLog"
            )
    state.drop_caches()
    return PartAudit(source, state, log.findings(), log.seam.start, log.seam.stop)


def joined(parts: Sequence[PartAudit]) -> SourceResult | None:
    """A source's summary and findings from its parts, read in order; None when they do not join exactly
    (see the module docstring): read the source whole instead."""
    if len(parts) > 1:
        if any(part.problems for part in parts):
            return None
        if any(before.stop != after.start for before, after in pairwise(parts)):
            return None
    whole = SourceAudit(parts[0].source)
    try:
        for part in parts:
            whole.absorb(part.audit)
    except NotMergeable:
        return None
    whole.finish()
    problems = [item for part in parts for item in part.problems]
    return SourceResult(whole.summary, problems + whole.found.findings())


def audit_source(source: Source, progress: ProgressSink | None = None) -> SourceResult:
    """One source read whole, in this process."""
    result = joined([audit_part(source, None, progress)])
    if result is None:  # one part always joins: a bug
        raise AssertionError(f"the audit of {source.name} in one part did not join")
    if progress is not None:
        progress.finished(source)
    return result


@dataclass
class Audit:
    """The findings of an audit, and what it read: each source's summary, and the runs they make."""

    findings: list[Finding]
    summaries: list[SourceSummary]
    runs: dict[str, list[SourceSummary]]


def audit(
    sources: Sequence[Source],
    output_dirs: Sequence[Path],
    progress: ProgressSink | None = None,
    found_before: Iterable[Finding] = (),
    jobs: int = 1,
) -> Audit:
    """Every finding for the sources, each tagged with the run it belongs to, one per cause, bounded per
    code; ``found_before`` (discovery's findings) are merged with them. ``jobs``: processes to read with."""
    from qadiag.audit.parallel import audit_sources

    results = audit_sources(sources, jobs, progress)
    by_summary = {id(result.summary): result for result in results}
    report = CauseGroups(MAX_FINDINGS_PER_CODE)
    report.extend(found_before)
    summaries = [result.summary for result in results]
    runs = group_runs(summaries, output_dirs)
    for run, members in runs.items():
        for summary in members:
            report.extend((replace(item, run=run) for item in by_summary[id(summary)].findings), origin=summary.source)
        for rule in CROSS_SOURCE_RULES:
            report.extend(replace(item, run=run) for item in rule(members))
    return Audit(report.findings(), summaries, runs)
