"""The objective this project optimises: label-smoothed cross-entropy over answer start and end."""

import torch.nn.functional as F

LABEL_SMOOTHING = 0.1


def smoothed_span_loss(outputs, labels, num_items_in_batch=None):
    start_positions, end_positions = labels
    start = F.cross_entropy(outputs["start_logits"], start_positions, label_smoothing=LABEL_SMOOTHING)
    end = F.cross_entropy(outputs["end_logits"], end_positions, label_smoothing=LABEL_SMOOTHING)
    return (start + end) / 2
