"""THE rule set for metric keys, shared by the ``log-keys`` probe and ``qadiag audit-logs``.

Facts it encodes (transformers ``integrations.integration_utils.rewrite_logs``, used by both the W&B
and the TensorBoard callbacks): ``eval_x -> eval/x``, ``test_x -> test/x``, anything else
``train/x``. A W&B section is the text before the first ``/``. So an evaluation metric whose key
does not start with ``eval_`` (or ``test_`` for ``predict()``) is filed under ``train/``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qadiag.findings import Finding, finding

EVAL_PREFIX = "eval_"
TEST_PREFIX = "test_"

# Keys the Trainer itself writes into training-step rows and the final summary row.
TRAIN_STEP_KEYS = frozenset({"loss", "grad_norm", "learning_rate"})
TRAIN_SUMMARY_KEYS = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_tokens_per_second",
        "train_loss",
        "total_flos",
    }
)
# What evaluation_loop and speed_metrics put in an evaluation's metrics without compute_metrics.
TRAINER_EVALUATION_KEYS = frozenset(
    {"loss", "runtime", "samples_per_second", "steps_per_second", "model_preparation_time", "jit_compilation_time"}
)
# Keys the Trainer adds to every kind of row; they say nothing about the row's namespace.
BOOKKEEPING_KEYS = frozenset({"epoch", "step", "num_input_tokens_seen", "total_flos"})

# Metric names that only make sense on held-out data (SQuAD, GLUE, seqeval, evaluate's defaults).
EVALUATION_METRIC_NAMES = frozenset(
    {
        "exact_match",
        "exact",
        "em",
        "f1",
        "accuracy",
        "acc",
        "precision",
        "recall",
        "matthews_correlation",
        "pearson",
        "spearmanr",
        "bleu",
        "sacrebleu",
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "HasAns_exact",
        "HasAns_f1",
        "NoAns_exact",
        "NoAns_f1",
        "best_exact",
        "best_f1",
        "runtime",
        "samples_per_second",
        "steps_per_second",
    }
)

# Logger-side names W&B writes on its own; a user key landing on one of them overwrites it.
RESERVED_LOGGER_KEYS = frozenset({"train/global_step"})

_WRONG_PREFIX = re.compile(
    r"^(?P<stem>val|valid|validation|dev|eval|evaluation|test|testing)(?P<sep>[-/.:]|_)(?P<name>.+)$",
    re.IGNORECASE,
)


class RowKind(str, enum.Enum):
    TRAIN_STEP = "train"
    EVAL = "eval"
    TEST = "test"
    TRAIN_SUMMARY = "summary"
    OTHER = "other"


def logger_key(key: str) -> str:
    """Where the W&B and TensorBoard callbacks file ``key`` (``rewrite_logs``)."""
    if key.startswith(EVAL_PREFIX):
        return "eval/" + key[len(EVAL_PREFIX) :]
    if key.startswith(TEST_PREFIX):
        return "test/" + key[len(TEST_PREFIX) :]
    return "train/" + key


def logger_section(key: str) -> str:
    """The W&B section (panel group) ``key`` ends up in: ``train``, ``eval`` or ``test``."""
    return logger_key(key).split("/", 1)[0]


def prefix_for(kind: RowKind) -> str | None:
    return {RowKind.EVAL: EVAL_PREFIX, RowKind.TEST: TEST_PREFIX}.get(kind)


def metric_name(key: str) -> str:
    """A key without its namespace prefix: ``eval_f1 -> f1``."""
    for prefix in (EVAL_PREFIX, TEST_PREFIX):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


@dataclass(frozen=True)
class MisnamedKey:
    """A key that tries to say "eval" or "test" in a way the loggers do not understand."""

    key: str
    intended: str

    @property
    def namespace(self) -> str:
        return self.intended.split("_", 1)[0]


def misnamed(key: str) -> MisnamedKey | None:
    """``val_f1``, ``eval-f1``, ``eval/f1``, ``Eval_f1`` ... -> the key that was meant."""
    if key.startswith((EVAL_PREFIX, TEST_PREFIX)):
        return None
    match = _WRONG_PREFIX.match(key)
    if not match:
        return None
    stem = match["stem"].lower()
    namespace = "test" if stem.startswith("test") else "eval"
    if stem == "test" and match["sep"] == "_":
        return MisnamedKey(key, f"test_{match['name']}")
    return MisnamedKey(key, f"{namespace}_{match['name']}")


def infer_row_kind(keys: Iterable[str]) -> RowKind:
    """Guess what produced a log row, for sources (trainer_state, W&B) that do not say."""
    keys = set(keys)
    if keys & TRAIN_STEP_KEYS:
        return RowKind.TRAIN_STEP
    if keys & (TRAIN_SUMMARY_KEYS - BOOKKEEPING_KEYS):
        return RowKind.TRAIN_SUMMARY
    if any(k.startswith(EVAL_PREFIX) for k in keys):
        return RowKind.EVAL
    if any(k.startswith(TEST_PREFIX) for k in keys):
        return RowKind.TEST
    if any(metric_name(k) in EVALUATION_METRIC_NAMES or misnamed(k) for k in keys):
        return RowKind.EVAL
    return RowKind.OTHER


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    try:  # numpy scalars and 0-d tensors
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))


def _prefix_fix(kind: RowKind) -> str:
    prefix = prefix_for(kind) or EVAL_PREFIX
    method = "predict" if kind is RowKind.TEST else "evaluate"
    return (
        f"in your {method}(), prefix every metric before self.log(): "
        f"`for k in list(metrics): metrics[k if k.startswith('{prefix}') else f'{{metric_key_prefix}}_{{k}}'] "
        f"= metrics.pop(k)` (metric_key_prefix defaults to '{prefix[:-1]}'), as transformers' "
        "evaluation_loop does"
    )


def check_row(
    row: Mapping[str, Any],
    *,
    kind: RowKind | None = None,
    **where: Any,
) -> list[Finding]:
    """Findings for one dict of metrics (a logged row, or what evaluate() returned).

    ``kind`` is known to the live probe (it saw evaluate() or predict() run); offline it is inferred.
    ``where`` is evidence passed to every finding (``source``, ``step``, ``run``).
    """
    keys = [k for k in row if k not in BOOKKEEPING_KEYS]
    kind = kind or infer_row_kind(keys)
    findings: list[Finding] = []

    for key in keys:
        wrong = misnamed(key)
        if wrong is not None:
            findings.append(
                finding(
                    "QD102",
                    f"{key!r} is filed under {logger_key(key)!r} by W&B/TensorBoard, not under "
                    f"{wrong.namespace}/; only the exact prefixes 'eval_' and 'test_' are recognised",
                    f"log it as {wrong.intended!r} (metric_key_prefix={wrong.namespace!r} with an underscore)",
                    key=key,
                    **where,
                )
            )

    prefix = prefix_for(kind)
    if prefix is not None:
        bare = [k for k in keys if not k.startswith(prefix) and misnamed(k) is None]
        prefixed = [k for k in keys if k.startswith(prefix)]
        for key in bare:
            partial = bool(prefixed)
            findings.append(
                finding(
                    "QD103" if partial else "QD101",
                    f"{kind.value} metric {key!r} lands in {logger_key(key)!r} instead of "
                    f"{prefix[:-1]}/{key}"
                    + (f"; the same row has {', '.join(repr(k) for k in prefixed[:3])} prefixed" if partial else ""),
                    _prefix_fix(kind),
                    key=key,
                    **where,
                )
            )

    findings.extend(_collisions(row, **where))
    for key, value in row.items():
        if key not in BOOKKEEPING_KEYS and not is_number(value) and not isinstance(value, (str, type(None))):
            findings.append(
                finding(
                    "QD107",
                    f"{key!r} has a {type(value).__name__} value; TensorBoard drops non-scalars and W&B "
                    "stores it as a media/object, not a chart",
                    "log a float (call .item() on tensors, pick one number out of lists and dicts)",
                    key=key,
                    **where,
                )
            )
    return findings


def _collisions(row: Mapping[str, Any], **where: Any) -> list[Finding]:
    seen: dict[str, str] = {}
    findings = []
    for key in row:
        target = logger_key(key)
        if target in RESERVED_LOGGER_KEYS:
            findings.append(
                finding(
                    "QD104",
                    f"{key!r} is filed as {target!r}, which W&B already writes (the Trainer's step axis)",
                    f"rename {key!r}, e.g. to 'my_{key}'",
                    key=key,
                    **where,
                )
            )
        elif target in seen:
            findings.append(
                finding(
                    "QD104",
                    f"{key!r} and {seen[target]!r} are both filed as {target!r}; one overwrites the other",
                    "give the two metrics distinct names",
                    key=key,
                    **where,
                )
            )
        seen.setdefault(target, key)
    return findings


def check_logged_metrics(
    returned: Mapping[str, Any], logged_keys: Iterable[str], *, kind: RowKind = RowKind.EVAL, **where: Any
) -> list[Finding]:
    """QD105: the keys evaluate()/predict() returned that no logged row carried, as one finding."""
    logged = set(logged_keys)
    missing = [k for k in returned if k not in BOOKKEEPING_KEYS and k not in logged]
    if not missing:
        return []
    method = "predict" if kind is RowKind.TEST else "evaluate"
    shown = ", ".join(repr(key) for key in missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    if logged - BOOKKEEPING_KEYS:
        message = f"{method}() never logged the {kind.value} metric(s) {shown} it returned"
    else:
        message = f"{method}() returned {kind.value} metrics ({shown}) but logged none of them"
    return [
        finding(
            "QD105",
            f"{message}: self.log() never saw them, so W&B, TensorBoard and trainer_state.json do not have them",
            "call self.log(metrics) with the full metrics dict before returning it",
            key=missing[0],
            evidence={"keys": missing},
            **where,
        )
    ]


def is_trainer_metric(key: str) -> bool:
    """Keys evaluation_loop and speed_metrics add on their own (``eval_loss``, ``eval_runtime``...), as
    opposed to what ``compute_metrics`` computed."""
    return metric_name(key) in TRAINER_EVALUATION_KEYS or key in BOOKKEEPING_KEYS
