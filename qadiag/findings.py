"""The one `Finding` type, the registry of finding codes, and the report formatters.

Live probes and the offline auditor both produce `Finding`s through :func:`finding`, which looks the
code up in :data:`CODES` so that a code always carries the same area and default severity wherever
it is raised.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Code:
    code: str
    area: str
    severity: Severity
    title: str


def _codes(area: str, *rows: tuple[str, Severity, str]) -> dict[str, Code]:
    return {code: Code(code, area, severity, title) for code, severity, title in rows}


E, W = Severity.ERROR, Severity.WARNING

CODES: dict[str, Code] = {
    **_codes(
        "log-keys",
        ("QD101", E, "evaluation metric logged without its eval_/test_ prefix (filed under train/)"),
        ("QD102", E, "metric key with a wrong prefix or separator (val_, eval-, eval/, ...)"),
        ("QD103", E, "metrics dict prefixed only in part"),
        ("QD104", W, "two keys land on the same W&B/TensorBoard name"),
        ("QD105", W, "metric returned by evaluate()/predict() but never logged"),
        ("QD106", E, "an eval/test row that the loggers file under train/ only"),
        ("QD107", W, "metric logged as a non-number the loggers drop"),
    ),
    **_codes(
        "eval-loss",
        ("QD201", E, "evaluation rows carry no eval loss"),
        ("QD202", E, "eval loss is NaN or infinite"),
        ("QD203", W, "eval loss is not the training objective evaluated on held-out data"),
        ("QD204", E, "metric_for_best_model is absent from the evaluation rows"),
        ("QD205", E, "training loss is NaN or infinite"),
        ("QD206", W, "non-finite training loss hidden by logging_nan_inf_filter"),
    ),
    **_codes(
        "loss-swap",
        ("QD301", E, "the loss backpropagated is not the declared loss"),
        ("QD302", W, "overridden compute_loss returns the model's built-in loss on every batch"),
        ("QD303", E, "the loss has no gradient path to the trainable parameters"),
        ("QD304", E, "compute_loss override has a signature the installed transformers cannot call"),
        ("QD305", E, "log override has a signature the installed transformers cannot call"),
        ("QD306", E, "training_step override returns something other than the loss tensor"),
        ("QD307", W, "logged loss changes with gradient_accumulation_steps"),
        ("QD308", E, "training crashed inside the user's trainer code"),
        ("QD309", E, "several processes launched but the Trainer trains each one alone on all the data"),
    ),
    **_codes(
        "output-capture",
        ("QD401", E, "model outputs carry no recognisable logits"),
        ("QD402", E, "gold span does not decode to the answer text"),
        ("QD403", E, "predictions on an overfit batch never improve"),
        ("QD404", W, "no samples were captured during training"),
        ("QD405", E, "user sample decoder disagrees with the reference decoding"),
    ),
    **_codes(
        "alignment",
        ("QD501", E, "start/end positions do not cover the answer text"),
        ("QD502", E, "answer outside the window but labels do not point at CLS"),
        ("QD503", E, "end position before start position"),
        ("QD504", E, "preprocessing dropped or crashed on an example"),
    ),
    **_codes(
        "consistency",
        ("QD601", W, "global step goes backwards within a run (restart or resumed run)"),
        ("QD602", W, "a metric's values disagree between log sources"),
        ("QD603", W, "evaluation rows present in one log source but missing from another"),
    ),
    **_codes(
        "readers",
        ("QD901", E, "log file cannot be read"),
        ("QD902", W, "log file ends in a truncated record (killed run?)"),
        ("QD903", E, "corrupt record (checksum mismatch or bad framing)"),
        ("QD904", E, "malformed JSON"),
        ("QD905", E, "record claims an impossible length"),
        ("QD906", W, "unsupported file version or unknown record type"),
        ("QD907", W, "log file is empty"),
        ("QD908", E, "file is not in the format its name says"),
    ),
}


class UnknownCodeError(KeyError):
    pass


@dataclass(frozen=True)
class Finding:
    """One diagnosis: what is wrong, where, and how to fix it."""

    code: str
    probe: str
    severity: Severity
    message: str
    fix: str
    source: str | None = None
    step: int | None = None
    key: str | None = None
    offset: int | None = None
    run: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def title(self) -> str:
        return CODES[self.code].title

    @property
    def where(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source if self.offset is None else f"{self.source}@{self.offset}")
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.key:
            parts.append(f"key {self.key!r}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["title"] = self.title
        return {k: v for k, v in data.items() if v not in (None, {}, "")}


def finding(code: str, message: str, fix: str, *, severity: Severity | None = None, **where: Any) -> Finding:
    """Build a Finding whose area and default severity come from the code registry."""
    try:
        registered = CODES[code]
    except KeyError:
        raise UnknownCodeError(f"{code} is not in qadiag.findings.CODES; register it there first") from None
    return Finding(
        code=code,
        probe=registered.area,
        severity=severity or registered.severity,
        message=message,
        fix=fix,
        **where,
    )


def select(findings: Iterable[Finding], select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[Finding]:
    """Filter by code prefixes, ruff style: ``select=["QD1"]`` keeps QD1xx, ``ignore`` drops."""
    kept = []
    for item in findings:
        if select and not any(item.code.startswith(prefix) for prefix in select):
            continue
        if any(item.code.startswith(prefix) for prefix in ignore):
            continue
        kept.append(item)
    return kept


def is_failure(item: Finding, strict: bool = False) -> bool:
    return item.severity is Severity.ERROR or (strict and item.severity is Severity.WARNING)


def sort_key(item: Finding) -> tuple:
    return (item.run or "", item.source or "", -item.severity.rank, item.code, item.step or 0, item.key or "")


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
            heading = " | ".join(part for part in this_group if part) or "(live run)"
            lines.append(f"== {heading}")
        step = f" step {item.step}" if item.step is not None else ""
        key = f" [{item.key}]" if item.key else ""
        offset = f" @byte {item.offset}" if item.offset is not None else ""
        lines.append(f"{item.code} {item.severity.value:<7} {item.probe}{step}{key}{offset}: {item.message}")
        if show_fix and item.fix:
            lines.append(f"    fix: {item.fix}")
    counts = {level: sum(1 for f in findings if f.severity is level) for level in Severity}
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} info"
    )
    return "\n".join(lines)


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps([item.to_dict() for item in sorted(findings, key=sort_key)], indent=2, default=str)


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
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
        where = f" ({item.where})" if item.where else ""
        body = f"{item.message}{where} Fix: {item.fix}"
        lines.append(f"::{level[item.severity]} {','.join(props)}::{_github_escape(body)}")
    return "\n".join(lines)


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
