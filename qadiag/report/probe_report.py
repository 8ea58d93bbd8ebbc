"""``qadiag_report.json`` -> the findings, crash and run facts the report shows.

Two forms are read: schema version 1 (``schema_version``, ``versions``, ``task``, ``counts``,
``crash``, ``outputs``, ``settings``, written by ``qadiag train`` and ``pytest --qadiag``) and the
older ``{"probes": [...], "findings": [...]}``. The file is untrusted: every field is checked for its
type, anything else becomes a problem note, and strings are clipped so that one field cannot blow up
the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from qadiag.report.text import clip

PROBE_REPORT_FILE = "qadiag_report.json"
SCHEMA_VERSION = 1
MAX_FINDINGS = 200
MAX_SETTINGS = 100
MAX_TRACEBACK_LINES = 60
KEY_WIDTH = 120
VALUE_WIDTH = 300
MESSAGE_WIDTH = 2000
EVIDENCE_WIDTH = 1000
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class ReportedFinding:
    code: str
    probe: str
    severity: str
    title: str
    message: str
    fix: str
    where: str
    count: int
    evidence: str  # compact JSON, clipped; "" when there is none


@dataclass(frozen=True)
class Crash:
    code: str
    message: str
    location: str
    traceback: str


@dataclass
class ProbeReport:
    schema_version: int | None = None
    generated_by: str = ""
    task: str = ""
    run_dir: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    probes: list[str] = field(default_factory=list)
    findings: list[ReportedFinding] = field(default_factory=list)
    findings_left_out: int = 0
    crash: Crash | None = None
    outputs: dict[str, list[str]] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (problem, fix)

    def by_probe(self) -> dict[str, list[ReportedFinding]]:
        """Findings grouped by probe, the probes with errors first, each group most severe first."""
        groups: dict[str, list[ReportedFinding]] = {}
        for item in self.findings:
            groups.setdefault(item.probe, []).append(item)
        for items in groups.values():
            items.sort(key=lambda item: (_severity_rank(item.severity), item.code))
        return dict(sorted(groups.items(), key=lambda group: (_severity_rank(group[1][0].severity), group[0])))

    def severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for item in self.findings:
            counts[item.severity] = counts.get(item.severity, 0) + 1
        return counts


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _text(value: Any, width: int = VALUE_WIDTH) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return clip(text, width)


def _where(item: dict[str, Any]) -> str:
    parts = []
    if item.get("run") is not None:
        parts.append(f"run {_text(item['run'])}")
    if item.get("source") is not None:
        offset = f" at byte {_text(item['offset'])}" if item.get("offset") is not None else ""
        parts.append(f"{_text(item['source'])}{offset}")
    if item.get("step") is not None:
        parts.append(f"step {_text(item['step'])}")
    if item.get("key") is not None:
        parts.append(f"key {_text(item['key'])!r}")
    return ", ".join(parts)


def parse_finding(item: Any) -> ReportedFinding | None:
    if not isinstance(item, dict) or not isinstance(item.get("code"), str):
        return None
    count = item.get("count", 1)
    severity = _text(item.get("severity")).lower()
    return ReportedFinding(
        code=_text(item["code"], KEY_WIDTH),
        probe=_text(item.get("probe"), KEY_WIDTH) or "(no probe)",
        severity=severity if severity in SEVERITIES else "error",
        title=_text(item.get("title")),
        message=_text(item.get("message"), MESSAGE_WIDTH),
        fix=_text(item.get("fix"), MESSAGE_WIDTH),
        where=_where(item),
        count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1,
        evidence=_text(item["evidence"], EVIDENCE_WIDTH) if item.get("evidence") else "",
    )


def _crash(value: Any) -> Crash | None:
    if not isinstance(value, dict):
        return None
    raw = value.get("traceback")
    # The end of a traceback says where it crashed; indentation is kept, each line cut to a bounded width.
    lines = raw.splitlines()[-MAX_TRACEBACK_LINES:] if isinstance(raw, str) else []
    return Crash(
        code=_text(value.get("code"), KEY_WIDTH),
        message=_text(value.get("message"), MESSAGE_WIDTH),
        location=_text(value.get("location")),
        traceback="\n".join(line[:VALUE_WIDTH] for line in lines),
    )


def _outputs(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    outputs = {}
    for name, where in list(value.items())[:20]:
        paths = where if isinstance(where, list) else [where]
        shown = [_text(path) for path in paths[:20] if path is not None]
        if shown:
            outputs[_text(name, KEY_WIDTH)] = shown
    return outputs


def _strings(value: Any, limit: int) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {_text(key, KEY_WIDTH): _text(item) for key, item in list(value.items())[:limit]}


def parse_probe_report(data: dict[str, Any], relative: str = PROBE_REPORT_FILE) -> ProbeReport:
    """The report's view of ``qadiag_report.json`` (either form); what cannot be used is in ``problems``."""
    report = ProbeReport()
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool):
        report.schema_version = version
        if version > SCHEMA_VERSION:
            report.problems.append((
                f"{relative} has schema_version {version}; this qadiag reads version {SCHEMA_VERSION}, so only the "
                "fields it knows are shown",
                "upgrade qadiag to the version that wrote the run",
            ))
    report.generated_by = _text(data.get("generated_by"))
    report.task = _text(data.get("task"), KEY_WIDTH)
    report.run_dir = _text(data.get("run_dir"))
    report.versions = _strings(data.get("versions"), 20)
    probes = data.get("probes")
    report.probes = [_text(name, KEY_WIDTH) for name in probes[:50]] if isinstance(probes, list) else []
    report.crash = _crash(data.get("crash"))
    report.outputs = _outputs(data.get("outputs"))
    report.settings = _strings(data.get("settings"), MAX_SETTINGS)
    findings = data.get("findings", [])
    if not isinstance(findings, list):
        report.problems.append((
            f"{relative}: 'findings' is a {type(findings).__name__}, not a list; no findings are shown",
            "re-create the file by re-running qadiag train or pytest --qadiag",
        ))
        findings = []
    unusable = 0
    for item in findings:
        parsed = parse_finding(item)
        if parsed is None:
            unusable += 1
        elif len(report.findings) < MAX_FINDINGS:
            report.findings.append(parsed)
        else:
            report.findings_left_out += 1
    if unusable:
        report.problems.append((
            f"{relative}: {unusable} finding(s) are not objects with a 'code' string; they were left out",
            "re-create the file by re-running qadiag train or pytest --qadiag",
        ))
    return report


