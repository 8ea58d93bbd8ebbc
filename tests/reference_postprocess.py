"""The straightforward per-feature loop (HF ``utils_qa.postprocess_qa_predictions`` style).

Kept as the oracle for the vectorised post-processing in tests and as the baseline in
``benchmarks/postprocess.py``; not part of the package.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def loop_postprocess(
    examples,
    features,
    predictions,
    *,
    n_best_size=20,
    max_answer_length=30,
    version_2_with_negative=False,
    null_score_diff_threshold=0.0,
) -> dict[str, str]:
    all_start, all_end = predictions[:2]
    features_of = defaultdict(list)
    for index, example_id in enumerate(features["example_id"]):
        features_of[example_id].append(index)
    offset_mapping = features["offset_mapping"]
    answers = {}
    for example_id, context in zip(examples["id"], examples["context"]):
        best_score, best_text, min_null = -np.inf, "", None
        for index in features_of[example_id]:
            offsets = offset_mapping[index]
            start_logits = np.asarray(all_start[index], dtype=np.float64)[: len(offsets)]
            end_logits = np.asarray(all_end[index], dtype=np.float64)[: len(offsets)]
            null_score = start_logits[0] + end_logits[0]
            min_null = null_score if min_null is None or null_score < min_null else min_null
            is_context = np.array([offset is not None for offset in offsets[: len(start_logits)]])
            masked_start = np.where(is_context, start_logits, -np.inf)
            masked_end = np.where(is_context, end_logits, -np.inf)
            for start in np.argsort(masked_start)[-1 : -n_best_size - 1 : -1]:
                for end in np.argsort(masked_end)[-1 : -n_best_size - 1 : -1]:
                    if not (is_context[start] and is_context[end]):
                        continue
                    if end < start or end - start + 1 > max_answer_length:
                        continue
                    score = start_logits[start] + end_logits[end]
                    if score > best_score:
                        best_score = score
                        best_text = context[offsets[start][0] : offsets[end][1]]
        if version_2_with_negative and (
            min_null is None or min_null > best_score + null_score_diff_threshold
        ):
            best_text = ""
        answers[example_id] = best_text
    return answers


def synthetic_qa(
    n_examples: int,
    seed: int,
    *,
    window: int = 24,
    stride: int = 8,
    question_tokens: int = 4,
    max_words: int = 60,
):
    """Random contexts cut into overlapping windows, with random logits: (examples, features, logits).

    Feature layout mimics BERT: [CLS] question [SEP] context-window [SEP]; offsets are None outside
    the context window, as ``prepare_validation_features`` leaves them.
    """
    rng = np.random.default_rng(seed)
    examples = {"id": [], "context": []}
    features = {"example_id": [], "offset_mapping": []}
    for number in range(n_examples):
        words = [("w" * int(rng.integers(1, 6))) + str(i) for i in range(int(rng.integers(1, max_words)))]
        context = " ".join(words)
        spans, position = [], 0
        for word in words:
            spans.append((position, position + len(word)))
            position += len(word) + 1
        example_id = f"ex{number}"
        examples["id"].append(example_id)
        examples["context"].append(context)
        first = 0
        while True:
            chunk = spans[first : first + window]
            offsets = [None] * (question_tokens + 2) + [tuple(span) for span in chunk] + [None]
            features["example_id"].append(example_id)
            features["offset_mapping"].append(offsets)
            if first + window >= len(spans):
                break
            first += window - stride
    width = max(len(offsets) for offsets in features["offset_mapping"]) + 3  # extra -100 padding columns
    count = len(features["example_id"])
    start_logits = rng.standard_normal((count, width)).astype(np.float32)
    end_logits = rng.standard_normal((count, width)).astype(np.float32)
    for row, offsets in enumerate(features["offset_mapping"]):
        start_logits[row, len(offsets) :] = -100.0
        end_logits[row, len(offsets) :] = -100.0
    return examples, features, (start_logits, end_logits)
