"""GitLab Code Quality report (the ``codequality`` artifact): a JSON array of issues with ``description``,
``check_name``, ``fingerprint``, ``severity`` and ``location.path`` / ``location.lines.begin`` (line 1 for
files without lines). Paths are relative to the working directory, the repository root in CI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from qadiag.findings import Finding, Severity, sort_key
from qadiag.formats.escaping import escape
from qadiag.formats.locations import display_path, file_location
from qadiag.formats.text import count_suffix

SEVERITIES = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def _issue(item: Finding) -> dict:
    location = file_location(item)
    path = display_path(item)
    identity = "\0".join((item.code, path, item.key or "", str(item.step), item.run or ""))
    return {
        "description": escape(f"{item.code} {item.message}{count_suffix(item)} Fix: {item.fix}"),
        "check_name": item.code,
        "fingerprint": hashlib.md5(identity.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest(),
        "severity": SEVERITIES[item.severity],
        "location": {"path": escape(path), "lines": {"begin": location.start_line if location else 1}},
    }


def format_gitlab(findings: Sequence[Finding]) -> str:
    return json.dumps([_issue(item) for item in sorted(findings, key=sort_key)], indent=2)
