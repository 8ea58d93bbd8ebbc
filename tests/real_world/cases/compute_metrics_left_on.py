"""A QA project that rewrote trainer_qa.py's evaluate() "more simply": it calls ``self.evaluation_loop`` and
post-processes afterwards, but dropped the lines that set ``self.compute_metrics = None`` around the loop.
The project gives its validation features start/end positions (for the eval loss), so the loop has labels
and calls ``compute_metrics`` itself, on the raw start/end logits; the run_qa.py-style ``compute_metrics``
(SQuAD EM/F1 over ``{"id", "prediction_text"}`` records) cannot read those and raises inside the first
evaluation. Without positions the loop would skip ``compute_metrics`` and the bug would sleep, which is how
such code survives until someone adds positions to get an eval loss.
"""

from transformers import Trainer

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
        output = self.evaluation_loop(
            self.get_eval_dataloader(eval_dataset),
            description="Evaluation",
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        predictions = self.post_process_function(eval_examples, eval_dataset, output.predictions)
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in self.compute_metrics(predictions).items()}
        metrics.update(output.metrics)
        self.log(metrics)
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


# In the project's own pipeline (its compute_metrics is run_qa.py's SQuAD metric) evaluate() raises at the
# first evaluation. qadiag's injected compute_metrics does not raise on raw logits (issue 11): the cause is
# one finding under eval-loss, QD207, saying that compute_metrics is left set while evaluation_loop runs.
CRASH_IN_EVALUATE = expect(eval_loss={"QD207"}, mentions={"QD207": ("compute_metrics", "evaluation_loop")})

CASE = Case(
    name="compute_metrics_left_on",
    imitates=(
        "huggingface/transformers: examples/pytorch/question-answering/trainer_qa.py (the `self.compute_metrics = "
        "None` around the loop, left out here)",
        "issue 11, point 4: the file of that shape among the eleven public ones (an IndexError inside qadiag's "
        "compute_metrics on 4.46)",
    ),
    task="qa",
    written_for="5.x",
    bug="evaluate() leaves compute_metrics set while evaluation_loop runs, so with labelled validation features "
    "the loop calls it on raw logits and evaluation crashes",
    expected={"4.46": CRASH_IN_EVALUATE, "5": CRASH_IN_EVALUATE},
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
