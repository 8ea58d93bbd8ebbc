"""Report formats for findings, one module each, and the one way the command line picks one.

- ``full`` (:mod:`~qadiag.formats.text`): for people, grouped by run and source, with the fix;
- ``concise``: ruff's ``path:line:col: CODE message``;
- ``json`` / ``json-lines`` (:mod:`~qadiag.formats.jsonout`): the findings' dicts;
- ``github`` (:mod:`~qadiag.formats.github`): workflow-command annotations;
- ``sarif`` (:mod:`~qadiag.formats.sarif`): SARIF 2.1.0 for GitHub code scanning;
- ``junit`` (:mod:`~qadiag.formats.junit`): JUnit XML;
- ``gitlab`` (:mod:`~qadiag.formats.gitlab`): GitLab Code Quality.

Every formatter takes the findings as they are (already grouped, see :mod:`qadiag.audit.grouping`) and
shows each one once, with its count. Every string from disk goes through
:func:`~qadiag.formats.escaping.escape` in every format; where a finding points is decided once, in
:mod:`~qadiag.formats.locations`. Formats meant for machines print nothing (or an empty document) when
there are no findings. A format's module is imported when it is used (:func:`render`): importing this
package costs the text formats only.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from qadiag.findings import Finding
from qadiag.formats.escaping import MAX_SHOWN, escape, safe
from qadiag.formats.text import format_concise, format_text

# name -> (module, function); the function takes the findings (and ``strict=`` where it says so).
FORMATS = {
    "full": ("text", "format_text"),
    "concise": ("text", "format_concise"),
    "json": ("jsonout", "format_json"),
    "json-lines": ("jsonout", "format_json_lines"),
    "github": ("github", "format_github"),
    "sarif": ("sarif", "format_sarif"),
    "junit": ("junit", "format_junit"),
    "gitlab": ("gitlab", "format_gitlab"),
}
# Formats whose output depends on --strict (which findings fail).
STRICT_AWARE = frozenset({"junit"})
# Earlier names of formats, still accepted.
ALIASES = {"text": "full"}


def render(name: str, findings: Sequence[Finding], *, strict: bool = False) -> str:
    """The findings in format ``name`` (one of :data:`FORMATS`)."""
    module, function = FORMATS[name]
    format_ = getattr(importlib.import_module(f"qadiag.formats.{module}"), function)
    return format_(findings, strict=strict) if name in STRICT_AWARE else format_(findings)


def __getattr__(name: str) -> object:
    """``format_json``, ``format_github``, ``format_statistics``... imported on first use."""
    modules = {function: module for module, function in FORMATS.values()} | {"format_statistics": "statistics"}
    if name in modules:
        return getattr(importlib.import_module(f"qadiag.formats.{modules[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALIASES", "FORMATS", "MAX_SHOWN", "escape", "format_concise", "format_text", "render", "safe"]
