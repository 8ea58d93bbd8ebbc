"""A QA project on transformers 5.x, done right: HF's trainer_qa.py as the 5.x examples write it (no legacy
loop, every metric prefixed, the loop's eval loss merged into what is logged and returned), built by a
run_qa.py-style train.py with ``processing_class=``; validation features keep start/end positions so
that the evaluation loop computes an eval loss.
"""

import math
import time

from transformers import Trainer
from transformers.trainer_utils import speed_metrics

from tests.real_world import CLEAN, Case
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None, metric_key_prefix="eval"):
        eval_dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        eval_dataloader = self.get_eval_dataloader(eval_dataset)
        eval_examples = self.eval_examples if eval_examples is None else eval_examples

        # The loop must not see compute_metrics: EM/F1 need the post-processed answers, not raw logits.
        compute_metrics = self.compute_metrics
        self.compute_metrics = None
        start_time = time.time()
        try:
            output = self.evaluation_loop(
                eval_dataloader,
                description="Evaluation",
                prediction_loss_only=True if compute_metrics is None else None,
                ignore_keys=ignore_keys,
                metric_key_prefix=metric_key_prefix,
            )
        finally:
            self.compute_metrics = compute_metrics
        total_batch_size = self.args.eval_batch_size * self.args.world_size
        output.metrics.update(
            speed_metrics(
                metric_key_prefix,
                start_time,
                num_samples=output.num_samples,
                num_steps=math.ceil(output.num_samples / total_batch_size),
            )
        )
        if self.post_process_function is not None and self.compute_metrics is not None and self.args.should_save:
            eval_preds = self.post_process_function(eval_examples, eval_dataset, output.predictions)
            metrics = self.compute_metrics(eval_preds)
            for key in list(metrics.keys()):
                if not key.startswith(f"{metric_key_prefix}_"):
                    metrics[f"{metric_key_prefix}_{key}"] = metrics.pop(key)
            metrics.update(output.metrics)
        else:
            metrics = output.metrics
        if self.args.should_log:
            self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def build_trainer(
    model,
    processing_class,
    args,
    train_dataset,
    eval_dataset,
    eval_examples,
    data_collator,
    post_process_function,
    compute_metrics,
    trainer_class=QuestionAnsweringTrainer,
):
    return trainer_class(
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


CASE = Case(
    name="v5_qa_trainer",
    imitates=(
        "huggingface/transformers: examples/pytorch/question-answering/trainer_qa.py (5.x: evaluation_loop only)",
        "huggingface/transformers: examples/pytorch/question-answering/run_qa.py (Trainer built with "
        "processing_class=)",
    ),
    task="qa",
    written_for="5.x",
    bug="correct (control): prefixed metrics, eval loss kept, validation features with positions",
    # processing_class= exists since 4.46 and nothing here was removed: clean on every line.
    expected={"4.46": CLEAN, "5": CLEAN},
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
