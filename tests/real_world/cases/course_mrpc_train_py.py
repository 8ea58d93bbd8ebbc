"""The Hugging Face course's MRPC fine-tuning (chapter 3), as thousands of train.py files still have it:
``TrainingArguments("test-trainer", evaluation_strategy="epoch")`` built in the script, and
``Trainer(model, training_args, ..., data_collator=data_collator, tokenizer=tokenizer,
compute_metrics=compute_metrics)``. Correct for the transformers it was written for; ``evaluation_strategy``
is gone since 4.47 (``eval_strategy``) and ``tokenizer=`` since 5.0 (``processing_class=``). The run is
shrunk to qadiag's tiny data (one epoch of 8 steps, logging every 4, no reporting).
"""

from transformers import Trainer, TrainingArguments

from tests.real_world import SETUP, Case, expect


def build_trainer(model, tokenizer, output_dir, train_dataset, eval_dataset, data_collator, compute_metrics):
    training_args = TrainingArguments(
        output_dir,
        evaluation_strategy="epoch",
        num_train_epochs=1,
        per_device_train_batch_size=8,
        logging_steps=4,
        save_strategy="no",
        report_to="none",
    )
    return Trainer(
        model,
        training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=data_collator,
        tokenizer=tokenizer,
        compute_metrics=compute_metrics,
    )


TRAINING_ARGUMENTS_CRASH = expect(
    stopped_by=SETUP, setup={"QD001"}, mentions={"QD001": ("evaluation_strategy", "eval_strategy")}
)

CASE = Case(
    name="course_mrpc_train_py",
    imitates=(
        "ssfc/huggingface-tutorial: 3.3.py (the HF course's MRPC Trainer: data_collator=, tokenizer=tokenizer)",
        "boostcampaitech2/klue-level2-nlp-14: base_code/train.py (TrainingArguments(..., evaluation_strategy='steps',"
        " logging_dir='./logs') written in train.py)",
    ),
    task="pair-classification",
    written_for="4.1x-4.45",
    bug="correct for its line; uses TrainingArguments(evaluation_strategy=) (removed in 4.47) and "
    "Trainer(tokenizer=) (removed in 5.0)",
    expected={
        # 4.46: both still work (deprecated): a warning naming them and their replacements, nothing else. The
        # factory builds its own TrainingArguments, so qadiag's experiment checks cannot set theirs (learning
        # rate, steps, accumulation): a correct diagnosis does not report what those runs could not measure.
        "4.46": expect(
            loss_swap={"QD311"},
            mentions={"QD311": ("evaluation_strategy", "eval_strategy", "tokenizer", "processing_class")},
        ),
        # 4.57 and 5.x: TrainingArguments(evaluation_strategy=...) raises TypeError in the factory.
        "4.57": TRAINING_ARGUMENTS_CRASH,
        "5": TRAINING_ARGUMENTS_CRASH,
    },
)
