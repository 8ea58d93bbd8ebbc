"""THE rules for losses, shared by the live ``eval-loss`` probe and ``qadiag audit-logs``.

- QD201: an evaluation reported no eval loss. Offline only the row is known, so the message lists
  the usual causes; the live probe knows which one it was and passes it as ``cause``/``fix``.
- QD202 / QD205: an eval loss or a training loss that is NaN or infinite.

Both sides call these builders, so a code always has the same condition, wording and fix.
"""

from __future__ import annotations

import math
from typing import Any

from qadiag.findings import Finding, finding
from qadiag.namespaces import EVAL_PREFIX, TEST_PREFIX, is_number

MISSING_EVAL_LOSS_CAUSES = (
    "prediction_step computed no loss (the evaluation batches carry no labels, label_names does not name "
    "them) or a custom evaluate() dropped it"
)
MISSING_EVAL_LOSS_FIX = (
    "give the validation features their label columns (start_positions/end_positions for QA), set "
    "label_names if the model's forward names them differently, and keep output.metrics in a custom evaluate()"
)
NON_FINITE_FIX = (
    "look for inputs whose labels point outside the sequence, a learning rate that is too high, and fp16 "
    "overflow; re-run with logging_nan_inf_filter=False to see every non-finite loss"
)


def missing_eval_loss(
    key: str = "eval_loss", *, logged: str | None = None, cause: str | None = None, fix: str | None = None, **where: Any
) -> Finding:
    """QD201. ``logged`` names what the evaluation did log; ``cause``/``fix`` replace the generic ones."""
    what = f"the evaluation logged {logged} but no {key!r}" if logged else f"the evaluation reported no {key!r}"
    return finding(
        "QD201",
        f"{what}: {cause or MISSING_EVAL_LOSS_CAUSES}",
        fix or MISSING_EVAL_LOSS_FIX,
        key=key,
        **where,
    )


def non_finite_loss(key: str, value: Any, *, context: str = "", **where: Any) -> Finding | None:
    """QD202 (eval) / QD205 (training) when ``value`` is a number that is NaN or infinite, else None."""
    if not is_number(value):
        return None
    number = float(value)
    if math.isfinite(number):
        return None
    evaluation = key.startswith((EVAL_PREFIX, TEST_PREFIX))
    where.setdefault("key", key)
    return finding(
        "QD202" if evaluation else "QD205",
        f"{key} is {number} {'in the evaluation' if evaluation else 'in training'}{context}",
        NON_FINITE_FIX,
        **where,
    )
