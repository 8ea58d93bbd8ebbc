"""Tokenization of MRPC-style sentence pairs and the GLUE MRPC metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def prepare_pair_features(
    examples: Mapping[str, Sequence[Any]], tokenizer: Any, max_seq_length: int = 128
) -> dict[str, list]:
    """Tokenize ``sentence1``/``sentence2`` pairs; padding is left to ``DataCollatorWithPadding``."""
    features = tokenizer(examples["sentence1"], examples["sentence2"], truncation=True, max_length=max_seq_length)
    features["labels"] = list(examples["label"])
    return dict(features)


def pair_scores(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Accuracy, and F1 of the positive class (label 1), as GLUE reports for MRPC."""
    predicted, gold = np.asarray(predicted), np.asarray(gold)
    true_positive = float(np.sum((predicted == 1) & (gold == 1)))
    predicted_positive, gold_positive = float(np.sum(predicted == 1)), float(np.sum(gold == 1))
    precision = true_positive / predicted_positive if predicted_positive else 0.0
    recall = true_positive / gold_positive if gold_positive else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(predicted == gold)) if len(gold) else 0.0
    return {"accuracy": accuracy, "f1": f1}


def compute_metrics(eval_prediction: Any) -> dict[str, float]:
    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return pair_scores(np.argmax(logits, axis=-1), eval_prediction.label_ids)
