"""Seed 003 as KLUE-RE teams wrote it: a ``CustomTrainer(loss_name, ...)`` whose ``compute_loss`` is the
Trainer's own 4.x body with the project's losses (focal, F1, CE) put where the label smoother was. The labels
are popped only ``if self.label_smoother is not None``, which is ``None`` unless ``label_smoothing_factor``
is set, so ``labels`` stays ``None``, the focal loss never runs, and the model's built-in cross-entropy
(computed from the labels still in ``inputs``) is what is optimised. The signature was brought up to date
for 4.46 (``num_items_in_batch``); the KLUE-RE baseline's train.py gives the Trainer no tokenizer.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Trainer

from tests.real_world import Case, expect

NUM_RELATIONS = 30


class FocalLoss(nn.Module):
    def __init__(self, weight=None, gamma=2.0, reduction="mean"):
        super().__init__()
        self.weight = weight
        self.gamma = gamma
        self.reduction = reduction

    def forward(self, input_tensor, target_tensor):
        log_prob = F.log_softmax(input_tensor, dim=-1)
        prob = torch.exp(log_prob)
        return F.nll_loss((1 - prob) ** self.gamma * log_prob, target_tensor, weight=self.weight,
                          reduction=self.reduction)


class F1Loss(nn.Module):
    def __init__(self, classes=NUM_RELATIONS, epsilon=1e-7):
        super().__init__()
        self.classes = classes
        self.epsilon = epsilon

    def forward(self, y_pred, y_true):
        y_true = F.one_hot(y_true, self.classes).to(torch.float32)
        y_pred = F.softmax(y_pred, dim=1)
        tp = (y_true * y_pred).sum(dim=0)
        fp = ((1 - y_true) * y_pred).sum(dim=0)
        fn = (y_true * (1 - y_pred)).sum(dim=0)
        precision = tp / (tp + fp + self.epsilon)
        recall = tp / (tp + fn + self.epsilon)
        f1 = 2 * precision * recall / (precision + recall + self.epsilon)
        return 1 - f1.clamp(min=self.epsilon, max=1 - self.epsilon).mean()


class CustomTrainer(Trainer):
    def __init__(self, loss_name, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_name = loss_name

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.label_smoother is not None and "labels" in inputs:
            labels = inputs.pop("labels")
        else:
            labels = None
        outputs = model(**inputs)

        if labels is not None:
            if self.loss_name == "focal":
                loss = FocalLoss()(outputs["logits"], labels)
            elif self.loss_name == "f1":
                loss = F1Loss()(outputs["logits"], labels)
            else:
                loss = self.label_smoother(outputs, labels)
        else:
            # We don't use .loss here since the model may return tuples instead of ModelOutput.
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
        return (loss, outputs) if return_outputs else loss


def focal_loss(outputs, labels, num_items_in_batch=None):
    """The loss the project means to optimise ([tool.qadiag] loss), in compute_loss_func's signature."""
    return FocalLoss()(outputs["logits"], labels)


def build_trainer(model, args, train_dataset, eval_dataset, data_collator, compute_metrics):
    return CustomTrainer(
        loss_name="focal",
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=data_collator,
        compute_metrics=compute_metrics,
    )


CASE = Case(
    name="klue_re_label_smoother_guard",
    imitates=(
        "boostcampaitech3/level2-klue-level2-nlp-08: custom_trainer.py (CustomTrainer(loss_name, *args, **kwargs), "
        "FocalLoss/F1Loss for 30 classes, label_smoother for 'LabelSmoothing')",
        "pskliff/vtb-data-fusion: src/hg_trainer.py and wjm9765/SCA: src/sca_train/trainer.py (Trainer.compute_loss "
        "copied: labels popped only when self.label_smoother is not None)",
        "boostcampaitech2/klue-level2-nlp-14: base_code/train.py (Trainer without a tokenizer, 30 labels)",
    ),
    task="pair-classification",
    written_for="4.46",
    bug="labels are popped only when label_smoother is set, so the focal loss never runs and the model's "
    "built-in cross-entropy is optimised (seed 003)",
    expected={
        # The declared focal loss differs from what was optimised on every batch: QD301, an error, naming the
        # cause (the label_smoother guard) as seed 003's diagnosis does.
        "4.46": expect(loss_swap={"QD301"}, mentions={"QD301": ("focal_loss", "label_smoother")}),
        # 5.x also divides nothing: BERT's forward takes **kwargs, the batch has labels, so the Trainer takes
        # the returned per-batch mean as already scaled for accumulation (measured on 5.24: loss 0.690 at GA=1,
        # 2.774 at GA=4, learning rate 0): QD307 is true of this compute_loss on 5.x.
        "5": expect(
            loss_swap={"QD301", "QD307"},
            mentions={"QD301": ("focal_loss", "label_smoother"), "QD307": ("gradient_accumulation_steps",)},
        ),
    },
    config={"loss": "focal_loss", "num_labels": NUM_RELATIONS},
)
