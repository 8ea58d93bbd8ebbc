"""``eval-loss-with-labels`` (experiment, reported by eval-loss): does the trainer report an eval loss
once the validation features carry the task's labels?

Real QA code follows HF's ``run_qa.py``: validation features without start/end positions, so the run
being diagnosed evaluates without labels (as the user's own pipeline does) and cannot show whether
eval loss would flow. This check evaluates a fresh trainer from the same factory on the same examples
made into features *with* labels, the eval-loss probe attached: a custom ``evaluate()`` that drops the
loss, a legacy ``prediction_loop`` that crashes on it, or a ``compute_metrics`` left set inside the
loop shows here, as what happens the moment the user adds positions to get ``eval_loss``. It is moot
(and skipped) when the diagnosed run already evaluated with labels.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qadiag.crash import EVALUATION_WITH_LABELS, crash_finding
from qadiag.findings import Finding

TRAIN_FEATURES = 8
TRAIN_STEPS = 2


def check(context: Any) -> list[Finding]:
    from qadiag.api import attach

    validation = context.validation
    if validation is None or set(context.task.label_columns) <= set(getattr(validation.features, "column_names", ())):
        return []
    trainer = context.trainer_with(
        context.subset(TRAIN_FEATURES),
        eval_dataset=validation.labelled_features(),
        max_steps=TRAIN_STEPS,
        logging_steps=1,
        eval_strategy="no",
        save_strategy="no",
        report_to=[],
        output_dir=str(context.workdir / "eval-loss-with-labels"),
    )
    if trainer is None:
        return []
    run = attach(
        trainer, ["eval-loss"], loss=context.loss, console=False, task=context.task, tokenizer=context.tokenizer
    )
    crash = None
    try:
        trainer.train()  # a few steps, so the probe can compare the training and the evaluation objective
        trainer.evaluate()
    except Exception as error:
        crash = crash_finding(error, EVALUATION_WITH_LABELS, trainer=trainer)
    findings = [item for item in run.finish().findings if item.probe == "eval-loss"]
    note = " (when the validation features carry the labels eval loss needs)"
    findings = [replace(item, message=item.message + note) for item in findings]
    if crash is not None:  # its message says with which features it crashed
        findings = [item for item in findings if item.evidence.get("setup_fact")] + [crash]
    return findings
