"""A KLUE-MRC project whose training config sets ``label_smoothing_factor: 0.1`` (as classification configs
do) on an otherwise correct 5.x trainer_qa.py. The Trainer's label smoother only runs for batches with a
``labels`` key; QA batches carry ``start_positions``/``end_positions``, so the model's own unsmoothed loss is
what trains, exactly as with 0.0: the mirror image of seed 003.
"""

from transformers import Trainer

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS

LABEL_SMOOTHING_FACTOR = 0.1  # from the project's config.yaml (`--label_smoothing_factor 0.1`)


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None, metric_key_prefix="eval"):
        eval_dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        eval_examples = self.eval_examples if eval_examples is None else eval_examples
        compute_metrics, self.compute_metrics = self.compute_metrics, None
        try:
            output = self.evaluation_loop(
                self.get_eval_dataloader(eval_dataset),
                description="Evaluation",
                ignore_keys=ignore_keys,
                metric_key_prefix=metric_key_prefix,
            )
        finally:
            self.compute_metrics = compute_metrics
        predictions = self.post_process_function(eval_examples, eval_dataset, output.predictions)
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in compute_metrics(predictions).items()}
        metrics.update(output.metrics)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def build_trainer(
    model, processing_class, args, train_dataset, eval_dataset, eval_examples, data_collator,
    post_process_function, compute_metrics,
):
    args.label_smoothing_factor = LABEL_SMOOTHING_FACTOR
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


# A setting that never takes effect (QD310, loss-swap), on both lines: neither 4.x nor 5.x smooths QA losses.
SMOOTHING_NEVER_APPLIED = expect(loss_swap={"QD310"}, mentions={"QD310": ("label_smoothing_factor",)})

CASE = Case(
    name="qa_label_smoothing_factor",
    imitates=(
        "find_string 'label_smoothing_factor=0.1': set in TrainingArguments across classification, seq2seq and "
        "QA training scripts",
        "issue 11, point 9: --label_smoothing_factor 0.5 on QA gives the very same losses as 0",
    ),
    task="qa",
    written_for="5.x",
    bug="label_smoothing_factor=0.1 on a QA trainer: the label smoother never runs (QA batches have no 'labels')",
    expected={"4.46": SMOOTHING_NEVER_APPLIED, "5": SMOOTHING_NEVER_APPLIED},
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
