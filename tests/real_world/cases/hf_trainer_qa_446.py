"""A QA project on HF's trainer_qa.py as it stood for transformers 4.46, done right for that line: the loop is
still chosen with ``use_legacy_prediction_loop``, every EM/F1 key is prefixed, the loop's metrics (eval loss,
speed) are merged into what is logged and returned; run_qa.py builds it with ``processing_class=`` (4.46),
and the project's validation features keep start/end positions so that the eval loss exists.
"""

import math
import time

from transformers import Trainer
from transformers.debug_utils import DebugOption
from transformers.trainer_utils import speed_metrics

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        eval_dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        eval_dataloader = self.get_eval_dataloader(eval_dataset)
        eval_examples = self.eval_examples if eval_examples is None else eval_examples

        # Temporarily disable metric computation, we will do it in the loop here.
        compute_metrics = self.compute_metrics
        self.compute_metrics = None
        eval_loop = self.prediction_loop if self.args.use_legacy_prediction_loop else self.evaluation_loop
        start_time = time.time()
        try:
            output = eval_loop(
                eval_dataloader,
                description="Evaluation",
                # No point gathering the predictions if there are no metrics, otherwise we defer to
                # self.args.prediction_loss_only
                prediction_loss_only=True if compute_metrics is None else None,
                ignore_keys=ignore_keys,
                metric_key_prefix=metric_key_prefix,
            )
        finally:
            self.compute_metrics = compute_metrics
        total_batch_size = self.args.eval_batch_size * self.args.world_size
        if f"{metric_key_prefix}_jit_compilation_time" in output.metrics:
            start_time += output.metrics[f"{metric_key_prefix}_jit_compilation_time"]
        output.metrics.update(
            speed_metrics(
                metric_key_prefix,
                start_time,
                num_samples=output.num_samples,
                num_steps=math.ceil(output.num_samples / total_batch_size),
            )
        )
        if self.post_process_function is not None and self.compute_metrics is not None and self.args.should_save:
            # Only the main node write the results by default
            eval_preds = self.post_process_function(eval_examples, eval_dataset, output.predictions)
            metrics = self.compute_metrics(eval_preds)

            # Prefix all keys with metric_key_prefix + '_'
            for key in list(metrics.keys()):
                if not key.startswith(f"{metric_key_prefix}_"):
                    metrics[f"{metric_key_prefix}_{key}"] = metrics.pop(key)
            metrics.update(output.metrics)
        else:
            metrics = output.metrics

        if self.args.should_log:
            # Only the main node log the results by default
            self.log(metrics)

        if DebugOption.TPU_METRICS_DEBUG in self.args.debug:
            import torch_xla.debug.metrics as met  # TPU hosts only

            print(met.metrics_report())

        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def build_trainer(
    model, tokenizer, args, train_dataset, eval_dataset, eval_examples, data_collator, post_process_function,
    compute_metrics,
):
    return QuestionAnsweringTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        eval_examples=eval_examples,
        processing_class=tokenizer,
        data_collator=data_collator,
        post_process_function=post_process_function,
        compute_metrics=compute_metrics,
    )


CASE = Case(
    name="hf_trainer_qa_446",
    imitates=(
        "huggingface/transformers: examples/pytorch/question-answering/trainer_qa.py (4.2x-4.46: "
        "use_legacy_prediction_loop switch, speed_metrics, should_save/should_log, metrics.update(output.metrics))",
        "huggingface/transformers: examples/pytorch/question-answering/run_qa.py (4.46: processing_class=)",
    ),
    task="qa",
    written_for="4.46",
    bug="correct (4.x control); it reads TrainingArguments.use_legacy_prediction_loop, which 5.0 removed",
    expected={
        # Right for 4.46; the legacy-loop switch (use_legacy_prediction_loop, prediction_loop) is gone in 5.x:
        # a warning, nothing else.
        "4.46": expect(loss_swap={"QD311"}, mentions={"QD311": ("use_legacy_prediction_loop",)}),
        # 5.x: evaluate() raises AttributeError on use_legacy_prediction_loop in the first evaluation inside
        # train(): one crash in evaluate() with the replacement (evaluation_loop).
        "5": expect(
            stopped_by="eval-loss",
            eval_loss={"QD308"},
            mentions={"QD308": ("use_legacy_prediction_loop", "evaluation_loop")},
        ),
    },
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
