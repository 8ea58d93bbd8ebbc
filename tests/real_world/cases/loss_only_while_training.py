"""A QA project that trains on a label-smoothed span loss and, like modelopt's ``KDTrainer`` ("change the
training loss ... and keep the original validation loss"), hands evaluation back to the Trainer: its
``compute_loss`` uses the custom loss only ``if model.training``. The logged ``eval_loss`` is then the model's
plain cross-entropy while ``loss`` is the smoothed one: the two curves measure different objectives, and
overfitting read off them is an artefact. Otherwise a correct 5.x trainer_qa.py.
"""

import torch.nn.functional as F

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS
from tests.real_world.cases.v5_qa_trainer import QuestionAnsweringTrainer
from tests.real_world.cases.v5_qa_trainer import build_trainer as build_qa_trainer

LABEL_SMOOTHING = 0.1


def smoothed_span_loss(outputs, labels, num_items_in_batch=None):
    start_positions, end_positions = labels
    start = F.cross_entropy(outputs["start_logits"], start_positions, label_smoothing=LABEL_SMOOTHING)
    end = F.cross_entropy(outputs["end_logits"], end_positions, label_smoothing=LABEL_SMOOTHING)
    return (start + end) / 2


class SmoothedWhileTrainingTrainer(QuestionAnsweringTrainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = (inputs.pop("start_positions"), inputs.pop("end_positions"))
        outputs = model(**inputs)
        loss = smoothed_span_loss(outputs, labels, num_items_in_batch)
        return (loss, outputs) if return_outputs else loss


def build_trainer(
    model, processing_class, args, train_dataset, eval_dataset, eval_examples, data_collator,
    post_process_function, compute_metrics,
):
    return build_qa_trainer(model, processing_class, args, train_dataset, eval_dataset, eval_examples,
                            data_collator, post_process_function, compute_metrics, SmoothedWhileTrainingTrainer)


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
