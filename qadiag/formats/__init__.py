"""Report formats for findings, one module each, and the registry the command line picks from.

- ``full`` (:mod:`~qadiag.formats.text`): for people, grouped by run and source, with the fix;
- ``concise``: ruff's ``path:line:col: CODE message``;
- ``json`` / ``json-lines`` (:mod:`~qadiag.formats.jsonout`): the findings' dicts;
- ``github`` (:mod:`~qadiag.formats.github`): workflow-command annotations;
- ``sarif`` (:mod:`~qadiag.formats.sarif`): SARIF 2.1.0 for GitHub code scanning;
- ``junit`` (:mod:`~qadiag.formats.junit`): JUnit XML;
- ``gitlab`` (:mod:`~qadiag.formats.gitlab`): GitLab Code Quality.

Every formatter takes the findings as they are (already grouped, see :mod:`qadiag.audit.causes`) and
shows each one once, with its count. Every string from disk goes through
:func:`~qadiag.formats.escaping.escape` in every format; where a finding points is decided once, in
:mod:`~qadiag.formats.locations`. Formats meant for machines print nothing (or an empty document) when
there are no findings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qadiag.findings import Finding
from qadiag.formats.escaping import MAX_SHOWN, escape, safe
from qadiag.formats.github import format_github
from qadiag.formats.gitlab import format_gitlab
from qadiag.formats.jsonout import format_json, format_json_lines
from qadiag.formats.junit import format_junit
from qadiag.formats.sarif import format_sarif
from qadiag.formats.statistics import format_statistics
from qadiag.formats.text import format_concise, format_text

Formatter = Callable[[Sequence[Finding], bool], str]


def _without_strict(format_: Callable[[Sequence[Finding]], str]) -> Formatter:
    """A format whose output does not depend on ``--strict``."""

    def render(findings: Sequence[Finding], strict: bool = False) -> str:
        return format_(findings)

    return render


def _junit(findings: Sequence[Finding], strict: bool = False) -> str:
    return format_junit(findings, strict=strict)


FORMATTERS: dict[str, Formatter] = {
    "full": _without_strict(format_text),
    "concise": _without_strict(format_concise),
    "json": _without_strict(format_json),
    "json-lines": _without_strict(format_json_lines),
    "github": _without_strict(format_github),
    "sarif": _without_strict(format_sarif),
    "junit": _junit,
    "gitlab": _without_strict(format_gitlab),
}
# Earlier names of formats, still accepted.
ALIASES = {"text": "full"}

__all__ = [
    "ALIASES",
    "FORMATTERS",
    "MAX_SHOWN",
    "escape",
    "format_concise",
    "format_github",
    "format_gitlab",
    "format_json",
    "format_json_lines",
    "format_junit",
    "format_sarif",
    "format_statistics",
    "format_text",
    "safe",
]
