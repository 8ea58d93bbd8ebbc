"""A KLUE-MRC project whose training config sets ``label_smoothing_factor: 0.1`` (as classification configs
do) on an otherwise correct 5.x trainer_qa.py. The Trainer's label smoother only runs for batches with a
``labels`` key; QA batches carry ``start_positions``/``end_positions``, so the model's own unsmoothed loss is
what trains, exactly as with 0.0: the mirror image of seed 003.
"""

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS
from tests.real_world.cases.v5_qa_trainer import build_trainer as build_qa_trainer

LABEL_SMOOTHING_FACTOR = 0.1  # from the project's config.yaml (`--label_smoothing_factor 0.1`)


def build_trainer(
    model, processing_class, args, train_dataset, eval_dataset, eval_examples, data_collator,
    post_process_function, compute_metrics,
):
    args.label_smoothing_factor = LABEL_SMOOTHING_FACTOR
    return build_qa_trainer(model, processing_class, args, train_dataset, eval_dataset, eval_examples,
                            data_collator, post_process_function, compute_metrics)


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
