"""A boostcamp KLUE-MRC team's trainer_qa.py whose ``__init__`` grew a ``compute_metrics=None`` parameter
and does not pass it on: the ``compute_metrics`` train.py hands the Trainer is swallowed,
``self.compute_metrics`` stays ``None``, and ``evaluate()`` takes its "no metrics" branch every time: nothing
is logged, ``{}`` is returned, no EM/F1 and no eval loss ever exist. The loop is the baseline's
unconditional ``self.prediction_loop``; this team's train.py passes no tokenizer.
"""

from transformers import Trainer

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, compute_metrics=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None):
        eval_dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        eval_dataloader = self.get_eval_dataloader(eval_dataset)
        eval_examples = self.eval_examples if eval_examples is None else eval_examples

        compute_metrics = self.compute_metrics
        self.compute_metrics = None
        try:
            output = self.prediction_loop(
                eval_dataloader,
                description="Evaluation",
                prediction_loss_only=True if compute_metrics is None else None,
                ignore_keys=ignore_keys,
            )
        finally:
            self.compute_metrics = compute_metrics

        if self.post_process_function is not None and self.compute_metrics is not None:
            eval_preds = self.post_process_function(eval_examples, eval_dataset, output.predictions, self.args)
            metrics = self.compute_metrics(eval_preds)
            self.log(metrics)
        else:
            metrics = {}

        if self.args.tpu_metrics_debug or self.args.debug:
            import torch_xla.debug.metrics as met  # TPU hosts only

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
    name="swallowed_compute_metrics",
    imitates=(
        "boostcampaitech2/mrc-level2-nlp-04: code/trainer_qa.py (__init__(..., compute_metrics=None, **kwargs) "
        "not passed to super(); evaluate() logs only when self.compute_metrics is set)",
        "boostcampaitech2/mrc-level2-nlp-04: code/train.py (QuestionAnsweringTrainer(..., compute_metrics="
        "compute_metrics))",
    ),
    task="qa",
    written_for="4.1x",
    bug="__init__ swallows compute_metrics, so evaluate() never computes, logs or returns EM/F1 (nor an eval loss)",
    expected={
        # The primary bug (issue 11 point 8: "logs no task metric at all"): QD108, naming the swallowed
        # compute_metrics; the missing eval loss is a second, true finding (no positions, loop metrics
        # dropped); the removed APIs a warning.
        # (QD308: the QD201 fix, positions, meets 4.46's legacy prediction_loop, which cannot compute a loss
        # on accelerate's dataloaders; qadiag evaluates once with positions and says so now.)
        "4.46": expect(
            log_keys={"QD108"},
            eval_loss={"QD201", "QD308"},
            loss_swap={"QD311"},
            mentions={
                "QD108": ("compute_metrics", "__init__"),
                "QD201": ("start_positions",),
                "QD308": ("prediction_loop", "evaluation_loop"),
                "QD311": ("prediction_loop", "tpu_metrics_debug"),
            },
        ),
        # 4.57: the legacy prediction_loop no longer crashes on positions, it just computes no loss: the second
        # QD201 (with positions) names it; the rest as on 4.46.
        "4.57": expect(
            log_keys={"QD108"},
            eval_loss={"QD201"},
            loss_swap={"QD311"},
            mentions={
                "QD108": ("compute_metrics", "__init__"),
                "QD201": ("start_positions", "prediction_loop"),
                "QD311": ("prediction_loop", "tpu_metrics_debug"),
            },
        ),
        # 5.x: `self.prediction_loop` raises AttributeError in the first evaluation: one crash in evaluate(),
        # and the facts seen before it that stay true once that is fixed: the validation features carry no
        # positions, so no eval loss can exist, and tpu_metrics_debug (another line) is gone in 5.x too: the
        # next crash (an error on this line; not a consequence of the first).
        "5": expect(
            stopped_by="eval-loss",
            eval_loss={"QD308", "QD201"},
            loss_swap={"QD311"},
            mentions={
                "QD308": ("prediction_loop", "evaluation_loop"),
                "QD201": ("start_positions",),
                "QD311": ("tpu_metrics_debug",),
            },
        ),
    },
    config=QA_PREPROCESSING,
)
