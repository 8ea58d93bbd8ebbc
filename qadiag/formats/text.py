"""The formats for people: ``full`` (grouped by run and source, with the fix) and ``concise`` (ruff's one line
per finding, ``path:line:col: CODE message``)."""

from __future__ import annotations

from collections.abc import Sequence

from qadiag.findings import Finding, Severity, sort_key
from qadiag.formats.escaping import escape
from qadiag.formats.locations import display_path, file_location

# Other sources of a grouped finding listed under it in the full format.
MAX_ALSO_IN = 10


def count_suffix(item: Finding) -> str:
    return f" (x{item.count})" if item.count > 1 else ""


def covered_sources(item: Finding) -> list[str]:
    """The sources a grouped finding covers besides its own (see :mod:`qadiag.audit.causes`)."""
    covers = item.evidence.get("covers")
    sources = covers.get("sources", []) if isinstance(covers, dict) else []
    return [source for source in sources if isinstance(source, str) and source != item.source]


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
            heading = " | ".join(escape(part) for part in this_group if part) or "(live run)"
            lines.append(f"== {heading}")
        step = f" step {item.step}" if item.step is not None else ""
        key = f" [{escape(item.key)}]" if item.key else ""
        if item.line is not None:
            place = f" line {item.line}"
        else:
            place = f" @byte {item.offset}" if item.offset is not None else ""
        head = f"{item.code} {item.severity.value:<7} {item.probe}{step}{key}{place}"
        lines.append(f"{head}: {escape(item.message)}{count_suffix(item)}")
        if show_fix and item.fix:
            lines.append(f"    fix: {escape(item.fix)}")
        others = covered_sources(item)
        if others:
            shown = ", ".join(escape(source) for source in others[:MAX_ALSO_IN])
            more = f" and {len(others) - MAX_ALSO_IN} more" if len(others) > MAX_ALSO_IN else ""
            lines.append(f"    also in: {shown}{more}")
    counts = {level: sum(1 for f in findings if f.severity is level) for level in Severity}
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} info"
    )
    return "\n".join(lines)


def format_concise(findings: Sequence[Finding]) -> str:
    """``path:line:col: CODE message`` per finding (line 1, column 1 for files without lines); nothing for
    no findings."""
    lines = []
    for item in sorted(findings, key=sort_key):
        location = file_location(item)
        line, column = (location.start_line, location.start_column) if location else (1, 1)
        lines.append(
            f"{escape(display_path(item))}:{line}:{column}: {item.code} {escape(item.message)}{count_suffix(item)}"
        )
    return "\n".join(lines)
