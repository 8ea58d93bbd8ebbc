"""The audit's rules, as two lists.

:data:`ROW_RULES` run on every row of a source as it streams: each is a small class, instantiated once
per source, with ``check(row, kind)`` per row and ``finish()`` at the end of the source; the metric-key
rules are the probes' own (:func:`qadiag.namespaces.check_row`) and the loss rules are
:mod:`qadiag.loss_rules`, shared with the live ``eval-loss`` probe.

:data:`CROSS_SOURCE_RULES` run on the sources of one run (the same output dir, by location or by the
``output_dir`` a source recorded): each is a function of the runs' :class:`SourceSummary` objects, which
keep only what these rules need: the step and value of ``loss``/``eval_loss`` (16 bytes each, in arrays),
the steps of evaluations (8 bytes each), a bounded set of evaluation keys, and the settings.

A rule returns findings located at a row (:func:`located`); :mod:`qadiag.audit.pipeline` merges repeats.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from qadiag.audit import readers
from qadiag.audit.records import LogRow, Setting, Source
from qadiag.findings import Finding, finding
from qadiag.loss_rules import missing_eval_loss, non_finite_loss
from qadiag.namespaces import EVAL_PREFIX, RowKind, check_row

COMPARED_KEYS = ("loss", "eval_loss")
LOSS_KEYS = ("loss", "train_loss", "eval_loss")
# TensorBoard stores float32: agreement is judged at float32 precision.
RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE = 1e-5, 1e-8
_PLAIN_TYPES = frozenset({float, int, str, type(None)})
MAX_CACHED_KEY_SETS = 4096
# Evaluation keys kept per source for QD204 (a source with more has its list cut, and QD204 is not judged).
MAX_EVAL_KEYS = 1024


def located(template: Finding, row: LogRow, **evidence: Any) -> Finding:
    """``template`` placed at ``row``: its file, step and byte offset (plus evidence, if any)."""
    if evidence:
        evidence = {**template.evidence, **evidence}
        return replace(template, source=row.file, step=row.step, offset=row.offset, evidence=evidence)
    return replace(template, source=row.file, step=row.step, offset=row.offset)


class RowRule(Protocol):
    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]: ...

    def finish(self) -> Iterable[Finding]: ...


# -- row rules ------------------------------------------------------------------------------------


class MetricKeys:
    """QD1xx: the metric-key rules on every row; rows with the same keys and plain values share one result."""

    def __init__(self) -> None:
        self._checked: dict[tuple[str, ...], list[Finding]] = {}

    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]:
        keys = tuple(row.values)
        templates = self._checked.get(keys)
        if templates is None:
            templates = check_row(row.values, kind=kind)
            plain = _PLAIN_TYPES.issuperset(map(type, row.values.values()))
            if plain and len(self._checked) < MAX_CACHED_KEY_SETS:
                self._checked[keys] = templates
        if not templates:
            return ()
        return [self._at(template, row) for template in templates]

    @staticmethod
    def _at(template: Finding, row: LogRow) -> Finding:
        stored = row.logger_key(template.key) if template.key else None
        if stored and stored != template.key:
            return located(template, row, logger_key=stored)
        return located(template, row)

    def finish(self) -> Iterable[Finding]:
        self._checked.clear()
        return ()


class StepOrder:
    """QD601: the step goes backwards within a source (a restart, or a run resumed from an older checkpoint)."""

    def __init__(self) -> None:
        self.highest: int | None = None

    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]:
        step = row.step
        if step is None:
            return ()
        highest = self.highest
        if highest is None or step >= highest:
            self.highest = step
            return ()
        return (
            located(
                finding(
                    "QD601",
                    f"the step goes back from {highest} to {step}: the run was restarted or resumed "
                    "from an earlier checkpoint, so this source holds two histories for the same steps",
                    "audit each attempt separately (one output dir and logger run per attempt), or "
                    "resume with resume_from_checkpoint=<the latest checkpoint> so the history continues",
                ),
                row,
            ),
        )

    def finish(self) -> Iterable[Finding]:
        return ()


class EvalLossPresent:
    """QD201: every evaluation (its rows at one step: the Trainer's and those a custom evaluate() adds)
    carries an eval loss."""

    def __init__(self) -> None:
        self.first: LogRow | None = None
        self.has_loss = False

    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]:
        if kind is not RowKind.EVAL:
            return self.finish() if self.first is not None else ()
        done = self.finish() if self.first is not None and self.first.step != row.step else ()
        if self.first is None:
            self.first, self.has_loss = row, False
        self.has_loss |= "eval_loss" in row.values
        return done

    def finish(self) -> Iterable[Finding]:
        row, self.first = self.first, None
        if row is None or self.has_loss:
            return ()
        logged = ", ".join(sorted(key for key in row.values if key != "epoch"))
        return (located(missing_eval_loss(logged=logged), row),)


class LossFinite:
    """QD202 / QD205: no NaN or infinite eval or training loss."""

    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]:
        found: list[Finding] | tuple[()] = ()
        values = row.values
        for key in LOSS_KEYS:
            value = values.get(key)
            if value is None or (type(value) is float and value - value == 0.0):  # absent, or finite
                continue
            problem = non_finite_loss(key, value)
            if problem is not None:
                found = [*found, located(problem, row)]
        return found

    def finish(self) -> Iterable[Finding]:
        return ()


ROW_RULES: list[Callable[[], RowRule]] = [MetricKeys, StepOrder, EvalLossPresent, LossFinite]


# -- what one source says, for the cross-source rules -----------------------------------------------


@dataclass(slots=True)
class _Series:
    steps: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))


@dataclass(slots=True)
class SourceSummary:
    """What one source says, reduced to what the cross-source rules need (slots, and a series only for a
    key the source logged: an audit may hold tens of thousands of them)."""

    source: Source
    rows: int = 0
    min_step: int | None = None
    max_step: int | None = None
    eval_steps: array = field(default_factory=lambda: array("q"))
    eval_keys: set[str] = field(default_factory=set)
    eval_keys_complete: bool = True
    series: dict[str, _Series] = field(default_factory=dict)
    settings: dict[str, Setting] = field(default_factory=dict)

    def setting(self, item: Setting) -> None:
        self.settings.setdefault(item.name, item)

    def add(self, row: LogRow, kind: RowKind) -> None:
        self.rows += 1
        step = row.step
        if step is not None:
            if self.max_step is None or step > self.max_step:
                self.max_step = step
            if self.min_step is None or step < self.min_step:
                self.min_step = step
        if kind is RowKind.EVAL:
            self._evaluation(row.values, step)
            key = "eval_loss"  # an eval loss only from evaluation rows, a training loss only from others
        else:
            key = "loss"
        value = row.values.get(key)
        if step is None or value is None:
            return
        if type(value) is not float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return
            value = float(value)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _Series()
        series.steps.append(step)
        series.values.append(value)

    def _evaluation(self, values: dict[str, Any], step: int | None) -> None:
        if step is not None:
            self.eval_steps.append(step)
        if not self.eval_keys_complete:
            return
        for key in values:
            if key not in self.eval_keys:
                if len(self.eval_keys) >= MAX_EVAL_KEYS:
                    self.eval_keys_complete = False
                    return
                self.eval_keys.add(key)


# -- cross-source rules ---------------------------------------------------------------------------


def reference_first(summaries: Iterable[SourceSummary]) -> list[SourceSummary]:
    """Sources in registry order: the first registered reader's source is the reference."""
    order = {reader.kind: index for index, reader in enumerate(readers.READERS)}
    return sorted(summaries, key=lambda summary: order.get(summary.source.kind, len(order)))


def _last_per_step(series: _Series) -> tuple[Any, Any]:
    """Steps (sorted, unique) and the value last logged at each (a restart re-logs steps)."""
    import numpy as np

    steps = np.frombuffer(series.steps, dtype=np.int64)
    values = np.frombuffer(series.values, dtype=np.float64)
    reversed_steps = steps[::-1]
    unique, first_in_reversed = np.unique(reversed_steps, return_index=True)
    return unique, values[::-1][first_in_reversed]


def compare_series(reference: SourceSummary, other: SourceSummary, key: str) -> Iterator[Finding]:
    """QD602 for values that disagree, QD206 for a non-finite value hidden in one of the two sources."""
    import numpy as np

    if key not in reference.series or key not in other.series:
        return
    ref_steps, ref_values = _last_per_step(reference.series[key])
    steps, values = _last_per_step(other.series[key])
    common, in_ref, in_other = np.intersect1d(ref_steps, steps, assume_unique=True, return_indices=True)
    a, b = ref_values[in_ref], values[in_other]
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    both = finite_a & finite_b
    with np.errstate(over="ignore", invalid="ignore"):  # values near the float64 limits are data too
        differ = both & ~np.isclose(a, b, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE)
    for hidden_in, shown_in, mask in (
        (other, reference, ~finite_a & finite_b),
        (reference, other, finite_a & ~finite_b),
    ):
        if mask.any():
            first = int(np.argmax(mask))
            shown, hidden = (a, b) if shown_in is reference else (b, a)
            yield finding(
                "QD206",
                f"{key} at step {int(common[first])} is {shown[first]} in {shown_in.source.kind} but "
                f"{hidden[first]:.6g} here ({int(mask.sum())} step(s) like it): a non-finite loss was "
                "replaced before it reached this log (logging_nan_inf_filter=True does that to the "
                "Trainer's logs)",
                "train with logging_nan_inf_filter=False and find the batch that gives the non-finite loss",
                source=str(hidden_in.source.files[0]),
                step=int(common[first]),
                key=key,
                evidence={"other_source": shown_in.source.name, "count": int(mask.sum())},
            )
    if differ.any():
        first = int(np.argmax(differ))
        yield finding(
            "QD602",
            f"{key} at step {int(common[first])} is {b[first]:.8g} here but {a[first]:.8g} in "
            f"{reference.source.kind} ({reference.source.name}); {int(differ.sum())} of {len(common)} "
            "shared steps disagree, so the two logs are not of the same training",
            "check that both logs come from the same run (a restarted run logging into an old "
            "W&B/TensorBoard run, two trainings sharing one output dir) and that no callback rewrites "
            "the value",
            source=str(other.source.files[0]),
            step=int(common[first]),
            key=key,
            evidence={"other_source": reference.source.name, "count": int(differ.sum())},
        )


def missing_evaluations(has: SourceSummary, lacks: SourceSummary) -> Iterator[Finding]:
    """QD603: evaluations in ``has`` at steps ``lacks`` covers but holds no evaluation for."""
    import numpy as np

    if lacks.min_step is None or lacks.max_step is None or not len(has.eval_steps):
        return
    low, high = lacks.min_step, lacks.max_step
    theirs = np.frombuffer(has.eval_steps, dtype=np.int64)
    ours = np.frombuffer(lacks.eval_steps, dtype=np.int64)
    candidates = np.setdiff1d(theirs, ours)
    missing = candidates[(candidates >= low) & (candidates <= high)]
    if missing.size:
        shown = ", ".join(str(int(step)) for step in missing[:5]) + (", ..." if missing.size > 5 else "")
        yield finding(
            "QD603",
            f"{missing.size} evaluation(s) logged in {has.source.kind} ({has.source.name}) are missing "
            f"here, at step(s) {shown}, although this log covers steps {low} to {high}",
            "an eval row that reached one logger but not another was dropped on the way: check for a value "
            "the logger rejects (non-numbers in W&B/TensorBoard/MLflow) or a callback that filters rows",
            source=str(lacks.source.files[0]),
            step=int(missing[0]),
            evidence={"other_source": has.source.name, "count": int(missing.size)},
        )


def best_metric_present(summaries: Sequence[SourceSummary]) -> Iterator[Finding]:
    """QD204: ``metric_for_best_model`` must name a key of the evaluation rows."""
    setting = next(
        (s.settings["metric_for_best_model"] for s in summaries if "metric_for_best_model" in s.settings), None
    )
    if setting is None or not isinstance(setting.value, str) or not setting.value:
        return
    if not all(summary.eval_keys_complete for summary in summaries):
        return  # a source with more evaluation keys than are kept: whether it holds the metric is unknown
    evaluated = set().union(*(summary.eval_keys for summary in summaries))
    if not evaluated:
        return
    wanted = setting.value if setting.value.startswith(EVAL_PREFIX) else EVAL_PREFIX + setting.value
    if wanted not in evaluated:
        available = ", ".join(sorted(k for k in evaluated if k.startswith(EVAL_PREFIX))) or "none with eval_"
        yield finding(
            "QD204",
            f"metric_for_best_model={setting.value!r} means {wanted!r}, which no evaluation row holds "
            f"(they hold: {available}); load_best_model_at_end and early stopping cannot work, and "
            "transformers 5.x stops training with a KeyError the first time it compares checkpoints",
            f"set metric_for_best_model to one of the eval keys, or log {wanted!r} from evaluate() "
            "(with metric_key_prefix, see QD101)",
            source=setting.file,
            key=wanted,
        )


def losses_agree(summaries: Sequence[SourceSummary]) -> Iterator[Finding]:
    """QD602 / QD206: ``loss`` and ``eval_loss`` step by step, each source against the reference."""
    ordered = reference_first(summary for summary in summaries if summary.rows)
    for other in ordered[1:]:
        for key in COMPARED_KEYS:
            yield from compare_series(ordered[0], other, key)


def evaluations_in_every_source(summaries: Sequence[SourceSummary]) -> Iterator[Finding]:
    """QD603: each evaluation of the reference is in every other source that covers its step, and back."""
    ordered = reference_first(summary for summary in summaries if summary.rows)
    for other in ordered[1:]:
        yield from missing_evaluations(ordered[0], other)
        yield from missing_evaluations(other, ordered[0])


CROSS_SOURCE_RULES: list[Callable[[Sequence[SourceSummary]], Iterable[Finding]]] = [
    best_metric_present,
    losses_agree,
    evaluations_in_every_source,
]
