"""train.py: builds the baseline's trainer from what main() prepared (here: what qadiag injects)."""

from tests.real_world.cases.boostcamp_mrc_baseline.trainer_qa import QuestionAnsweringTrainer


def build_trainer(
    model, args, train_dataset, eval_dataset, eval_examples, tokenizer, data_collator, post_process_function,
    compute_metrics,
):
    return QuestionAnsweringTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        eval_examples=eval_examples,
        tokenizer=tokenizer,
        data_collator=data_collator,
        post_process_function=post_process_function,
        compute_metrics=compute_metrics,
    )
