"""A sentence-pair fine-tuning script from the transformers 3.x days, still copied from books and blog posts:
``TrainingArguments(evaluate_during_training=True, per_gpu_train_batch_size=...)`` and a plain ``Trainer``.
``evaluate_during_training`` went away in transformers 4.0 (``evaluation_strategy``, now ``eval_strategy``),
so building the arguments raises ``TypeError`` on every line qadiag supports.
"""

from transformers import Trainer, TrainingArguments

from tests.real_world import SETUP, Case, expect


def build_trainer(model, output_dir, train_dataset, eval_dataset, data_collator, compute_metrics):
    training_args = TrainingArguments(
        output_dir=output_dir,
        evaluate_during_training=True,
        per_gpu_train_batch_size=8,
        per_gpu_eval_batch_size=16,
        max_steps=8,
        logging_steps=4,
        logging_first_step=True,
        save_steps=500,
    )
    return Trainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=data_collator,
        compute_metrics=compute_metrics,
    )


CRASH = expect(
    stopped_by=SETUP, setup={"QD001"}, mentions={"QD001": ("evaluate_during_training", "eval_strategy")}
)

CASE = Case(
    name="transformers3_training_arguments",
    imitates=(
        "paulohl/hugging_face_diffusers_manuscript: HFDL_book_root/HFD_Chapter01_code_examples/"
        "Ch01-12_train_setup.py (TrainingArguments(evaluate_during_training=True, logging_dir=...))",
        "find_string 'evaluate_during_training=True': TrainingArguments(..., per_gpu_train_batch_size=32, "
        "evaluate_during_training=True) in GLUE fine-tuning scripts",
    ),
    task="pair-classification",
    written_for="3.x",
    bug="TrainingArguments(evaluate_during_training=True) was removed in transformers 4.0: the factory raises "
    "TypeError on every supported line (fix: eval_strategy='steps')",
    # The factory's crash is the one finding (the setup item owns it); every item that needs the trainer is
    # not run, and nothing that only follows from the crash is reported.
    expected={"4.46": CRASH, "5": CRASH},
)
