"""A QuestionAnsweringTrainer that keeps the eval loss, prefixes every metric and smooths labels.

It follows HF's ``trainer_qa.py`` (predictions are post-processed into answer texts before EM/F1 can
be computed) without its two silent bugs from seed 001: the metrics it logs are all prefixed with
``metric_key_prefix`` (so W&B files them under ``eval/``, not ``train/``), and the loss the
evaluation loop computed (``eval_loss``) is kept in the logged and returned metrics. And it applies
``label_smoothing_factor``, which the Trainer's own label smoother never does for QA batches (they
carry no ``labels`` key): the mirror image of seed 003.
"""

from __future__ import annotations

import math
import time
from typing import Any

from transformers import Trainer
from transformers.trainer_utils import PredictionOutput, speed_metrics

from qadiag.tasks.qa.loss import span_loss
from qadiag.tasks.qa.task import QuestionAnsweringTask

QA_LABELS = QuestionAnsweringTask.label_columns


def prefix_metrics(metrics: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Every key starting with ``f"{prefix}_"``, as ``Trainer.evaluation_loop`` does for its own."""
    return {key if key.startswith(f"{prefix}_") else f"{prefix}_{key}": value for key, value in metrics.items()}


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args: Any, eval_examples: Any = None, post_process_function: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        # The span loss is computed here rather than by the model so that label_smoothing_factor applies.
        if any(inputs.get(name) is None for name in QA_LABELS):
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        inputs = dict(inputs)
        labels = tuple(inputs.pop(name) for name in QA_LABELS)
        outputs = model(**inputs)
        loss = span_loss(outputs, labels, label_smoothing=float(self.args.label_smoothing_factor or 0.0))
        if isinstance(outputs, tuple):
            # as the model returns them when given labels: the Trainer takes outputs[1:] as the logits
            outputs = (loss, *outputs)
        return (loss, outputs) if return_outputs else loss

    def _predict_and_score(
        self,
        dataset: Any,
        examples: Any,
        description: str,
        ignore_keys: Any,
        metric_key_prefix: str,
        stage: str,
    ) -> tuple[Any, dict[str, Any]]:
        # evaluation_loop would call compute_metrics on raw logits; QA needs post-processing first.
        compute_metrics, self.compute_metrics = self.compute_metrics, None
        # Without label names the loop keeps every output, the loss included, among the predictions;
        # post-processing wants (start_logits, end_logits) only.
        config = getattr(self.model, "config", None)
        ignore_keys = [*(ignore_keys or getattr(config, "keys_to_ignore_at_inference", [])), "loss"]
        start_time = time.time()
        try:
            output = self.evaluation_loop(
                self.get_eval_dataloader(dataset) if stage == "eval" else self.get_test_dataloader(dataset),
                description=description,
                prediction_loss_only=True if compute_metrics is None else None,
                ignore_keys=ignore_keys,
                metric_key_prefix=metric_key_prefix,
            )
        finally:
            self.compute_metrics = compute_metrics
        batch_size = (self.args.eval_batch_size * self.args.world_size) or 1
        metrics = dict(output.metrics)
        metrics.update(
            speed_metrics(
                metric_key_prefix,
                start_time,
                num_samples=output.num_samples,
                num_steps=math.ceil(output.num_samples / batch_size),
            )
        )
        if self.post_process_function is None or compute_metrics is None or examples is None:
            return output, metrics
        predictions = self.post_process_function(examples, dataset, output.predictions, stage=stage)
        metrics.update(prefix_metrics(compute_metrics(predictions), metric_key_prefix))
        return predictions, metrics

    def evaluate(
        self,
        eval_dataset: Any = None,
        eval_examples: Any = None,
        ignore_keys: Any = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        examples = self.eval_examples if eval_examples is None else eval_examples
        _, metrics = self._predict_and_score(
            dataset, examples, "Evaluation", ignore_keys, metric_key_prefix, stage="eval"
        )
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def predict(
        self,
        predict_dataset: Any,
        predict_examples: Any = None,
        ignore_keys: Any = None,
        metric_key_prefix: str = "test",
    ) -> PredictionOutput:
        predictions, metrics = self._predict_and_score(
            predict_dataset, predict_examples, "Prediction", ignore_keys, metric_key_prefix, stage="predict"
        )
        self.control = self.callback_handler.on_predict(self.args, self.state, self.control, metrics)
        return PredictionOutput(predictions=predictions.predictions, label_ids=predictions.label_ids, metrics=metrics)
