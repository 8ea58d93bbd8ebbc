"""Report formats for findings: text for people, JSON for tools, GitHub workflow annotations.

Every formatter takes the findings as they are (already grouped, see
:class:`qadiag.findings.FindingGroups`) and shows each one once, with its count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from qadiag.findings import Finding, Severity, sort_key


def _count(item: Finding) -> str:
    return f" (x{item.count})" if item.count > 1 else ""


def format_text(findings: Sequence[Finding], *, show_fix: bool = True) -> str:
    """Human-readable report, grouped by run and source."""
    if not findings:
        return "no findings"
    lines: list[str] = []
    group = None
    for item in sorted(findings, key=sort_key):
        this_group = (item.run, item.source)
        if this_group != group:
            group = this_group
            heading = " | ".join(part for part in this_group if part) or "(live run)"
            lines.append(f"== {heading}")
        step = f" step {item.step}" if item.step is not None else ""
        key = f" [{item.key}]" if item.key else ""
        offset = f" @byte {item.offset}" if item.offset is not None else ""
        head = f"{item.code} {item.severity.value:<7} {item.probe}{step}{key}{offset}"
        lines.append(f"{head}: {item.message}{_count(item)}")
        if show_fix and item.fix:
            lines.append(f"    fix: {item.fix}")
    counts = {level: sum(1 for f in findings if f.severity is level) for level in Severity}
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} info"
    )
    return "\n".join(lines)


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps([item.to_dict() for item in sorted(findings, key=sort_key)], indent=2, default=str)


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands (``::error file=...,title=...::message``)."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for item in sorted(findings, key=sort_key):
        props = []
        if item.source:
            props.append(f"file={_github_escape(item.source, property_value=True)}")
        props.append(f"title={_github_escape(f'{item.code} {item.title}', property_value=True)}")
        where = f" ({item.where})" if item.where else ""
        body = f"{item.message}{_count(item)}{where} Fix: {item.fix}"
        lines.append(f"::{level[item.severity]} {','.join(props)}::{_github_escape(body)}")
    return "\n".join(lines)


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
