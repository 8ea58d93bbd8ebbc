"""Small helpers shared by the audit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qadiag.audit.readers import SourceKind, reader_for
from qadiag.audit.readers.base import ReadLog
from qadiag.audit.records import LogRow, Setting, Source
from qadiag.findings import Finding

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Read:
    rows: list[LogRow] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return sorted(item.code for item in self.findings)

    def values(self, key: str) -> list[tuple[int | None, object]]:
        return [(row.step, row.values[key]) for row in self.rows if key in row.values]


def source(kind: SourceKind, *files: Path, table_key: str | None = None) -> Source:
    return Source(kind, str(files[0]), tuple(files), files[0].parent, table_key)


def read_all(kind: SourceKind, *files: Path, table_key: str | None = None) -> Read:
    """Everything a reader yields for these files, and the findings it reported; fails on anything
    yielded that is not a row or a setting."""
    result = Read()
    log = ReadLog()
    for item in reader_for(kind).read(source(kind, *files, table_key=table_key), log):
        if isinstance(item, LogRow):
            result.rows.append(item)
        else:
            assert isinstance(item, Setting), item
            result.settings.append(item)
    result.findings = log.findings()
    return result


def only(pattern: str, directory: Path) -> Path:
    """The one file matching ``pattern`` below ``directory``, not through symlinks."""
    matches = [path for path in directory.rglob(pattern) if "latest-run" not in path.parts]
    assert len(matches) == 1, matches
    return matches[0]
