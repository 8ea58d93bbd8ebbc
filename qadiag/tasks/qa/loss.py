"""The extractive-QA span loss, with label smoothing.

Without smoothing it is exactly ``BertForQuestionAnswering``'s loss: cross-entropy of the start and
of the end position over the sequence, averaged, positions outside the sequence ignored. The Trainer's
own label smoother never sees QA batches (they carry ``start_positions``/``end_positions``, not
``labels``), so ``label_smoothing_factor`` has to be applied here.
"""

from __future__ import annotations

from typing import Any

from qadiag.outputs import output_field


def span_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None, *, label_smoothing: float = 0.0) -> Any:
    """``(cross_entropy(start) + cross_entropy(end)) / 2`` with ``labels = (start_positions, end_positions)``.

    The signature is transformers' ``compute_loss_func``; the loss is a mean over the micro-batch, so the
    Trainer scales it for gradient accumulation itself.
    """
    import torch

    if isinstance(outputs, (tuple, list)):  # return_dict=False: (start_logits, end_logits, ...)
        start_logits, end_logits = outputs[0], outputs[1]
    else:
        start_logits, end_logits = output_field(outputs, "start_logits"), output_field(outputs, "end_logits")
    start_positions, end_positions = (torch.as_tensor(positions).reshape(-1) for positions in labels)
    ignored = start_logits.size(1)
    loss = torch.nn.CrossEntropyLoss(ignore_index=ignored, label_smoothing=label_smoothing)
    start = loss(start_logits, start_positions.clamp(0, ignored).to(start_logits.device))
    end = loss(end_logits, end_positions.clamp(0, ignored).to(end_logits.device))
    return (start + end) / 2
