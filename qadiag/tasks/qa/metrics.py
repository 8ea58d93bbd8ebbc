"""SQuAD v1.1 exact match and F1, written to the official evaluation script's rules.

Normalisation (official ``evaluate-v1.1.py``): lower-case, drop ASCII punctuation, drop the articles
"a", "an", "the" as whole words, collapse whitespace. A prediction scores the maximum over the gold
answers. Scores are percentages (0-100), as ``evaluate.load("squad")`` reports them.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, ground_truth: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(truth_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction_tokens)
    recall = overlap / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def _best(metric: Any, prediction: str, ground_truths: Iterable[str]) -> float:
    return max((float(metric(prediction, truth)) for truth in ground_truths), default=0.0)


def squad_scores(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` over the reference ids (a missing prediction scores 0).

    An example with no gold answer (SQuAD v2 unanswerable) is scored against ``""``, as the official
    v2 script does, so predicting the null answer is correct there.
    """
    if not references:
        return {"exact_match": 0.0, "f1": 0.0}
    exact = f1 = 0.0
    for example_id, truths in references.items():
        prediction = predictions.get(example_id, "")
        if not truths:
            abstained = float(normalize_answer(prediction) == "")
            exact, f1 = exact + abstained, f1 + abstained
            continue
        exact += _best(exact_match_score, prediction, truths)
        f1 += _best(f1_score, prediction, truths)
    return {"exact_match": 100.0 * exact / len(references), "f1": 100.0 * f1 / len(references)}


def compute_metrics(eval_prediction: Any) -> dict[str, float]:
    """``compute_metrics`` for the ``run_qa.py`` convention: ``predictions=[{id, prediction_text}]``,
    ``label_ids=[{id, answers: {text: [...]}}]``.

    Called on raw logits instead (an ``evaluate()`` that leaves it set inside ``evaluation_loop``), it
    returns no metric rather than raising: the eval-loss probe reports that as QD207.
    """
    if not _post_processed(eval_prediction.predictions):
        return {}
    predictions = {item["id"]: item["prediction_text"] for item in eval_prediction.predictions}
    references = {item["id"]: list(item["answers"]["text"]) for item in eval_prediction.label_ids}
    return squad_scores(predictions, references)


def _post_processed(predictions: Any) -> bool:
    return isinstance(predictions, list) and all(
        isinstance(item, dict) and "prediction_text" in item for item in predictions
    )
