"""SARIF 2.1.0 as GitHub code scanning accepts it (``github/codeql-action/upload-sarif``).

What GitHub requires, and how this writes it: one run whose ``tool.driver`` names qadiag and lists a rule
(``reportingDescriptor``) for each code reported, with ``shortDescription``, ``fullDescription`` and
``help`` text from :mod:`qadiag.rules_doc` and ``defaultConfiguration.level``; each result has a ``ruleId``,
``level``, ``message.text`` and **at least one location** (GitHub rejects the whole upload otherwise), a
``physicalLocation`` whose ``artifactLocation.uri`` is a file (relative to the working directory when it
lies below it, percent-encoded; a ``file://`` URI otherwise) and a ``region.startLine`` (line 1 for files
without lines). A grouped finding's other files are ``relatedLocations``. ``partialFingerprints`` are
given, so the upload action does not try to hash binary log files.

A problem that concerns a directory (one that cannot be listed, or is nested too deep) has no file to
point at: it is a ``toolExecutionNotification`` of the run's invocation, not a result (a result without
a file location would make GitHub refuse the upload). A clean audit is a run with no results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from qadiag.findings import CODES, Finding, Severity, sort_key
from qadiag.formats.escaping import escape, safe
from qadiag.formats.locations import FileLocation, file_location, file_uri, is_directory, relative
from qadiag.formats.text import count_suffix, covered_sources

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# GitHub shows at most 10 locations per result: the primary one and 9 related.
MAX_RELATED = 9


def _physical(location: FileLocation) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": location.start_line}
    if location.column is not None:
        region["startColumn"] = location.column
    return {"artifactLocation": {"uri": file_uri(location.path)}, "region": region}


def _fingerprint(item: Finding, location: FileLocation) -> str:
    identity = "\0".join((item.code, location.path, item.key or ""))
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def rule(code: str) -> dict[str, Any]:
    """The reportingDescriptor of one code, from the code registry and the rule docs."""
    from qadiag.rules_doc import RULE_DOCS

    doc, registered = RULE_DOCS[code], CODES[code]
    return {
        "id": code,
        "shortDescription": {"text": registered.title},
        "fullDescription": {"text": doc.what},
        "help": {"text": doc.as_text(), "markdown": doc.as_markdown()},
        "defaultConfiguration": {"level": LEVELS[registered.severity]},
        "properties": {"tags": ["qadiag", registered.area]},
    }


def _result(item: Finding, location: FileLocation, rule_index: int) -> dict[str, Any]:
    message = f"{item.message}{count_suffix(item)} Fix: {item.fix}"
    result: dict[str, Any] = {
        "ruleId": item.code,
        "ruleIndex": rule_index,
        "level": LEVELS[item.severity],
        "message": {"text": escape(message)},
        "locations": [{"physicalLocation": _physical(location)}],
        "partialFingerprints": {"qadiagFinding/v1": _fingerprint(item, location)},
        "properties": safe(
            {name: value for name, value in item.to_dict().items() if name not in ("message", "fix", "title")}
        ),
    }
    others = [source for source in covered_sources(item) if not is_directory(source)][:MAX_RELATED]
    related = [FileLocation(relative(source), None, None) for source in others]
    if related:
        result["relatedLocations"] = [
            {"id": number, "physicalLocation": _physical(place), "message": {"text": "the same cause here"}}
            for number, place in enumerate(related, start=1)
        ]
    return result


def _notification(item: Finding) -> dict[str, Any]:
    return {
        "level": LEVELS[item.severity],
        "message": {"text": escape(f"{item.source}: {item.message}{count_suffix(item)} Fix: {item.fix}")},
        "descriptor": {"id": item.code},
    }


def format_sarif(findings: Sequence[Finding]) -> str:
    from qadiag import __version__

    located = []
    notifications = []
    for item in sorted(findings, key=sort_key):
        location = file_location(item)
        if location is None:
            notifications.append(_notification(item))
        else:
            located.append((item, location))
    codes = sorted({item.code for item, _ in located})
    index = {code: number for number, code in enumerate(codes)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "qadiag",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [rule(code) for code in codes],
            }
        },
        "results": [_result(item, location, index[item.code]) for item, location in located],
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "columnKind": "unicodeCodePoints",
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)
