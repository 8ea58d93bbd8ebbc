"""The one `Finding` type, the registry of finding codes, and the one way repeated findings merge.

Live probes and the offline auditor both produce `Finding`s through :func:`finding`, which looks the
code up in :data:`CODES` so that a code always carries the same area and default severity wherever
it is raised. A bug seen many times (every evaluation, every feature, every rank, every source) is
one finding with a ``count`` and its first few occurrences: :class:`FindingGroups` does that for the
probes, the datasets checks, the distributed gather and the auditor alike. Output formats live in
:mod:`qadiag.formats`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from qadiag.errors import UnknownCodeError


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
        "setup",
        ("QD001", E, "the trainer factory crashed or returned something that is not a Trainer"),
        ("QD002", E, "the preprocessing crashed while the datasets were built"),
    ),
    **_codes(
        "log-keys",
        ("QD101", E, "evaluation metric logged without its eval_/test_ prefix (filed under train/)"),
        ("QD102", E, "metric key with a wrong prefix or separator (val_, eval-, eval/, ...)"),
        ("QD103", E, "metrics dict prefixed only in part"),
        ("QD104", W, "two keys land on the same W&B/TensorBoard name"),
        ("QD105", W, "metric returned by evaluate()/predict() but never logged"),
        ("QD107", W, "metric logged as a non-number the loggers drop"),
        ("QD108", E, "compute_metrics is given but the evaluation reports none of its metrics"),
    ),
    **_codes(
        "eval-loss",
        ("QD201", E, "evaluation rows carry no eval loss"),
        ("QD202", E, "eval loss is NaN or infinite"),
        ("QD203", W, "eval loss is not the training objective evaluated on held-out data"),
        ("QD204", E, "metric_for_best_model is absent from the evaluation rows"),
        ("QD205", E, "training loss is NaN or infinite"),
        ("QD206", W, "non-finite training loss hidden by logging_nan_inf_filter"),
        ("QD207", E, "evaluate() leaves compute_metrics set inside evaluation_loop, which calls it on raw logits"),
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
        ("QD310", E, "a training setting that never takes effect (e.g. label smoothing on QA batches)"),
        ("QD311", W, "your code uses a transformers API that a supported line removed or changed"),
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
        ("QD909", E, "a link or special file (FIFO, socket, device) where a log is expected: not read"),
        ("QD910", E, "qadiag could not read this file: internal error (please report it)"),
        ("QD911", E, "a limit on the work per input was reached (nesting, depth, rows, time): the rest not read"),
        ("QD912", W, "a value that cannot be what the format says (a step that is not a whole number)"),
    ),
}


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
    count: int = field(default=1, compare=False)
    # 1-based line and column in ``source`` when it is a text file (trainer_state.json, an MLflow metric file)
    line: int | None = None
    column: int | None = None

    @property
    def title(self) -> str:
        return CODES[self.code].title

    @property
    def where(self) -> str:
        parts = []
        if self.source:
            if self.line is not None:
                parts.append(f"{self.source}:{self.line}")
            else:
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
        return {k: v for k, v in data.items() if v not in (None, {}, "") and not (k == "count" and v == 1)}

    def with_evidence(self, **evidence: Any) -> Finding:
        """The same finding with more evidence (the one way findings are amended)."""
        return replace(self, evidence={**self.evidence, **evidence})


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


def where_of(item: Finding) -> dict[str, Any]:
    """The location fields of a finding, for listing occurrences."""
    return {
        name: value
        for name in ("source", "line", "step", "key", "offset", "run")
        if (value := getattr(item, name)) is not None
    }


@dataclass
class _Group:
    first: Finding
    last: Finding
    count: int
    examples: list[Finding]
    tags: list[Any]


class FindingGroups:
    """Findings merged by identity (default: code, area, source, key): the first occurrence speaks for
    the group, with ``count``, the locations of the first ``max_examples`` occurrences and of the last,
    and, when ``tag_name`` is given, the distinct tags seen (e.g. the ranks that found it).

    Memory is bounded by the number of distinct identities times ``max_examples``, not by how often a
    finding repeats.
    """

    def __init__(self, *, max_examples: int = 3, tag_name: str | None = None) -> None:
        self.max_examples = max_examples
        self.tag_name = tag_name
        self._groups: dict[tuple, _Group] = {}

    @staticmethod
    def identity(item: Finding) -> tuple:
        return (item.code, item.probe, item.source, item.key)

    def add(self, item: Finding, *, identity: tuple | None = None, tag: Any = None) -> bool:
        """Add one occurrence; True when it starts a new group."""
        key = self.identity(item) if identity is None else identity
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = _Group(item, item, item.count, [item], [] if tag is None else [tag])
            return True
        group.count += item.count
        group.last = item
        if len(group.examples) < self.max_examples:
            group.examples.append(item)
        if tag is not None and tag not in group.tags:
            group.tags.append(tag)
        return False

    def extend(self, items: Iterable[Finding], *, tag: Any = None) -> None:
        for item in items:
            self.add(item, tag=tag)

    def merge(self, later: FindingGroups) -> None:
        """Add the groups of ``later`` (occurrences that came after all of these) as if each of its
        occurrences had been added here one by one: the same counts, first occurrences and last."""
        for key, theirs in later._groups.items():
            ours = self._groups.get(key)
            if ours is None:
                examples, tags = list(theirs.examples), list(theirs.tags)
                self._groups[key] = _Group(theirs.first, theirs.last, theirs.count, examples, tags)
                continue
            ours.count += theirs.count
            ours.last = theirs.last
            ours.examples.extend(theirs.examples[: self.max_examples - len(ours.examples)])
            ours.tags.extend(tag for tag in theirs.tags if tag not in ours.tags)

    def identities(self) -> list[tuple]:
        """The identities of the groups, in the order they were first seen."""
        return list(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def findings(self) -> list[Finding]:
        return [self._merged(group) for group in self._groups.values()]

    def _merged(self, group: _Group) -> Finding:
        evidence: dict[str, Any] = {}
        if self.tag_name is not None and group.tags:
            evidence[self.tag_name] = list(group.tags)
        if group.count > 1 and len(group.examples) > 1:
            evidence["occurrences"] = [where_of(example) for example in group.examples]
            if group.last is not group.examples[-1]:
                evidence["last_occurrence"] = where_of(group.last)
        if group.count == group.first.count and not evidence:
            return group.first
        return replace(group.first, count=group.count, evidence={**group.first.evidence, **evidence})
