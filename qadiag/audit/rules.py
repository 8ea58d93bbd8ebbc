"""The rules over the row stream: per source, then across the sources of one run.

Per source, streaming: the probes' metric-key rules
(:func:`qadiag.namespaces.check_row`) on every row, eval loss present and finite in every evaluation,
training loss finite, steps never going backwards. A finding that repeats row after row is reported
once per source, key and code, with how many rows and which steps it covers.

Across the sources of one run (the same output dir, by location or by the ``output_dir`` a W&B,
TensorBoard or MLflow run recorded): ``loss`` and ``eval_loss`` must agree step by step (a value that
is non-finite in one source but finite in another was hidden, e.g. by ``logging_nan_inf_filter``),
every evaluation must be in every source that covers its step, and ``metric_for_best_model`` must be
among the evaluation keys. What is kept per row is only what these rules need: the step and value of
``loss``/``eval_loss`` (16 bytes each, in arrays), and the steps of evaluations.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qadiag.audit.readers import read
from qadiag.audit.records import LogRow, Setting, Source, SourceKind
from qadiag.findings import Finding, finding
from qadiag.loss_rules import missing_eval_loss, non_finite_loss
from qadiag.namespaces import EVAL_PREFIX, RowKind, check_row, infer_row_kind, is_number

COMPARED_KEYS = ("loss", "eval_loss")
LOSS_KEYS = ("loss", "train_loss", "eval_loss")
REFERENCE_ORDER = (SourceKind.TRAINER_STATE, SourceKind.WANDB, SourceKind.TENSORBOARD, SourceKind.MLFLOW)
# TensorBoard stores float32: agreement is judged at float32 precision.
RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE = 1e-5, 1e-8
_PLAIN_TYPES = frozenset({float, int, str, type(None)})
MAX_CACHED_KEY_SETS = 4096


class ProgressSink(Protocol):
    def update(self, source: Source, offset: int) -> None: ...

    def finished(self, source: Source) -> None: ...


@dataclass
class _Tally:
    """One finding that recurs: the first occurrence, how often, and the step range."""

    first: Finding
    count: int = 1
    last_step: int | None = None

    def finding(self) -> Finding:
        if self.count == 1:
            return self.first
        steps = ""
        if self.first.step is not None and self.last_step is not None and self.last_step != self.first.step:
            steps = f", steps {self.first.step} to {self.last_step}"
        return dataclasses.replace(
            self.first,
            message=f"{self.first.message} ({self.count} times{steps})",
            evidence={**self.first.evidence, "count": self.count, "last_step": self.last_step},
        )


@dataclass
class _Series:
    steps: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))


@dataclass
class SourceAudit:
    """What one source says, checked row by row, reduced to what the cross-source rules need."""

    source: Source
    rows: int = 0
    min_step: int | None = None
    max_step: int | None = None
    eval_steps: set[int] = field(default_factory=set)
    eval_keys: set[str] = field(default_factory=set)
    series: dict[str, _Series] = field(default_factory=lambda: {key: _Series() for key in COMPARED_KEYS})
    settings: dict[str, Setting] = field(default_factory=dict)
    reader_findings: list[Finding] = field(default_factory=list)
    tallies: dict[tuple[str, str | None], _Tally] = field(default_factory=dict)
    _evaluation: LogRow | None = None
    _evaluation_has_loss: bool = False
    _row_checks: dict[tuple[str, ...], tuple[RowKind, list[Finding]]] = field(default_factory=dict)

    # -- per row --------------------------------------------------------------------------------
    def add(self, item: Any) -> None:
        if isinstance(item, LogRow):
            self.row(item)
        elif isinstance(item, Setting):
            self.settings.setdefault(item.name, item)
        else:
            self.reader_findings.append(item)

    def row(self, row: LogRow) -> None:
        if not row.values:
            return
        self.rows += 1
        kind = self._check_keys(row)
        step = row.step
        if step is not None:
            self._check_order(row, step)
        if kind is RowKind.EVAL:
            self._evaluation_row(row, step)
        elif self._evaluation is not None:
            self._close_evaluation()
        for key in LOSS_KEYS:
            if key in row.values:
                self._check_loss(row, key, kind)

    def _check_keys(self, row: LogRow) -> RowKind:
        """``check_row`` on the row; rows with the same keys and plain values share one result."""
        keys = tuple(row.values)
        if _PLAIN_TYPES.issuperset(map(type, row.values.values())):
            cached = self._row_checks.get(keys)
            if cached is None:
                cached = (infer_row_kind(keys), check_row(row.values))
                if len(self._row_checks) < MAX_CACHED_KEY_SETS:
                    self._row_checks[keys] = cached
            kind, templates = cached
        else:
            kind, templates = infer_row_kind(keys), check_row(row.values)
        for template in templates:
            self.tally(
                template, row, row.step, logger_key=row.logger_key(template.key) if template.key else None
            )
        return kind

    def _check_order(self, row: LogRow, step: int) -> None:
        if self.max_step is not None and step < self.max_step:
            self.tally(
                finding(
                    "QD601",
                    f"the step goes back from {self.max_step} to {step}: the run was restarted or resumed "
                    "from an earlier checkpoint, so this source holds two histories for the same steps",
                    "audit each attempt separately (one output dir and logger run per attempt), or "
                    "resume with resume_from_checkpoint=<the latest checkpoint> so the history continues",
                ),
                row,
                step,
            )
        self.max_step = step if self.max_step is None else max(self.max_step, step)
        self.min_step = step if self.min_step is None else min(self.min_step, step)

    def _evaluation_row(self, row: LogRow, step: int | None) -> None:
        if self._evaluation is not None and self._evaluation.step != step:
            self._close_evaluation()
        if self._evaluation is None:
            self._evaluation, self._evaluation_has_loss = row, False
        self._evaluation_has_loss |= "eval_loss" in row.values
        self.eval_keys.update(row.values)
        if step is not None:
            self.eval_steps.add(step)

    def _close_evaluation(self) -> None:
        row, self._evaluation = self._evaluation, None
        if row is None or self._evaluation_has_loss:
            return
        logged = ", ".join(sorted(k for k in row.values if k != "epoch"))
        self.tally(missing_eval_loss(logged=logged), row, row.step)

    def _check_loss(self, row: LogRow, key: str, kind: RowKind) -> None:
        value = row.values[key]
        if type(value) is not float:
            if not is_number(value):
                return
            value = float(value)
        if (
            key in self.series
            and (kind is RowKind.EVAL) == key.startswith(EVAL_PREFIX)
            and row.step is not None
        ):
            series = self.series[key]
            series.steps.append(row.step)
            series.values.append(value)
        problem = non_finite_loss(key, value)
        if problem is not None:
            self.tally(problem, row, row.step)

    def tally(
        self, template: Finding, row: LogRow, step: int | None, *, logger_key: str | None = None
    ) -> None:
        key = (template.code, template.key)
        existing = self.tallies.get(key)
        if existing is not None:
            existing.count += 1
            existing.last_step = step if step is not None else existing.last_step
            return
        evidence = {"logger_key": logger_key} if logger_key and logger_key != template.key else {}
        first = dataclasses.replace(
            template,
            source=row.file,
            step=step,
            offset=row.offset,
            evidence={**template.evidence, **evidence},
        )
        self.tallies[key] = _Tally(first, last_step=step)

    def finish(self) -> None:
        self._close_evaluation()
        self._row_checks.clear()

    def findings(self) -> list[Finding]:
        return self.reader_findings + [tally.finding() for tally in self.tallies.values()]


def audit_source(source: Source, progress: ProgressSink | None = None) -> SourceAudit:
    state = SourceAudit(source)
    for count, item in enumerate(read(source)):
        state.add(item)
        if (
            progress is not None
            and not count & 0xFFF
            and isinstance(item, LogRow)
            and item.offset is not None
        ):
            progress.update(source, item.offset)
    state.finish()
    if progress is not None:
        progress.finished(source)
    return state


# -- runs -----------------------------------------------------------------------------------------


def claimed_output_dir(claim: Any, candidates: Iterable[Path]) -> Path | None:
    """The directory a source's ``output_dir`` setting names: the same path, or else the one candidate
    whose path ends like the claim, the longest such ending first (the run may have been copied, or
    logged a relative path)."""
    if not isinstance(claim, str) or not claim:
        return None
    claimed = Path(claim)
    resolved = {path.resolve(): path for path in candidates}
    if claimed.is_absolute() and claimed.resolve() in resolved:
        return resolved[claimed.resolve()]
    parts = [part for part in claimed.parts if part not in ("/", ".")]
    shortest = 2 if claimed.is_absolute() else 1  # an absolute path that only shares its last name is not it
    for length in range(len(parts), shortest - 1, -1):
        tail = tuple(parts[-length:])
        matches = [path for real, path in resolved.items() if real.parts[-length:] == tail]
        if matches:
            return matches[0] if len(matches) == 1 else None
    return None


def group_runs(audits: Sequence[SourceAudit], output_dirs: Sequence[Path]) -> dict[str, list[SourceAudit]]:
    """Sources by run: where a source says it logged for, else where it lies."""
    candidates = {*output_dirs, *(state.source.home for state in audits)}
    runs: dict[str, list[SourceAudit]] = {}
    for state in audits:
        setting = state.settings.get("output_dir")
        home = claimed_output_dir(setting.value if setting else None, candidates) or state.source.home
        runs.setdefault(str(home), []).append(state)
    return runs


def _reference_first(audits: list[SourceAudit]) -> list[SourceAudit]:
    return sorted(audits, key=lambda state: REFERENCE_ORDER.index(state.source.kind))


def _last_per_step(series: _Series) -> tuple[Any, Any]:
    """Steps (sorted, unique) and the value last logged at each (a restart re-logs steps)."""
    import numpy as np

    steps = np.frombuffer(series.steps, dtype=np.int64)
    values = np.frombuffer(series.values, dtype=np.float64)
    reversed_steps = steps[::-1]
    unique, first_in_reversed = np.unique(reversed_steps, return_index=True)
    return unique, values[::-1][first_in_reversed]


def compare_series(reference: SourceAudit, other: SourceAudit, key: str) -> Iterator[Finding]:
    """QD602 for values that disagree, QD206 for a non-finite value hidden in one of the two sources."""
    import numpy as np

    if not len(reference.series[key].steps) or not len(other.series[key].steps):
        return
    ref_steps, ref_values = _last_per_step(reference.series[key])
    steps, values = _last_per_step(other.series[key])
    common, in_ref, in_other = np.intersect1d(ref_steps, steps, assume_unique=True, return_indices=True)
    a, b = ref_values[in_ref], values[in_other]
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    both = finite_a & finite_b
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
                f"{key} at step {int(common[first])} is {shown[first]} in {shown_in.source.kind.value} but "
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
            f"{reference.source.kind.value} ({reference.source.name}); {int(differ.sum())} of {len(common)} "
            "shared steps disagree, so the two logs are not of the same training",
            "check that both logs come from the same run (a restarted run logging into an old "
            "W&B/TensorBoard run, two trainings sharing one output dir) and that no callback rewrites "
            "the value",
            source=str(other.source.files[0]),
            step=int(common[first]),
            key=key,
            evidence={"other_source": reference.source.name, "count": int(differ.sum())},
        )


def missing_evaluations(has: SourceAudit, lacks: SourceAudit) -> Iterator[Finding]:
    """QD603: evaluations in ``has`` at steps ``lacks`` covers but holds no evaluation for."""
    if lacks.min_step is None or lacks.max_step is None:
        return
    low, high = lacks.min_step, lacks.max_step
    missing = sorted(step for step in has.eval_steps - lacks.eval_steps if low <= step <= high)
    if missing:
        shown = ", ".join(str(step) for step in missing[:5]) + (", ..." if len(missing) > 5 else "")
        yield finding(
            "QD603",
            f"{len(missing)} evaluation(s) logged in {has.source.kind.value} ({has.source.name}) are missing "
            f"here, at step(s) {shown}, although this log covers steps {low} to {high}",
            "an eval row that reached one logger but not another was dropped on the way: check for a value "
            "the logger rejects (non-numbers in W&B/TensorBoard/MLflow) or a callback that filters rows",
            source=str(lacks.source.files[0]),
            step=missing[0],
            evidence={"other_source": has.source.name, "count": len(missing)},
        )


def best_metric_present(audits: list[SourceAudit]) -> Iterator[Finding]:
    """QD204: ``metric_for_best_model`` must name a key of the evaluation rows."""
    setting = next(
        (s.settings["metric_for_best_model"] for s in audits if "metric_for_best_model" in s.settings), None
    )
    if setting is None or not isinstance(setting.value, str) or not setting.value:
        return
    evaluated = set().union(*(state.eval_keys for state in audits))
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


def cross_source(audits: list[SourceAudit]) -> Iterator[Finding]:
    ordered = _reference_first([state for state in audits if state.rows])
    yield from best_metric_present(audits)
    if len(ordered) < 2:
        return
    reference, others = ordered[0], ordered[1:]
    for other in others:
        for key in COMPARED_KEYS:
            yield from compare_series(reference, other, key)
        yield from missing_evaluations(reference, other)
        yield from missing_evaluations(other, reference)


def audit(
    sources: Sequence[Source], output_dirs: Sequence[Path], progress: ProgressSink | None = None
) -> list[Finding]:
    """Every finding for the sources, each tagged with the run it belongs to."""
    audits = [audit_source(source, progress) for source in sources]
    findings: list[Finding] = []
    for run, members in group_runs(audits, output_dirs).items():
        run_findings = [item for state in members for item in state.findings()]
        run_findings.extend(cross_source(members))
        findings.extend(dataclasses.replace(item, run=run) for item in run_findings)
    return findings
