"""The audit's rules, as two lists.

:data:`ROW_RULES` run on every row of a source as it streams: each is a small class, instantiated once
per source (or per part of a source read on its own), with ``check(row, kind)`` per row, ``seam(later)``
to join the part read after it, and ``finish()`` at the end of the source. A rule that looks at more than
one row (the step going back, an evaluation spread over several rows) keeps what its first rows showed
aside until ``seam`` says what came before them, so that parts read in parallel give exactly the findings
of one pass. The metric-key rules are the probes' own (:func:`qadiag.namespaces.check_row`) and the loss
rules are :mod:`qadiag.loss_rules`, shared with the live ``eval-loss`` probe.

:data:`CROSS_SOURCE_RULES` run on the sources of one run (the same output dir, by location or by the
``output_dir`` a source recorded): each is a function of the run's
:class:`~qadiag.audit.summary.SourceSummary` objects.

A rule returns findings located at a row (:func:`located`); :mod:`qadiag.audit.pipeline` merges repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from qadiag.audit import readers
from qadiag.audit.records import LogRow
from qadiag.audit.summary import Series, SourceSummary
from qadiag.findings import Finding, finding
from qadiag.loss_rules import missing_eval_loss, non_finite_loss
from qadiag.namespaces import EVAL_PREFIX, RowKind, check_row

COMPARED_KEYS = ("loss", "eval_loss")
LOSS_KEYS = ("loss", "train_loss", "eval_loss")
# TensorBoard stores float32: agreement is judged at float32 precision.
RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE = 1e-5, 1e-8
_PLAIN_TYPES = frozenset({float, int, str, type(None)})
MAX_CACHED_KEY_SETS = 4096


def located(template: Finding, row: LogRow, **evidence: Any) -> Finding:
    """``template`` placed at ``row``: the file (and line) holding the evidence for its key, the step and
    the byte offset (plus evidence, if any). Built field by field, not with ``dataclasses.replace``: a file
    of two million misnamed keys places four hundred thousand findings."""
    file, line, column = row.place(template.key)
    return Finding(
        code=template.code,
        probe=template.probe,
        severity=template.severity,
        message=template.message,
        fix=template.fix,
        source=file,
        step=row.step,
        key=template.key,
        offset=row.offset,
        run=template.run,
        evidence={**template.evidence, **evidence} if evidence else template.evidence,
        count=template.count,
        line=line,
        column=column,
    )


class RowRule(Protocol):
    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]: ...

    def seam(self, later: Any) -> Iterable[Finding]:
        """Join ``later`` (the same rule, run on the part of the source that comes next, from a fresh
        start): the findings that only the join shows; afterwards ``self`` stands for both parts."""
        ...

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

    def seam(self, later: MetricKeys) -> Iterable[Finding]:
        return ()

    def finish(self) -> Iterable[Finding]:
        self._checked.clear()
        return ()


class StepOrder:
    """QD601: the step goes back from one row to the next within a source (a restart, or a run resumed from
    an older checkpoint); each drop is one occurrence."""

    def __init__(self) -> None:
        self.previous: int | None = None  # the step of the last row that had one
        self.first: LogRow | None = None  # the first row that had one: whether it went back is seam()'s call

    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]:
        step = row.step
        if step is None:
            return ()
        previous, self.previous = self.previous, step
        if previous is None:
            self.first = row
            return ()
        return () if step >= previous else (self._went_back(previous, row),)

    @staticmethod
    def _went_back(previous: int, row: LogRow) -> Finding:
        return located(
            finding(
                "QD601",
                f"the step goes back from {previous} to {row.step}: the run was restarted or resumed from an "
                "earlier checkpoint, so this source holds two histories for the same steps",
                "audit each attempt separately (one output dir and logger run per attempt), or resume with "
                "resume_from_checkpoint=<the latest checkpoint> so the history continues",
            ),
            row,
        )

    def seam(self, later: StepOrder) -> Iterable[Finding]:
        previous, first = self.previous, later.first
        if later.previous is not None:
            self.previous = later.previous
        if previous is None or first is None or first.step is None or first.step >= previous:
            return ()
        return (self._went_back(previous, first),)

    def finish(self) -> Iterable[Finding]:
        return ()


class EvalLossPresent:
    """QD201: every evaluation (its rows at one step: the Trainer's and those a custom evaluate() adds)
    carries an eval loss.

    The evaluation a part of the source starts with may have begun in the part before: it is kept aside
    (``leading``), and :meth:`seam` judges it once it knows what came before."""

    def __init__(self) -> None:
        self.first: LogRow | None = None  # the first row of the evaluation in progress
        self.has_loss = False
        self.seen_rows = False
        self.open_from_start = False  # the evaluation in progress began at this part's first row
        self.leading: tuple[LogRow, bool] | None = None  # that evaluation, once it ended inside this part

    def check(self, row: LogRow, kind: RowKind) -> Iterable[Finding]:
        at_start, self.seen_rows = not self.seen_rows, True
        if kind is not RowKind.EVAL:
            return self._close()
        done = self._close() if self.first is not None and self.first.step != row.step else ()
        if self.first is None:
            self.first, self.has_loss, self.open_from_start = row, False, at_start
        self.has_loss |= "eval_loss" in row.values
        return done

    def _close(self) -> Iterable[Finding]:
        row, has_loss, from_start = self.first, self.has_loss, self.open_from_start
        self.first, self.has_loss, self.open_from_start = None, False, False
        if row is None:
            return ()
        if from_start:
            self.leading = (row, has_loss)
            return ()
        return _judged(row, has_loss)

    def seam(self, later: EvalLossPresent) -> Iterable[Finding]:
        if not later.seen_rows:
            return ()
        if later.leading is not None:
            head, ended = later.leading, True
        elif later.open_from_start and later.first is not None:
            head, ended = (later.first, later.has_loss), False
        else:
            head, ended = None, True
        found: list[Finding] = []
        if head is not None and self.first is not None and self.first.step == head[0].step:
            self.has_loss |= head[1]  # one evaluation across the join
            if not ended:
                return found
            found.extend(_judged(self.first, self.has_loss))
        else:
            if self.first is not None:
                found.extend(_judged(self.first, self.has_loss))  # ended by the later part's first row
            if head is not None:
                if not ended:
                    self.first, self.has_loss = head
                    return found
                found.extend(_judged(*head))
        self.first, self.has_loss = later.first, later.has_loss
        return found

    def finish(self) -> Iterable[Finding]:
        row, self.first = self.first, None
        return _judged(row, self.has_loss) if row is not None else ()


def _judged(row: LogRow, has_loss: bool) -> Iterable[Finding]:
    """QD201 for an evaluation whose first row is ``row``, unless it had an eval loss."""
    if has_loss:
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

    def seam(self, later: LossFinite) -> Iterable[Finding]:
        return ()

    def finish(self) -> Iterable[Finding]:
        return ()


ROW_RULES: list[Callable[[], RowRule]] = [MetricKeys, StepOrder, EvalLossPresent, LossFinite]


# -- cross-source rules ---------------------------------------------------------------------------


def reference_first(summaries: Iterable[SourceSummary]) -> list[SourceSummary]:
    """Sources in registry order: the first registered reader's source is the reference."""
    order = {reader.kind: index for index, reader in enumerate(readers.READERS)}
    return sorted(summaries, key=lambda summary: order.get(summary.source.kind, len(order)))


def _last_per_step(series: Series) -> tuple[Any, Any, Any]:
    """Steps (sorted, unique), the value last logged at each (a restart re-logs steps), and that entry's
    index in the series."""
    import numpy as np

    steps = np.frombuffer(series.steps, dtype=np.int64)
    values = np.frombuffer(series.values, dtype=np.float64)
    unique, first_in_reversed = np.unique(steps[::-1], return_index=True)
    index = len(steps) - 1 - first_in_reversed
    return unique, values[index], index


def _at_entry(summary: SourceSummary, key: str, index: Any) -> dict[str, Any]:
    """``source`` and ``line`` of one entry of a summary's series, for a finding."""
    file, line = summary.series[key].place(int(index))
    return {"source": file, "line": line}


def compare_series(reference: SourceSummary, other: SourceSummary, key: str) -> Iterator[Finding]:
    """QD602 for values that disagree, QD206 for a non-finite value hidden in one of the two sources."""
    import numpy as np

    if key not in reference.series or key not in other.series:
        return
    ref_steps, ref_values, ref_index = _last_per_step(reference.series[key])
    steps, values, index = _last_per_step(other.series[key])
    common, in_ref, in_other = np.intersect1d(ref_steps, steps, assume_unique=True, return_indices=True)
    a, b = ref_values[in_ref], values[in_other]
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    both = finite_a & finite_b
    with np.errstate(over="ignore", invalid="ignore"):  # values near the float64 limits are data too
        differ = both & ~np.isclose(a, b, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE)
    entries = {id(reference): ref_index[in_ref], id(other): index[in_other]}
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
                step=int(common[first]),
                key=key,
                evidence={"other_source": shown_in.source.name, "count": int(mask.sum())},
                **_at_entry(hidden_in, key, entries[id(hidden_in)][first]),
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
            step=int(common[first]),
            key=key,
            evidence={"other_source": reference.source.name, "count": int(differ.sum())},
            **_at_entry(other, key, entries[id(other)][first]),
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
            source=lacks.evidence_file("eval_loss"),
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
