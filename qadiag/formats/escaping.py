"""Every string that came from disk made safe to print, in one place.

Findings quote what came from disk (paths, keys, values), and run directories are untrusted input, so
every output format passes every string through :func:`escape`: no control character, ANSI escape or
line break reaches a terminal, a CI log or an XML file raw, and no text from disk can start a workflow
command. :func:`safe` does the same for a finding's whole dict, and keeps it valid JSON (``NaN`` and
infinities become strings).
"""

from __future__ import annotations

import math
import re
from typing import Any

# Longest string shown from one field; the rest is cut, and said so.
MAX_SHOWN = 4096
# C0 and C1 controls, DEL, the Unicode line and paragraph separators and bidirectional overrides
# (which make text read differently than it is), lone surrogates (from undecodable file names), the two
# noncharacters XML 1.0 forbids, and "##[", which opens a GitHub Actions command anywhere in a line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]|##\\[")
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


def safe(value: Any) -> Any:
    """A finding's dict (or any JSON-like value) with every string escaped and every float JSON can hold."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {escape(str(key)): safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return escape(str(value))
