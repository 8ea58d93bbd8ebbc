"""The KLUE-RE focal-loss trainer of 2021-2022, unchanged: ``compute_loss(self, model, inputs,
return_outputs=False)``, the tutorial's "compute custom loss" comment and all. Since transformers 4.46 the
Trainer calls ``compute_loss(model, inputs, num_items_in_batch=...)`` on every training step, so the first
step raises ``TypeError``.
"""

from torch import nn
from transformers import Trainer

from tests.real_world import Case, expect


class FocalLoss(nn.Module):
    def __init__(self, gamma=0.5):
        super().__init__()
        self.gamma = gamma
        self.cross_entropy = nn.CrossEntropyLoss(reduction="none")

    def forward(self, logits, labels):
        per_sample = self.cross_entropy(logits, labels)
        return ((1 - (-per_sample).exp()) ** self.gamma * per_sample).mean()


class CustomTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False):
        labels = inputs.get("labels")
        # forward pass
        outputs = model(**inputs)
        logits = outputs.get("logits")
        # compute custom loss
        loss_fct = FocalLoss()
        loss = loss_fct(logits.view(-1, self.model.config.num_labels), labels.view(-1))
        return (loss, outputs) if return_outputs else loss


def build_trainer(model, args, train_dataset, eval_dataset, data_collator, compute_metrics):
    return CustomTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=data_collator,
        compute_metrics=compute_metrics,
    )


# One finding: the signature (static) and the TypeError at the first step are one cause, reported once by
# loss-swap with the fix (add num_items_in_batch=None); everything else is not run.
STALE_SIGNATURE = expect(stopped_by="loss-swap", loss_swap={"QD304"}, mentions={"QD304": ("num_items_in_batch",)})

CASE = Case(
    name="klue_re_stale_compute_loss",
    imitates=(
        "boostcampaitech3/level2-klue-level2-nlp-07: trainer.py (CustomTrainer.compute_loss(self, model, inputs, "
        "return_outputs=False) with FocalLoss)",
        "boostcampaitech2/klue-level2-nlp-14: base_code/trainer.py (DefaultTrainer, FocalLoss(gamma=0.5))",
    ),
    task="pair-classification",
    written_for="4.1x",
    bug="compute_loss(self, model, inputs, return_outputs=False) lacks num_items_in_batch, which the Trainer "
    "passes on every training step since 4.46",
    expected={"4.46": STALE_SIGNATURE, "5": STALE_SIGNATURE},
    config={"num_labels": 30},
)
