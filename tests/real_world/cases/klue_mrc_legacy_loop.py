"""A KLUE-MRC project on HF's trainer_qa.py of the transformers 4.5-4.9 era: the loop is chosen with
``self.args.use_legacy_prediction_loop``, the EM/F1 keys are prefixed, the TPU debug branch reads
``self.args.tpu_metrics_debug``. The project computes start/end positions for its validation features too
(it wants an eval loss), and the loop does compute one, but ``evaluate()`` builds what it logs and returns
from ``compute_metrics`` alone: ``output.metrics`` (``eval_loss``) is dropped. Its train.py passes no
tokenizer to the Trainer.
"""

from transformers import Trainer

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
        try:
            output = eval_loop(
                eval_dataloader, description="Evaluation", prediction_loss_only=False, ignore_keys=ignore_keys
            )
        finally:
            self.compute_metrics = compute_metrics

        if self.post_process_function is not None and self.compute_metrics is not None:
            eval_preds = self.post_process_function(eval_examples, eval_dataset, output.predictions)
            metrics = self.compute_metrics(eval_preds)
            for key in list(metrics.keys()):
                if not key.startswith(f"{metric_key_prefix}_"):
                    metrics[f"{metric_key_prefix}_{key}"] = metrics.pop(key)
            self.log(metrics)
        else:
            metrics = {}

        if self.args.tpu_metrics_debug or self.args.debug:
            import torch_xla.debug.metrics as met  # only ever true on a TPU host

            print(met.metrics_report())

        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def build_trainer(model, args, train_dataset, eval_dataset, eval_examples, data_collator, post_process_function,
                  compute_metrics):
    return QuestionAnsweringTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        eval_examples=eval_examples,
        data_collator=data_collator,
        post_process_function=post_process_function,
        compute_metrics=compute_metrics,
    )


CASE = Case(
    name="klue_mrc_legacy_loop",
    imitates=(
        "LostCow/KLUE: trainer_qa.py (eval_loop = self.prediction_loop if self.args.use_legacy_prediction_loop "
        "else self.evaluation_loop; metrics from compute_metrics only)",
        "huggingface/transformers: examples/pytorch/question-answering/trainer_qa.py (4.5-4.9)",
    ),
    task="qa",
    written_for="4.6",
    bug="evaluate() drops the evaluation loop's metrics, so the eval loss the loop computed is never logged or "
    "returned",
    expected={
        # QD201 with its cause (the loop computed eval_loss, evaluate() dropped it); the legacy-loop switch and
        # tpu_metrics_debug are gone in 5.x: a warning. No processing_class: samples decode with the tokenizer
        # qadiag injected, so no QD404.
        "4.46": expect(
            eval_loss={"QD201"},
            loss_swap={"QD311"},
            mentions={"QD201": ("output.metrics",), "QD311": ("use_legacy_prediction_loop", "tpu_metrics_debug")},
        ),
        # 5.x: `self.args.use_legacy_prediction_loop` raises AttributeError in the first evaluate() inside
        # train(): one crash in evaluate() (eval-loss's area), naming the removed argument and evaluation_loop;
        # tpu_metrics_debug, read on another line, is gone in 5.x too: the next crash, said now (an error).
        "5": expect(
            stopped_by="eval-loss",
            eval_loss={"QD308"},
            loss_swap={"QD311"},
            mentions={"QD308": ("use_legacy_prediction_loop", "evaluation_loop"), "QD311": ("tpu_metrics_debug",)},
        ),
    },
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
