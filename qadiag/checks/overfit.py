"""``overfit`` (experiment, reported by output-capture): a few dozen steps on one small batch must
raise the exact-match rate on that batch; a loss that does not train the model cannot.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from qadiag.findings import Finding, finding

BATCH = 8
CHECK_EVERY = 5  # steps between looks at the batch (a forward pass over 8 features)


def span_accuracy(trainer: Any, dataset: Any, task: Any, tokenizer: Any) -> float:
    """Share of samples the reference decoding gets exactly right (the model in eval mode)."""
    import torch

    model = trainer.model
    was_training = model.training
    model.eval()
    hits = total = 0
    try:
        with torch.no_grad():
            for batch in trainer.get_eval_dataloader(dataset):
                device = next(model.parameters()).device
                batch = {key: value.to(device) if hasattr(value, "to") else value for key, value in batch.items()}
                records = task.decode(model(**batch), batch, tokenizer, len(batch["input_ids"]))
                hits += sum(bool(record["correct"]) for record in records)
                total += len(records)
    finally:
        model.train(was_training)
    return hits / total if total else 0.0


class StopWhenLearning(TrainerCallback):
    """Ends the experiment as soon as the batch is predicted better than before: all it has to show."""

    def __init__(self, trainer: Any, subset: Any, context: Any, before: float) -> None:
        self.trainer, self.subset, self.context, self.before = trainer, subset, context, before

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step % CHECK_EVERY == 0:
            now = span_accuracy(self.trainer, self.subset, self.context.task, self.context.tokenizer)
            control.should_training_stop = now > self.before


def check(context: Any) -> list[Finding]:
    steps = context.settings.overfit_steps
    subset = context.subset(BATCH)
    trainer = context.trainer_with(
        subset,
        max_steps=steps,
        learning_rate=5e-3,
        lr_scheduler_type="constant",
        warmup_steps=0,
        per_device_train_batch_size=len(subset),
        eval_strategy="no",
        save_strategy="no",
        logging_steps=10,
        report_to=[],
        output_dir=str(context.workdir / "overfit"),
    )
    if trainer is None:
        return []
    before = span_accuracy(trainer, subset, context.task, context.tokenizer)
    if before == 1.0:
        return []
    trainer.add_callback(StopWhenLearning(trainer, subset, context, before))
    trainer.train()
    after = span_accuracy(trainer, subset, context.task, context.tokenizer)
    if after > before:
        return []
    return [
        finding(
            "QD403",
            f"after {steps} steps on the same {len(subset)} training features, the share of them the model predicts "
            f"exactly right went from {before:.0%} to {after:.0%}: the model is not learning from this loss",
            "check that the loss being optimized is computed from the model outputs and the right labels "
            "(loss-swap), that the optimizer updates the model, and that the labels are right (alignment for QA)",
            source="overfit check",
            evidence={"before": before, "after": after},
        )
    ]
