"""From sources to findings: read each source once, streaming it through the row rules, then group the
sources into runs and apply the cross-source rules, and bound what is reported.

A reader that fails on a file reports QD910 for that file and the audit goes on (see
:meth:`qadiag.audit.readers.base.ReadLog.reading`; a failure outside a reader's own guard is caught
here, per source). An error in the rules or here is a bug that stops the audit (exit 2).

Findings are bounded whatever the input: within a source, repeats of one finding (code and key) are one
finding with a count and its first occurrences (:class:`~qadiag.findings.FindingGroups`), and a code
keeps at most :data:`MAX_KEYS_PER_CODE` distinct keys; over the whole report a code keeps at most
:data:`MAX_FINDINGS_PER_CODE` findings. What goes past a bound is counted in one more finding of that
code, with its first occurrences, so that 2 million misnamed keys or 50,000 empty files give a few
dozen lines, not millions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from qadiag.audit import readers
from qadiag.audit.readers.base import ReadLog
from qadiag.audit.records import LogRow, Setting, Source
from qadiag.audit.rules import CROSS_SOURCE_RULES, MAX_CACHED_KEY_SETS, ROW_RULES, SourceSummary
from qadiag.audit.runs import group_runs
from qadiag.findings import Finding, FindingGroups
from qadiag.namespaces import RowKind, infer_row_kind

MAX_KEYS_PER_CODE = 20
MAX_FINDINGS_PER_CODE = 50
PROGRESS_EVERY_RECORDS = 0x1000


class ProgressSink(Protocol):
    def update(self, source: Source, offset: int) -> None: ...

    def finished(self, source: Source) -> None: ...


class BoundedFindings:
    """Findings merged by ``identity`` (:class:`~qadiag.findings.FindingGroups`), at most ``max_per_code``
    groups of one code; the occurrences of that code past the bound are counted in one more finding."""

    def __init__(self, max_per_code: int, identity: Callable[[Finding], Hashable]) -> None:
        self.max_per_code = max_per_code
        self.identity = identity
        self._groups = FindingGroups()
        self._more = FindingGroups()
        self._kept: dict[str, set[Hashable]] = {}

    def add(self, item: Finding) -> None:
        identity = self.identity(item)
        kept = self._kept.setdefault(item.code, set())
        if identity in kept or len(kept) < self.max_per_code:
            kept.add(identity)
            self._groups.add(item, identity=identity)
        else:
            self._more.add(item, identity=(item.code,))

    def extend(self, items: Iterable[Finding]) -> None:
        for item in items:
            self.add(item)

    def findings(self) -> list[Finding]:
        return self._groups.findings() + [self._beyond(item) for item in self._more.findings()]

    def _beyond(self, item: Finding) -> Finding:
        return replace(
            item,
            message=f"more findings of this kind than the {self.max_per_code} listed (other keys, steps or "
            f"files); the first of them: {item.message}",
        )


def _code_and_key(item: Finding) -> Hashable:
    return (item.code, item.key)


def _whole_finding(item: Finding) -> Hashable:
    return (item.code, item.run, item.source, item.key, item.step, item.offset, item.message)


class SourceAudit:
    """One source checked row by row: the row rules, and the summary the cross-source rules need."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.summary = SourceSummary(source)
        self.rules = [make() for make in ROW_RULES]
        self.found = BoundedFindings(MAX_KEYS_PER_CODE, _code_and_key)
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
            for item in rule.check(row, kind):
                self.found.add(item)

    def finish(self) -> None:
        for rule in self.rules:
            self.found.extend(rule.finish())
        self._kinds.clear()


def audit_source(source: Source, progress: ProgressSink | None = None) -> tuple[SourceSummary, list[Finding]]:
    """Read one source through the row rules: its summary, and its findings (reader problems first)."""
    log = ReadLog()
    state = SourceAudit(source)
    records = readers.reader_for(source.kind).read(source, log)
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
    state.finish()
    if progress is not None:
        progress.finished(source)
    return state.summary, log.findings() + state.found.findings()


def audit(
    sources: Sequence[Source],
    output_dirs: Sequence[Path],
    progress: ProgressSink | None = None,
    found_before: Iterable[Finding] = (),
) -> list[Finding]:
    """Every finding for the sources, each tagged with the run it belongs to, bounded per code;
    ``found_before`` (discovery's findings) are bounded with them."""
    summaries: list[SourceSummary] = []
    per_source: dict[int, list[Finding]] = {}
    for source in sources:
        summary, findings = audit_source(source, progress)
        summaries.append(summary)
        per_source[id(summary)] = findings
    report = BoundedFindings(MAX_FINDINGS_PER_CODE, _whole_finding)
    report.extend(found_before)
    for run, members in group_runs(summaries, output_dirs).items():
        for summary in members:
            report.extend(replace(item, run=run) for item in per_source[id(summary)])
        for rule in CROSS_SOURCE_RULES:
            report.extend(replace(item, run=run) for item in rule(members))
    return report.findings()
