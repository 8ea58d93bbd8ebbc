"""How the audit's findings are merged, at two levels, whatever the input, with bounded memory.

**Within a source**, repeats of one finding (code and key) are one finding with a count and its first
occurrences (:class:`~qadiag.findings.FindingGroups`), and a code keeps at most ``max_per_code`` keys
(:class:`BoundedFindings`; the rest are counted in one more finding, with its first occurrences), so that
2 million misnamed keys give a few dozen findings, not millions.

**Over the whole report**, findings of one cause are one finding (:class:`CauseGroups`): the cause of a
finding is what fixing it takes (:func:`cause`). A metric logged without its prefix in 4 sources under 2
keys is one cause (``evaluate()`` does not prefix its metrics), not 8 findings; each cause keeps what it
covers (keys, files, runs, steps; ``evidence["covers"]``) and says so in its message. A code keeps at most
``max_per_code`` causes; the rest are counted in one more finding.

Causes, by code:

- the fix is the cause: QD101, QD103 (the namespace to prefix with), QD9xx (the kind of damage);
- the misnamed prefix: QD102 (``val_`` for ``val_f1`` and ``val_em``);
- the key: QD104, QD107, QD204 (a collision, a non-number metric, the metric named for the best model);
- the run (a property of one training): QD202, QD205, QD206, QD601, QD602, QD603;
- the code alone (one setting of the training code): QD201, QD105;
- anything else: the code, key and run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from qadiag.audit.records import Source
from qadiag.findings import Finding, FindingGroups
from qadiag.namespaces import misnamed

# How many keys, files, runs and steps a grouped finding lists.
MAX_COVERED = 20
MAX_STEPS_SHOWN = 10

_BY_FIX = frozenset({"QD101", "QD103"})
_BY_KEY = frozenset({"QD104", "QD107", "QD204"})
_BY_RUN = frozenset({"QD202", "QD205", "QD206", "QD601", "QD602", "QD603"})
_BY_CODE = frozenset({"QD201", "QD105"})


class NotMergeable(Exception):
    """Two bounded collections whose merge would not be what adding their findings one by one gives (a
    bound was reached in one of them): read the source in one piece instead."""


def cause(item: Finding) -> Hashable:
    """What fixing ``item`` takes: findings with the same cause are one finding (see the module docstring)."""
    code = item.code
    if code in _BY_FIX or code.startswith("QD9"):
        return code, item.fix
    if code == "QD102" and item.key:
        wrong = misnamed(item.key)
        if wrong is not None:
            return code, item.key[: len(item.key) - len(wrong.intended.split("_", 1)[1])]
    if code in _BY_KEY:
        return code, item.key
    if code in _BY_RUN:
        return code, item.run
    if code in _BY_CODE:
        return (code,)
    return code, item.key, item.run


def code_and_key(item: Finding) -> Hashable:
    return (item.code, item.key)


def _beyond_identity(code: str) -> Hashable:
    """The group of a code's occurrences past the bound."""
    return ("beyond", code)


class BoundedFindings:
    """Findings merged by ``identity`` (:class:`~qadiag.findings.FindingGroups`), at most ``max_per_code``
    groups of one code; the occurrences of that code past the bound are counted in one more finding."""

    def __init__(self, max_per_code: int, identity: Callable[[Finding], Hashable]) -> None:
        self.max_per_code = max_per_code
        self.identity = identity
        self._groups = FindingGroups()
        self._more = FindingGroups()
        self._kept: dict[str, set[Hashable]] = {}

    def add(self, item: Finding) -> Hashable:
        """Add one occurrence; returns the identity of the group it went to."""
        identity = self.identity(item)
        kept = self._kept.setdefault(item.code, set())
        if identity in kept or len(kept) < self.max_per_code:
            kept.add(identity)
            self._groups.add(item, identity=identity)
            return identity
        identity = _beyond_identity(item.code)
        self._more.add(item, identity=identity)
        return identity

    def extend(self, items: Iterable[Finding]) -> None:
        for item in items:
            self.add(item)

    def merge(self, later: BoundedFindings) -> None:
        """Add what ``later`` collected (findings that came after all of these), exactly as adding them one
        by one would; raises :class:`NotMergeable` where a bound makes that impossible to know."""
        ours_beyond, theirs_beyond = set(self._more.identities()), set(later._more.identities())
        for code, theirs in later._kept.items():
            ours = self._kept.get(code, set())
            beyond = _beyond_identity(code)
            if beyond in ours_beyond or (beyond in theirs_beyond and ours) or len(ours | theirs) > self.max_per_code:
                raise NotMergeable(f"{code}: more than {self.max_per_code} kinds of it")
        for code, theirs in later._kept.items():
            self._kept.setdefault(code, set()).update(theirs)
        self._groups.merge(later._groups)
        self._more.merge(later._more)

    def groups(self) -> list[tuple[Hashable, Finding]]:
        """``(identity, merged finding)`` per group, in the order first seen; the counted rest last."""
        kept = list(zip(self._groups.identities(), self._groups.findings()))
        beyond = zip(self._more.identities(), map(self._beyond, self._more.findings()))
        return kept + list(beyond)

    def findings(self) -> list[Finding]:
        return [item for _, item in self.groups()]

    def _beyond(self, item: Finding) -> Finding:
        return replace(
            item,
            message=f"more findings of this kind than the {self.max_per_code} listed (other keys, steps or "
            f"files); the first of them: {item.message}",
        )


