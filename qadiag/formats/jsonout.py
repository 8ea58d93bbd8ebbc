"""``json`` (one array) and ``json-lines`` (one object per line) of the findings' dicts, every string escaped."""

from __future__ import annotations

import json
from collections.abc import Sequence

from qadiag.findings import Finding, sort_key
from qadiag.formats.escaping import safe


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps([safe(item.to_dict()) for item in sorted(findings, key=sort_key)], indent=2)


def format_json_lines(findings: Sequence[Finding]) -> str:
    return "\n".join(json.dumps(safe(item.to_dict())) for item in sorted(findings, key=sort_key))
