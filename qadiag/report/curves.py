"""``log_history`` -> the curves the report plots, and what they say in words.

Rows are sorted out the way the Trainer writes them: training rows carry ``loss`` (with
``learning_rate`` and ``grad_norm``), evaluation rows carry ``eval_*`` keys, the final row carries
``train_runtime``/``train_loss``. A step logged twice (a run resumed from a checkpoint) keeps its
later value. Non-finite values stay in the series: the sentences count them and the plots mark them,
because a NaN loss hidden in a gap is the bug the reader is looking for.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from qadiag.report.text import clip, number, step

TRAIN_LOSS = "loss"
EVAL_LOSS = "eval_loss"
LEARNING_RATE = "learning_rate"
EVAL_PREFIX = "eval_"
# Evaluation bookkeeping, not model quality.
_NOT_METRICS = ("_runtime", "_samples_per_second", "_steps_per_second")
_TRAINING_KEYS = {TRAIN_LOSS, LEARNING_RATE, "grad_norm", "epoch", "step", "num_input_tokens_seen"}
_FINAL_KEYS = {"train_runtime", "train_loss", "train_samples_per_second", "train_steps_per_second", "total_flos"}
_LOWER_IS_BETTER = {"loss", "perplexity", "ppl", "error", "wer", "cer"}
MAX_METRICS = 12
MAX_KEYS_LISTED = 20
KEY_WIDTH = 120


@dataclass(frozen=True)
class Series:
    key: str
    points: tuple[tuple[float, float], ...]  # (step, value) in step order; values may be NaN or infinite

    @property
    def finite(self) -> list[tuple[float, float]]:
        return [(x, y) for x, y in self.points if math.isfinite(y)]

    @property
    def non_finite_steps(self) -> list[float]:
        return [x for x, y in self.points if not math.isfinite(y)]

    @property
    def lower_is_better(self) -> bool:
        words = re.split(r"[^a-z0-9]+", self.key.lower())
        return any(word in _LOWER_IS_BETTER or word.endswith("loss") for word in words)

    def best(self) -> tuple[float, float] | None:
        """The best finite point (the earliest of equals)."""
        finite = self.finite
        if not finite:
            return None
        sign = 1 if self.lower_is_better else -1
        return min(finite, key=lambda point: (sign * point[1], point[0]))

    def value_at_or_before(self, at: float) -> tuple[float, float] | None:
        before = [point for point in self.points if point[0] <= at]
        return before[-1] if before else None


@dataclass
class Curves:
    train_loss: Series | None = None
    learning_rate: Series | None = None
    eval_metrics: list[Series] = field(default_factory=list)  # eval_loss first when logged
    metrics_not_plotted: list[str] = field(default_factory=list)
    unprefixed_keys: list[str] = field(default_factory=list)  # numbers in rows that are not training/eval rows
    rows_without_step: int = 0
    steps_logged_twice: int = 0

    @property
    def eval_loss(self) -> Series | None:
        return next((series for series in self.eval_metrics if series.key == EVAL_LOSS), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class _SeriesBuilder:
    def __init__(self) -> None:
        self.values: dict[str, dict[float, float]] = {}
        self.twice = 0

    def add(self, key: str, at: float, value: float) -> None:
        points = self.values.setdefault(key, {})
        self.twice += at in points
        points[at] = value

    def series(self, key: str) -> Series | None:
        points = self.values.get(key)
        return Series(key, tuple(sorted(points.items()))) if points else None


def curves_from_history(rows: list[Any]) -> Curves:
    curves = Curves()
    builder = _SeriesBuilder()
    eval_keys: dict[str, None] = {}  # ordered set: first seen first
    other_keys: dict[str, None] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        at = _number(row.get("step"))
        if at is None:
            curves.rows_without_step += 1
            continue
        # Keys are clipped here, once: every sentence, table and plot title shows them.
        values = {clip(key, KEY_WIDTH): value for key, raw in row.items()
                  if isinstance(key, str) and (value := _number(raw)) is not None}
        if any(key.startswith(EVAL_PREFIX) for key in values):
            for key, value in values.items():
                if key.startswith(EVAL_PREFIX) and not key.endswith(_NOT_METRICS):
                    eval_keys[key] = None
                    builder.add(key, at, value)
        elif TRAIN_LOSS in values or LEARNING_RATE in values:
            for key in (TRAIN_LOSS, LEARNING_RATE):
                if key in values:
                    builder.add(key, at, values[key])
        elif not _FINAL_KEYS & values.keys():
            # A row of its own, neither training, evaluation nor the final summary: what an evaluate()
            # that forgot metric_key_prefix logs.
            other_keys.update(dict.fromkeys(key for key in values if key not in _TRAINING_KEYS))
    curves.steps_logged_twice = builder.twice
    curves.train_loss = builder.series(TRAIN_LOSS)
    curves.learning_rate = builder.series(LEARNING_RATE)
    ordered = sorted(eval_keys, key=lambda key: key != EVAL_LOSS)
    curves.eval_metrics = [series for key in ordered[:MAX_METRICS] if (series := builder.series(key))]
    curves.metrics_not_plotted = ordered[MAX_METRICS:]  # the report lists a few and counts the rest
    curves.unprefixed_keys = list(other_keys)[:MAX_KEYS_LISTED]
    return curves


def _at(point: tuple[float, float]) -> str:
    return f"step {step(point[0])} ({number(point[1])})"


def non_finite_sentence(series: Series) -> str:
    bad = series.non_finite_steps
    if not bad:
        return ""
    return (
        f"{series.key} is NaN or infinite at {len(bad)} of {len(series.points)} logged steps "
        f"(first at step {step(bad[0])})."
    )


def metric_sentence(series: Series) -> str:
    """E.g. "eval_loss was lowest at step 150 (0.675) and rose to 0.834 by step 200."."""
    best = series.best()
    if best is None:
        return f"{series.key} has no finite value. " + non_finite_sentence(series)
    extreme = "lowest" if series.lower_is_better else "highest"
    last = series.finite[-1]
    sentence = f"{series.key} was {extreme} at {_at(best)}"
    if last[0] == best[0]:
        sentence += ", its last evaluation" if len(series.finite) > 1 else ", its only evaluation"
    elif last[1] == best[1]:
        sentence += f" and was the same at step {step(last[0])}"
    else:
        moved = "rose" if last[1] > best[1] else "fell"
        sentence += f" and {moved} to {number(last[1])} by step {step(last[0])}"
    return " ".join(part for part in (sentence + ".", non_finite_sentence(series)) if part)


def train_loss_sentence(series: Series) -> str:
    finite = series.finite
    if not finite:
        return "The training loss has no finite value. " + non_finite_sentence(series)
    first, last = finite[0], finite[-1]
    if first[0] == last[0]:
        sentence = f"The training loss was logged once: {number(first[1])} at step {step(first[0])}."
    else:
        moved = "fell" if last[1] < first[1] else "rose" if last[1] > first[1] else "stayed"
        sentence = f"The training loss {moved} from {number(first[1])} at step {step(first[0])} to " \
                   f"{number(last[1])} at step {step(last[0])}."
    return " ".join(part for part in (sentence, non_finite_sentence(series)) if part)


def overfitting_sentence(curves: Curves) -> str:
    """Said when eval loss got worse after its best step while the training loss kept falling."""
    eval_loss, train_loss = curves.eval_loss, curves.train_loss
    if eval_loss is None or train_loss is None:
        return ""
    best = eval_loss.best()
    if best is None:
        return ""
    last = eval_loss.finite[-1]
    then, now = train_loss.value_at_or_before(best[0]), train_loss.value_at_or_before(last[0])
    if last[1] <= best[1] or then is None or now is None or not now[1] < then[1]:
        return ""
    return (
        f"Overfitting: after step {step(best[0])} the eval loss rose from {number(best[1])} to {number(last[1])} "
        f"while the training loss fell from {number(then[1])} to {number(now[1])}; the model at step "
        f"{step(best[0])} generalises best (load_best_model_at_end with metric_for_best_model=\"eval_loss\" keeps it)."
    )


def learning_rate_sentence(series: Series) -> str:
    finite = series.finite
    if not finite:
        return "The learning rate has no finite value."
    first, last = finite[0], finite[-1]
    peak = max(finite, key=lambda point: (point[1], -point[0]))
    if peak[1] == first[1] == last[1]:
        return f"The learning rate was constant at {number(first[1])}."
    return (
        f"The learning rate started at {number(first[1])} (step {step(first[0])}), peaked at {number(peak[1])} "
        f"(step {step(peak[0])}) and ended at {number(last[1])} (step {step(last[0])})."
    )


def key_steps(steps: list[float], must: list[float], limit: int) -> list[float]:
    """At most ``limit`` of ``steps``: the ``must`` ones, the first and last, and evenly spaced others."""
    if len(steps) <= limit:
        return steps
    chosen = {steps[0], steps[-1], *(at for at in must if at in steps)}
    spare = max(0, limit - len(chosen))
    stride = (len(steps) - 1) / (spare + 1)
    chosen.update(steps[round(stride * (i + 1))] for i in range(spare))
    return sorted(chosen)


def thinned(series: Series, limit: int) -> Series:
    """At most about ``limit`` points for a plot, keeping the best, the non-finite and the last points."""
    if len(series.points) <= limit:
        return series
    best = series.best()
    keep = set(key_steps([x for x, _ in series.points], [best[0]] if best else [], limit))
    keep.update(series.non_finite_steps[:limit])
    return Series(series.key, tuple(point for point in series.points if point[0] in keep))
