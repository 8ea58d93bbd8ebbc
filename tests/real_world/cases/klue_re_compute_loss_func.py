"""A KLUE-RE relation classifier (30 relations) on transformers 5.x, done right: the class-weighted
cross-entropy these projects add goes in through ``compute_loss_func`` and is normalised by
``num_items_in_batch``, the way 5.x asks a custom loss to be (the Trainer then neither divides it by the
accumulation steps nor lets it grow with them); the Trainer gets ``processing_class=``.
"""

import torch
import torch.nn.functional as F
from transformers import Trainer

from tests.real_world import CLEAN, Case

NUM_RELATIONS = 30
# no_relation dominates KLUE-RE; the projects down-weight it
CLASS_WEIGHTS = torch.tensor([0.5] + [1.0] * (NUM_RELATIONS - 1))


def weighted_relation_loss(outputs, labels, num_items_in_batch=None):
    loss = F.cross_entropy(outputs["logits"], labels, weight=CLASS_WEIGHTS, reduction="sum")
    return loss / (num_items_in_batch if num_items_in_batch is not None else labels.numel())


def build_trainer(model, processing_class, args, train_dataset, eval_dataset, data_collator, compute_metrics):
    return Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processing_class,
        data_collator=data_collator,
        compute_metrics=compute_metrics,
        compute_loss_func=weighted_relation_loss,
    )


CASE = Case(
    name="klue_re_compute_loss_func",
    imitates=(
        "boostcampaitech6/level2-klue-nlp-01: trainer.py (custom loss for the 30 KLUE-RE relations)",
        "huggingface/transformers: src/transformers/trainer.py 5.x (compute_loss_func, loss_is_scaled_for_ga: "
        "a custom loss normalised over num_items_in_batch)",
    ),
    task="pair-classification",
    written_for="5.x",
    bug="correct (control): the custom loss is compute_loss_func, normalised by num_items_in_batch",
    # compute_loss_func exists since 4.46, and a sum over the batch divided by num_items_in_batch (the count
    # over all accumulated micro-batches) does not change with the accumulation steps on any line (measured
    # with plain cross-entropy normalised this way: 0.690 at GA=1, 0.694 at GA=4, learning rate 0, on 4.46,
    # 4.57 and 5.24; the plain Trainer gives 0.690 and 2.774 on 5.24).
    expected={"4.46": CLEAN, "5": CLEAN},
    config={"loss": "weighted_relation_loss", "num_labels": NUM_RELATIONS},
)