# -- writing (qadiag train, pytest --qadiag) ------------------------------------------------------------

# The training arguments a report shows (the ones that change what the curves and findings mean).
SETTINGS_SHOWN = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "label_smoothing_factor",
    "eval_strategy",
    "eval_steps",
    "logging_steps",
    "save_strategy",
    "metric_for_best_model",
    "load_best_model_at_end",
    "seed",
    "report_to",
)


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from qadiag import __version__

    found = {"qadiag": __version__, "python": platform.python_version()}
    for package in ("transformers", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _setting(value: Any) -> Any:
    value = getattr(value, "value", value)  # transformers' str enums
    return value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)


def probe_report_payload(
    *,
    generated_by: str,
    task: str,
    run_dir: str,
    probes: list[str],
    findings: list[Any],
    crash: Any = None,
    outputs: dict[str, Any] | None = None,
    args: Any = None,
) -> dict[str, Any]:
    """The schema-1 ``qadiag_report.json`` content (``findings``/``crash`` are :class:`qadiag.findings.Finding`)."""
    from qadiag.findings import Severity

    by_code: dict[str, int] = {}
    for item in findings:
        by_code[item.code] = by_code.get(item.code, 0) + 1
    crash_entry = None
    if crash is not None:
        crash_entry = {
            "code": crash.code,
            "message": crash.message,
            "location": crash.source or "",
            "traceback": crash.evidence.get("full_traceback") or crash.evidence.get("traceback") or "",
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_by": generated_by,
        "versions": _versions(),
        "task": task,
        "run_dir": run_dir,
        "probes": probes,
        "counts": {
            "severity": {level.value: sum(item.severity is level for item in findings) for level in Severity},
            "code": dict(sorted(by_code.items())),
        },
        "findings": [item.to_dict() for item in findings],
        "crash": crash_entry,
        "outputs": outputs or {},
        "settings": {name: _setting(getattr(args, name)) for name in SETTINGS_SHOWN if hasattr(args, name)},
    }


def write_probe_report(path: Any, payload: dict[str, Any]) -> Any:
    """Write ``payload`` to ``path`` (replaced at once: a reader never sees half a file)."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)
    return path