@dataclass
class Coverage:
    """What the occurrences of one cause cover, bounded: keys, files, sources (a source is all the files of
    one log of a run, such as one W&B run or one MLflow run) and their kinds, runs, steps."""

    findings: int = 0
    keys: dict[str, None] = field(default_factory=dict)
    files: dict[str, None] = field(default_factory=dict)
    sources: dict[str, None] = field(default_factory=dict)
    kinds: dict[str, None] = field(default_factory=dict)
    runs: dict[str, None] = field(default_factory=dict)
    steps: set[int] = field(default_factory=set)
    capped: bool = False

    def add(self, item: Finding, origin: Source | None) -> None:
        self.findings += 1
        for listed, value in (
            (self.keys, item.key),
            (self.files, item.source),
            (self.sources, origin.name if origin else item.source),
            (self.kinds, origin.kind if origin else None),
            (self.runs, item.run),
        ):
            self._note(listed, value)
        steps = [item.step, *(place.get("step") for place in item.evidence.get("occurrences", ()))]
        steps.append(item.evidence.get("last_occurrence", {}).get("step"))
        for step in steps:
            if isinstance(step, int) and step not in self.steps:
                if len(self.steps) >= MAX_COVERED:
                    self.capped = True
                    break
                self.steps.add(step)

    def _note(self, listed: dict[str, None], value: str | None) -> None:
        if value is None or value in listed:
            return
        if len(listed) >= MAX_COVERED:
            self.capped = True
            return
        listed[value] = None

    def evidence(self) -> dict[str, Any]:
        covers: dict[str, Any] = {
            "keys": list(self.keys),
            "sources": list(self.files),
            "runs": list(self.runs),
            "steps": sorted(self.steps),
        }
        if self.capped:
            covers["capped_at"] = MAX_COVERED
        return covers

    def sentence(self) -> str:
        """``the same cause in 4 sources (trainer_state, wandb, ...); keys 'a', 'b'; steps 4, 8, 12``."""
        more = "+" if self.capped else ""
        parts = []
        if len(self.runs) > 1:
            parts.append(f"{len(self.runs)}{more} runs")
        if len(self.sources) > 1:
            kinds = f": {', '.join(self.kinds)}" if self.kinds else ""
            parts.append(f"{len(self.sources)}{more} sources{kinds}")
        if len(self.keys) > 1:
            parts.append("keys " + ", ".join(repr(key) for key in self.keys) + (", ..." if self.capped else ""))
        if len(self.steps) > 1:
            shown = sorted(self.steps)[:MAX_STEPS_SHOWN]
            parts.append("steps " + ", ".join(map(str, shown)) + (", ..." if len(self.steps) > len(shown) else ""))
        return "the same cause" + (f" in {'; '.join(parts)}" if parts else "")


class CauseGroups:
    """The report's findings, one per cause (see the module docstring), at most ``max_per_code`` causes of
    one code."""

    def __init__(self, max_per_code: int) -> None:
        self._groups = BoundedFindings(max_per_code, cause)
        self._coverage: dict[Hashable, Coverage] = {}

    def add(self, item: Finding, *, origin: Source | None = None) -> None:
        """Add a finding (itself perhaps the group of a source's repeats); ``origin``: the source it is
        about, when it is about one."""
        identity = self._groups.add(item)
        coverage = self._coverage.get(identity)
        if coverage is None:
            coverage = self._coverage[identity] = Coverage()
        coverage.add(item, origin)

    def extend(self, items: Iterable[Finding], *, origin: Source | None = None) -> None:
        for item in items:
            self.add(item, origin=origin)

    def findings(self) -> list[Finding]:
        found = []
        for identity, item in self._groups.groups():
            coverage = self._coverage[identity]
            if coverage.findings > 1:
                item = replace(
                    item,
                    message=f"{item.message} ({coverage.sentence()})",
                    evidence={**item.evidence, "covers": coverage.evidence()},
                )
            found.append(item)
        return found
