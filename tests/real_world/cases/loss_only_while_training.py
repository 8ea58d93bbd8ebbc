"""A QA project that trains on a label-smoothed span loss and, like modelopt's ``KDTrainer`` ("change the
training loss ... and keep the original validation loss"), hands evaluation back to the Trainer: its
``compute_loss`` uses the custom loss only ``if model.training``. The logged ``eval_loss`` is then the model's
plain cross-entropy while ``loss`` is the smoothed one: the two curves measure different objectives, and
overfitting read off them is an artefact. Otherwise a correct 5.x trainer_qa.py.
"""

import torch.nn.functional as F
from transformers import Trainer

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS

LABEL_SMOOTHING = 0.1


def smoothed_span_loss(outputs, labels, num_items_in_batch=None):
    start_positions, end_positions = labels
    start = F.cross_entropy(outputs["start_logits"], start_positions, label_smoothing=LABEL_SMOOTHING)
    end = F.cross_entropy(outputs["end_logits"], end_positions, label_smoothing=LABEL_SMOOTHING)
    return (start + end) / 2


class QuestionAnsweringTrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = (inputs.pop("start_positions"), inputs.pop("end_positions"))
        outputs = model(**inputs)
        loss = smoothed_span_loss(outputs, labels, num_items_in_batch)
        return (loss, outputs) if return_outputs else loss

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


# Training optimises the declared loss (no QD301); evaluation reports another objective: QD203 (a warning),
# naming the cause in the project's compute_loss (the model.training branch).
OTHER_OBJECTIVE = expect(eval_loss={"QD203"}, mentions={"QD203": ("model.training",)})

CASE = Case(
    name="loss_only_while_training",
    imitates=(
        "NVIDIA/TensorRT-Model-Optimizer: modelopt/torch/distill/plugins/huggingface.py (KDTrainer.compute_loss: "
        "the custom loss for training, 'keep the original validation loss')",
        "issue 11, point 8: a compute_loss that uses the declared loss only while model.training",
    ),
    task="qa",
    written_for="5.x",
    bug="compute_loss applies the label-smoothed span loss only while model.training, so eval_loss is the plain "
    "cross-entropy and not the training objective",
    expected={"4.46": OTHER_OBJECTIVE, "5": OTHER_OBJECTIVE},
    config={"loss": "smoothed_span_loss", **QA_PREPROCESSING_WITH_EVAL_POSITIONS},
)
