"""``gradient-accumulation`` (experiment, reported by loss-swap): the logged loss must not change with
``gradient_accumulation_steps`` (DESIGN.md bug class 6).

At learning rate 0 the model does not move, so one optimizer step over the same samples must log the
same loss whether they come as one batch of ``2k`` (accumulation 1) or as ``k`` micro-batches of 2
(accumulation ``k``). On transformers 5.x a model whose ``forward`` takes ``**kwargs`` is assumed to
normalise its loss itself and the Trainer skips the division by the accumulation steps: the logged
loss, and the gradients, grow ``k``-fold.
"""

from __future__ import annotations

import math
from typing import Any

from qadiag import compat
from qadiag.findings import Finding, finding

MICRO_BATCH = 2


def logged_loss(trainer: Any) -> float | None:
    trainer.train()
    logged = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    return float(logged[0]) if logged else None


def same_loss_loose(a: float, b: float) -> bool:
    """Equal up to what a user model's own dropout can change; scaling bugs are a factor of 2 or more."""
    return math.isclose(a, b, rel_tol=0.1, abs_tol=1e-5)


def check(context: Any) -> list[Finding]:
    steps = context.settings.accumulation_steps
    if steps < 2:
        return []
    subset = context.subset(MICRO_BATCH * steps)
    losses = {}
    for accumulation, batch_size in ((1, MICRO_BATCH * steps), (steps, MICRO_BATCH)):
        trainer = context.trainer_with(
            subset,
            learning_rate=0.0,
            max_steps=1,
            gradient_accumulation_steps=accumulation,
            per_device_train_batch_size=batch_size,
            logging_steps=1,
            eval_strategy="no",
            save_strategy="no",
            report_to=[],
            output_dir=str(context.workdir / f"accumulation-{accumulation}"),
        )
        if trainer is None or not compat.accumulation_scaling_can_drift(trainer, subset.column_names):
            return []
        losses[accumulation] = logged_loss(trainer)
    single, accumulated = losses[1], losses[steps]
    if single is None or accumulated is None or same_loss_loose(single, accumulated):
        return []
    ratio = accumulated / single if single else float("inf")
    return [
        finding(
            "QD307",
            f"the logged loss is {single:.4g} with gradient_accumulation_steps=1 but {accumulated:.4g} with "
            f"{steps} on the same samples at learning rate 0 (x{ratio:.2f}); gradients are scaled the same way",
            "on transformers 5.x a model whose forward takes **kwargs is assumed to normalise its loss over "
            "num_items_in_batch: give forward() explicit arguments, set `model.accepts_loss_kwargs = False`, or "
            "normalise the loss by num_items_in_batch yourself",
            key="loss",
            source="gradient accumulation check",
            evidence={"loss_ga1": single, f"loss_ga{steps}": accumulated},
        )
    ]
