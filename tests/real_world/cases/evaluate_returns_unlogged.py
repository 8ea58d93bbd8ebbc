"""A QA project whose evaluate() was written from trainer_qa.py's ``predict()``: it post-processes, prefixes
the EM/F1 keys, merges the loop's metrics (eval loss included) and returns them, and tells the callbacks
(``on_evaluate``), but never calls ``self.log``. The Trainer's own ``evaluate()`` logs; this one does not, so
W&B, TensorBoard and trainer_state.json never see a single evaluation metric, and early stopping / best-model
selection only work because ``on_evaluate`` still gets the dict.
"""

import math
import time

from transformers import Trainer
from transformers.trainer_utils import speed_metrics

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None, metric_key_prefix="eval"):
        eval_dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        eval_examples = self.eval_examples if eval_examples is None else eval_examples
        compute_metrics = self.compute_metrics
        self.compute_metrics = None
        start_time = time.time()
        try:
            output = self.evaluation_loop(
                self.get_eval_dataloader(eval_dataset),
                description="Evaluation",
                ignore_keys=ignore_keys,
                metric_key_prefix=metric_key_prefix,
            )
        finally:
            self.compute_metrics = compute_metrics
        output.metrics.update(
            speed_metrics(
                metric_key_prefix,
                start_time,
                num_samples=output.num_samples,
                num_steps=math.ceil(output.num_samples / self.args.eval_batch_size),
            )
        )
        predictions = self.post_process_function(eval_examples, eval_dataset, output.predictions, "eval")
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in compute_metrics(predictions).items()}
        metrics.update(output.metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def build_trainer(
    model, processing_class, args, train_dataset, eval_dataset, eval_examples, data_collator,
    post_process_function, compute_metrics,
):
    return QuestionAnsweringTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        eval_examples=eval_examples,
        processing_class=processing_class,
        data_collator=data_collator,
        post_process_function=post_process_function,
        compute_metrics=compute_metrics,
    )


# QD105 for the metrics evaluate() returned but never logged (eval_loss among them: it exists, it just never
# reaches a logger, so QD201 would be a second finding for the same cause).
NEVER_LOGGED = expect(log_keys={"QD105"}, mentions={"QD105": ("self.log",)})

CASE = Case(
    name="evaluate_returns_unlogged",
    imitates=(
        "huggingface/transformers: examples/pytorch/question-answering/trainer_qa.py (predict(): post-process, "
        "prefix, return PredictionOutput without logging, by design for predict)",
        "issue 11, point 8: an evaluate() override that returns metrics but never logs anything",
    ),
    task="qa",
    written_for="5.x",
    bug="evaluate() returns its metrics (and calls on_evaluate) but never self.log()s them",
    expected={"4.46": NEVER_LOGGED, "5": NEVER_LOGGED},
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
