"""``--statistics``: how often each code was found, as ``ruff --statistics`` counts its rules."""

from __future__ import annotations

import json
from collections.abc import Sequence

from qadiag.findings import CODES, Finding


def counts(findings: Sequence[Finding]) -> list[dict]:
    """Per code, most frequent first: occurrences (a grouped finding counts each), findings, severity, title."""
    table: dict[str, dict] = {}
    for item in findings:
        row = table.get(item.code)
        if row is None:
            row = table[item.code] = {"code": item.code, "count": 0, "findings": 0}
            row.update(severity=item.severity.value, title=CODES[item.code].title)
        row["count"] += item.count
        row["findings"] += 1
    return sorted(table.values(), key=lambda row: (-row["count"], row["code"]))


def format_statistics(findings: Sequence[Finding], *, as_json: bool = False) -> str:
    rows = counts(findings)
    if as_json:
        return json.dumps(rows, indent=2)
    width = max((len(str(row["count"])) for row in rows), default=1)
    return "\n".join(f"{row['count']:>{width}}\t{row['code']}\t{row['severity']:<7}\t{row['title']}" for row in rows)
