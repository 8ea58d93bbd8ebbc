"""GitHub Actions workflow commands: one ``::error file=...,line=...,title=...::message`` per finding.

``file`` is always a file (relative to the working directory, the repository root in CI), never a
directory; ``line`` and ``col`` are given where the file has lines. Messages get the workflow-command
encoding (``%``, ``\\r``, ``\\n``; ``:`` and ``,`` too in properties) on top of :func:`escape`, so text from
disk is one annotation, never a second command.
"""

from __future__ import annotations

from collections.abc import Sequence

from qadiag.findings import Finding, Severity, sort_key
from qadiag.formats.escaping import escape
from qadiag.formats.locations import file_location
from qadiag.formats.text import count_suffix

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _github_escape(text: str, *, property_value: bool = False) -> str:
    """The workflow-command encoding of a message (or of a property value), then :func:`escape` for the
    control characters that encoding leaves (the runner decodes ``%0A`` into the annotation, never into
    a new command)."""
    text = escape(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(findings: Sequence[Finding]) -> str:
    """One workflow command per finding; nothing at all for no findings."""
    lines = []
    for item in sorted(findings, key=sort_key):
        props = []
        location = file_location(item)
        if location is not None:
            props.append(f"file={_github_escape(location.path, property_value=True)}")
            if location.line is not None:
                props.append(f"line={location.line}")
                if location.column is not None:
                    props.append(f"col={location.column}")
        props.append(f"title={_github_escape(f'{item.code} {item.title}', property_value=True)}")
        where = f" ({_github_escape(item.where)})" if item.where else ""
        body = f"{_github_escape(item.message)}{count_suffix(item)}{where} Fix: {_github_escape(item.fix)}"
        lines.append(f"::{LEVELS[item.severity]} {','.join(props)}::{body}")
    return "\n".join(lines)
