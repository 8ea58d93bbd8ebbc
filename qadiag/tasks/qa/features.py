"""QA preprocessing in the HF ``run_qa.py`` convention, with labels on validation features when wanted.

A long context becomes several features (windows of ``max_seq_length`` tokens overlapping by
``doc_stride``). Each feature gets ``start_positions``/``end_positions``: the answer's token span, or
the CLS index when the answer is not inside that window. Validation features keep those labels as
well (so ``prediction_step`` computes an eval loss: the fix from seed 001) plus ``example_id`` and an
``offset_mapping`` in which non-context tokens are ``None`` (so post-processing never decodes a span
from the question or from special tokens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Batch = Mapping[str, Sequence[Any]]


def _tokenize(examples: Batch, tokenizer: Any, max_seq_length: int, doc_stride: int) -> Any:
    pad_on_right = tokenizer.padding_side == "right"
    # Leading whitespace in questions eats context tokens when truncating "only_second".
    questions = [question.lstrip() for question in examples["question"]]
    contexts = examples["context"]
    return tokenizer(
        questions if pad_on_right else contexts,
        contexts if pad_on_right else questions,
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def _context_sequence_id(tokenizer: Any) -> int:
    return 1 if tokenizer.padding_side == "right" else 0


def answer_token_span(
    offsets: Sequence[tuple[int, int]],
    sequence_ids: Sequence[int | None],
    context_id: int,
    start_char: int,
    end_char: int,
) -> tuple[int, int] | None:
    """Token indices covering characters ``[start_char, end_char)`` of the context, or None when the
    answer is not entirely inside this window."""
    context_tokens = [i for i, seq in enumerate(sequence_ids) if seq == context_id]
    if not context_tokens:
        return None
    first, last = context_tokens[0], context_tokens[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return None
    start = first
    while start <= last and offsets[start][1] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][0] >= end_char:
        end -= 1
    return start, end


def _label_features(tokenized: Any, examples: Batch, tokenizer: Any) -> tuple[list[int], list[int]]:
    context_id = _context_sequence_id(tokenizer)
    start_positions, end_positions = [], []
    for feature, offsets in enumerate(tokenized["offset_mapping"]):
        cls_index = tokenized["input_ids"][feature].index(tokenizer.cls_token_id)
        answers = examples["answers"][tokenized["overflow_to_sample_mapping"][feature]]
        span = None
        if answers["answer_start"]:
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            span = answer_token_span(offsets, tokenized.sequence_ids(feature), context_id, start_char, end_char)
        start, end = span if span is not None else (cls_index, cls_index)
        start_positions.append(start)
        end_positions.append(end)
    return start_positions, end_positions


def prepare_train_features(
    examples: Batch, tokenizer: Any, max_seq_length: int = 128, doc_stride: int = 32
) -> dict[str, list]:
    """Tokenize a batch of raw examples into labelled training features (``Dataset.map(batched=True)``).

    ``example_id`` is kept (the Trainer drops it before batching) so that sample captures can show the
    original answer next to the decoded gold span.
    """
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    starts, ends = _label_features(tokenized, examples, tokenizer)
    features = {
        key: value for key, value in tokenized.items() if key not in ("offset_mapping", "overflow_to_sample_mapping")
    }
    if "id" in examples:
        features["example_id"] = [examples["id"][sample] for sample in tokenized["overflow_to_sample_mapping"]]
    features["start_positions"] = starts
    features["end_positions"] = ends
    return features


def prepare_validation_features(
    examples: Batch, tokenizer: Any, max_seq_length: int = 128, doc_stride: int = 32, with_labels: bool = True
) -> dict[str, list]:
    """Validation features: ``example_id``, context-only offsets and, ``with_labels``, the start/end
    positions that let ``prediction_step`` compute an eval loss (HF's ``run_qa.py`` leaves them out)."""
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    context_id = _context_sequence_id(tokenizer)
    sample_mapping = tokenized["overflow_to_sample_mapping"]
    features = {
        key: value for key, value in tokenized.items() if key not in ("offset_mapping", "overflow_to_sample_mapping")
    }
    features["example_id"] = [examples["id"][sample] for sample in sample_mapping]
    features["offset_mapping"] = [
        [offset if seq == context_id else None for offset, seq in zip(offsets, tokenized.sequence_ids(i))]
        for i, offsets in enumerate(tokenized["offset_mapping"])
    ]
    if with_labels:
        features["start_positions"], features["end_positions"] = _label_features(tokenized, examples, tokenizer)
    return features
