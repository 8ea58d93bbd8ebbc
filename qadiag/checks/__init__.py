"""THE registry of checks: every diagnosis qadiag can run, what kind it is, and which probe it belongs to.

The pytest items and their order, ``--probes`` (``qadiag train``, ``[tool.qadiag] probes``), the help
texts, :func:`qadiag.attach`, crash ownership and the README table all derive from :data:`CHECKS`.
A new check is one module and one entry here::

    Check("overfit", probe="output-capture", kind=Kind.EXPERIMENT, codes=("QD403",),
          target="qadiag.checks.overfit:check", summary="a few dozen steps on one batch must fit it")

Kinds:

- ``callback``: a :class:`~qadiag.probes.base.Probe` (a ``TrainerCallback``) attached to the run being
  diagnosed; it only observes. ``target`` names the Probe class.
- ``dataset``: runs the user's preprocessing on examples; no training. ``target(context) -> findings``.
- ``experiment``: short trainings of its own on a fresh copy of the setup (never the run being
  diagnosed). ``target(context) -> findings``.

A *probe* is what users select and what pytest shows as an item (``qadiag::loss-swap``); it groups one
or more checks. Importing this module is cheap (no torch, no transformers).
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qadiag.errors import UnknownCheckError
from qadiag.findings import CODES, Code


class Kind(str, enum.Enum):
    CALLBACK = "callback"
    DATASET = "dataset"
    EXPERIMENT = "experiment"


@dataclass(frozen=True)
class Check:
    name: str
    probe: str
    kind: Kind
    codes: tuple[str, ...]
    target: str  # "module:attribute" of the implementation, imported on first use
    summary: str
    tasks: tuple[str, ...] = ()  # the tasks it applies to; () means every task
    crash_methods: tuple[str, ...] = ()  # a crash in a user override of these methods is this probe's

    def applies_to(self, task: str) -> bool:
        return not self.tasks or task in self.tasks

    def load(self) -> Any:
        module, attribute = self.target.split(":")
        return getattr(importlib.import_module(module), attribute)


CHECKS: list[Check] = [
    Check(
        "alignment",
        probe="alignment",
        kind=Kind.DATASET,
        codes=("QD501", "QD502", "QD503", "QD504"),
        target="qadiag.checks.alignment:check",
        summary="QA feature labels (start/end positions) that don't cover the answer, or don't point at CLS when the "
        "answer is outside the window, on bundled and generated examples (a failing one shrunk by hypothesis)",
        tasks=("qa",),
    ),
    Check(
        "output-capture",
        probe="output-capture",
        kind=Kind.CALLBACK,
        codes=("QD401", "QD402", "QD404", "QD405"),
        target="qadiag.probes.output_capture:OutputCaptureProbe",
        summary="decoded sample predictions next to the gold span every N steps (`samples.jsonl`, console, W&B "
        "Table, TensorBoard text); no logits; gold spans that don't decode to the answer; your own decoder "
        "disagreeing with the logits",
    ),
    Check(
        "overfit",
        probe="output-capture",
        kind=Kind.EXPERIMENT,
        codes=("QD403",),
        target="qadiag.checks.overfit:check",
        summary="a model that can't overfit one small batch in a few dozen steps",
    ),
    Check(
        "loss-swap",
        probe="loss-swap",
        kind=Kind.CALLBACK,
        codes=("QD301", "QD302", "QD303", "QD304", "QD305", "QD306", "QD308", "QD309", "QD310", "QD311"),
        target="qadiag.probes.loss_swap:LossSwapProbe",
        summary="the loss backpropagated is not the loss you declared; a `compute_loss` override that returns the "
        "model's built-in loss; no gradient path; override signatures that break on the installed transformers; "
        "settings that never take effect; processes launched by `torchrun` that the Trainer does not distribute",
        crash_methods=("compute_loss", "training_step", "forward"),
    ),
    Check(
        "gradient-accumulation",
        probe="loss-swap",
        kind=Kind.EXPERIMENT,
        codes=("QD307",),
        target="qadiag.checks.gradient_accumulation:check",
        summary="gradient-accumulation loss inflation (the logged loss must not change with "
        "`gradient_accumulation_steps` at learning rate 0)",
    ),
    Check(
        "log-keys",
        probe="log-keys",
        kind=Kind.CALLBACK,
        codes=("QD101", "QD102", "QD103", "QD104", "QD105", "QD107", "QD108"),
        target="qadiag.probes.log_keys:LogKeysProbe",
        summary="metrics outside their namespace (`exact_match` filed as `train/exact_match`), `val_`/`eval-`/`eval/` "
        "prefixes, partially prefixed dicts, collisions, metrics `evaluate()` returned but never logged",
        crash_methods=("log",),
    ),
    Check(
        "eval-loss",
        probe="eval-loss",
        kind=Kind.CALLBACK,
        codes=("QD201", "QD202", "QD203", "QD204", "QD205", "QD206"),
        target="qadiag.probes.eval_loss:EvalLossProbe",
        summary="no `eval_loss` (and *why*: no label columns, empty `label_names`, `remove_unused_columns`, a custom "
        "`evaluate()` dropping it), NaN eval loss, eval loss on a different objective, `metric_for_best_model` "
        "missing, NaN training loss hidden by `logging_nan_inf_filter`",
        crash_methods=("evaluate", "predict", "prediction_step", "evaluation_loop", "prediction_loop"),
    ),
    Check(
        "eval-loss-with-labels",
        probe="eval-loss",
        kind=Kind.EXPERIMENT,
        codes=("QD201", "QD207"),  # and a crash finding when evaluate() crashes there
        target="qadiag.checks.eval_loss_with_labels:check",
        summary="whether eval loss flows once validation features carry labels (run_qa.py-style features carry "
        "none): an evaluate() that drops it, a legacy prediction_loop that crashes on it, compute_metrics left "
        "set inside the loop",
    ),
]


def register(check: Check, *new_codes: Code) -> Check:
    """Add a check from outside this module (a plugin's, or a test's), with the codes it introduces.

    Every code the check reports must be in ``qadiag.findings.CODES`` once ``new_codes`` are added;
    a new code's area is the check's probe.
    """
    if any(existing.name == check.name for existing in CHECKS):
        raise ValueError(f"a check named {check.name!r} is already registered")
    for code in new_codes:
        if code.code in CODES and CODES[code.code] != code:
            raise ValueError(f"{code.code} is already registered as {CODES[code.code]}")
        if code.area != check.probe:
            raise ValueError(f"{code.code} is in area {code.area!r}, the check's probe is {check.probe!r}")
    unknown = [code for code in check.codes if code not in CODES and code not in {c.code for c in new_codes}]
    if unknown:
        raise ValueError(f"check {check.name!r} reports unregistered codes {unknown}; pass them as new_codes")
    CODES.update({code.code: code for code in new_codes})
    CHECKS.append(check)
    return check


def probe_names() -> tuple[str, ...]:
    """Probe names in item order (the order their first check is registered in)."""
    return tuple(dict.fromkeys(check.probe for check in CHECKS))


def checks_of(probes: Iterable[str], *, kind: Kind | None = None, task: str | None = None) -> list[Check]:
    """The registered checks of the given probes (of one kind, applying to one task), in registry order."""
    wanted = set(probes)
    return [
        check
        for check in CHECKS
        if check.probe in wanted and (kind is None or check.kind is kind) and (task is None or check.applies_to(task))
    ]


def resolve(probes: str | Sequence[str]) -> list[str]:
    """``"all"``, ``"none"``, a comma-separated string or a list of probe names -> validated probe names."""
    if isinstance(probes, str):
        probes = [name.strip() for name in probes.split(",") if name.strip()]
    names = probe_names()
    if list(probes) == ["all"]:
        return list(names)
    if list(probes) in ([], ["none"]):
        return []
    unknown = [name for name in probes if name not in names]
    if unknown:
        raise UnknownCheckError(
            f"unknown probe(s) {', '.join(map(repr, unknown))}",
            fix=f"choose from {', '.join(names)} (or 'all' / 'none')",
        )
    return list(dict.fromkeys(probes))


def owner_of_crash(method: str | None) -> str | None:
    """The probe a crash in a user override of ``method`` belongs to."""
    return next((check.probe for check in CHECKS if method in check.crash_methods), None)


def markdown_table() -> str:
    """The README's table of probes: each probe, its checks (kind) and codes, what they catch."""
    rows = ["| probe | checks (kind) | codes | catches |", "| --- | --- | --- | --- |"]
    for probe in probe_names():
        members = [check for check in CHECKS if check.probe == probe]
        kinds = ", ".join(f"`{check.name}` ({check.kind.value})" for check in members)
        codes = ", ".join(sorted(code for check in members for code in check.codes))
        catches = "; ".join(check.summary for check in members)
        tasks = {task for check in members for task in check.tasks}
        only = f" ({', '.join(sorted(tasks))} only)" if tasks else ""
        rows.append(f"| `{probe}` | {kinds} | {codes} | {catches}{only} |")
    return "\n".join(rows)
