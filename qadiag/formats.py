"""Report formats for findings: text for people, JSON for tools, GitHub workflow annotations.

Every formatter takes the findings as they are (already grouped, see
:class:`qadiag.findings.FindingGroups`) and shows each one once, with its count.

Findings quote what came from disk (paths, keys, values), and run directories are untrusted input, so
every string goes through :func:`escape` in every format: no control character, ANSI escape or line
break reaches a terminal or a CI log raw, and no text from disk can start a workflow command. JSON
stays valid JSON (``NaN`` and infinities become strings).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from qadiag.findings import Finding, Severity, sort_key

# Longest string shown from one field; the rest is cut, and said so.
MAX_SHOWN = 4096
# C0 and C1 controls, DEL, the Unicode line and paragraph separators and bidirectional overrides
# (which make text read differently than it is), lone surrogates (from undecodable file names), and
# "##[", which opens a GitHub Actions command anywhere in a line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]|##\\[")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "##[": "##\\x5b"}


def _visible(match: re.Match[str]) -> str:
    text = match.group()
    named = _NAMED.get(text)
    if named is not None:
        return named
    code = ord(text)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` safe to print anywhere: control and invisible-direction characters as visible escapes
    (``\\x1b``, ``\\n``, ``\\u202e``), ``##[`` defused, at most ``limit`` characters of it."""
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit:,} more characters]"
    if text.isprintable() and "##[" not in text:
        return text
    return _UNSAFE.sub(_visible, text)


def _safe(value: Any) -> Any:
    """A finding's dict with every string escaped and every float JSON can hold."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {escape(str(key)): _safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return escape(str(value))


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
            heading = " | ".join(escape(part) for part in this_group if part) or "(live run)"
            lines.append(f"== {heading}")
        step = f" step {item.step}" if item.step is not None else ""
        key = f" [{escape(item.key)}]" if item.key else ""
        offset = f" @byte {item.offset}" if item.offset is not None else ""
        head = f"{item.code} {item.severity.value:<7} {item.probe}{step}{key}{offset}"
        lines.append(f"{head}: {escape(item.message)}{_count(item)}")
        if show_fix and item.fix:
            lines.append(f"    fix: {escape(item.fix)}")
    counts = {level: sum(1 for f in findings if f.severity is level) for level in Severity}
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} info"
    )
    return "\n".join(lines)


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps([_safe(item.to_dict()) for item in sorted(findings, key=sort_key)], indent=2)


def _github_escape(text: str, *, property_value: bool = False) -> str:
    """The workflow-command encoding of a message (or of a property value), then :func:`escape` for the
    control characters that encoding leaves (the runner decodes ``%0A`` into the annotation, never into
    a new command)."""
    text = escape(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
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
        where = f" ({_github_escape(item.where)})" if item.where else ""
        body = f"{_github_escape(item.message)}{_count(item)}{where} Fix: {_github_escape(item.fix)}"
        lines.append(f"::{level[item.severity]} {','.join(props)}::{body}")
    return "\n".join(lines)


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
