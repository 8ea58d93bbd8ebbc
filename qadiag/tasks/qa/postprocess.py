"""Vectorised n-best post-processing: per-feature logits -> one answer text per example.

Same answers as the per-feature loop of HF ``utils_qa.postprocess_qa_predictions`` (candidates are
the ``n_best_size`` best start and end tokens *inside the context*, spans with end >= start and at most
``max_answer_length`` tokens, best ``start + end`` score across all features of an example; for SQuAD
v2 the null answer wins when its score beats the best span by more than the threshold), computed on
whole arrays instead of Python loops over features and candidate pairs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qadiag.distributed import is_main_process

# Features scored per chunk: bounds the (features x n_best x n_best) score tensor to a few MB.
_CHUNK = 2048


@dataclass(frozen=True)
class ContextOffsets:
    """Character offsets of the context tokens of each feature, padded to a common width."""

    start: np.ndarray  # [features, tokens] int64, -1 where the token is not context
    end: np.ndarray
    valid: np.ndarray  # [features, tokens] bool

    @property
    def width(self) -> int:
        return self.start.shape[1]


def context_offsets(offset_mapping: Any) -> ContextOffsets:
    """Arrays from an ``offset_mapping`` column (a pyarrow/datasets column or nested lists)."""
    arrow = _as_arrow_list(offset_mapping)
    if arrow is not None:
        return _offsets_from_arrow(arrow)
    return _offsets_from_lists(offset_mapping)


def _as_arrow_list(column: Any) -> Any:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - datasets depends on pyarrow
        return None
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    if isinstance(column, pa.Array):
        return column
    return None


def _offsets_from_arrow(column: Any) -> ContextOffsets:
    import pyarrow.compute as pc

    lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    tokens = column.flatten()
    valid_flat = tokens.is_valid().to_numpy(zero_copy_only=False)
    pairs = tokens.flatten().to_numpy(zero_copy_only=False).astype(np.int64).reshape(-1, 2)
    return _pad(lengths, valid_flat, pairs)


def _offsets_from_lists(offset_mapping: Sequence[Sequence[Any]]) -> ContextOffsets:
    lengths = np.fromiter((len(offsets) for offsets in offset_mapping), dtype=np.int64, count=len(offset_mapping))
    valid_flat = np.fromiter(
        (offset is not None for offsets in offset_mapping for offset in offsets),
        dtype=bool,
        count=int(lengths.sum()),
    )
    pairs = np.array(
        [offset for offsets in offset_mapping for offset in offsets if offset is not None], dtype=np.int64
    ).reshape(-1, 2)
    return _pad(lengths, valid_flat, pairs)


def _pad(lengths: np.ndarray, valid_flat: np.ndarray, pairs: np.ndarray) -> ContextOffsets:
    count, width = len(lengths), int(lengths.max(initial=0))
    rows = np.repeat(np.arange(count), lengths)
    cols = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    start = np.full((count, width), -1, dtype=np.int64)
    end = np.full((count, width), -1, dtype=np.int64)
    valid = np.zeros((count, width), dtype=bool)
    valid[rows, cols] = valid_flat
    start[rows[valid_flat], cols[valid_flat]] = pairs[:, 0]
    end[rows[valid_flat], cols[valid_flat]] = pairs[:, 1]
    return ContextOffsets(start, end, valid)


@dataclass(frozen=True)
class FeatureSpans:
    """Best span of each feature: token indices, score (-inf when none is valid), null score."""

    start: np.ndarray
    end: np.ndarray
    score: np.ndarray
    null_score: np.ndarray


def best_feature_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    valid: np.ndarray,
    n_best_size: int,
    max_answer_length: int,
) -> FeatureSpans:
    """For each feature, the best valid span among the top ``n_best_size`` start and end tokens."""
    width = min(start_logits.shape[1], valid.shape[1])
    start_logits = np.asarray(start_logits[:, :width], dtype=np.float64)
    end_logits = np.asarray(end_logits[:, :width], dtype=np.float64)
    valid = valid[:, :width]
    null_score = start_logits[:, 0] + end_logits[:, 0]
    parts = [
        _best_in_chunk(
            start_logits[i : i + _CHUNK],
            end_logits[i : i + _CHUNK],
            valid[i : i + _CHUNK],
            n_best_size,
            max_answer_length,
        )
        for i in range(0, len(start_logits), _CHUNK)
    ]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return FeatureSpans(empty, empty, np.zeros(0), null_score)
    starts, ends, scores = (np.concatenate(values) for values in zip(*parts))
    return FeatureSpans(starts, ends, scores, null_score)


def _best_in_chunk(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    valid: np.ndarray,
    n_best_size: int,
    max_answer_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    masked_start = np.where(valid, start_logits, -np.inf)
    masked_end = np.where(valid, end_logits, -np.inf)
    k = min(n_best_size, masked_start.shape[1])
    top_start = np.argpartition(-masked_start, k - 1, axis=1)[:, :k]
    top_end = np.argpartition(-masked_end, k - 1, axis=1)[:, :k]
    start_scores = np.take_along_axis(masked_start, top_start, axis=1)
    end_scores = np.take_along_axis(masked_end, top_end, axis=1)
    scores = start_scores[:, :, None] + end_scores[:, None, :]
    length = top_end[:, None, :] - top_start[:, :, None]
    scores = np.where((length >= 0) & (length < max_answer_length), scores, -np.inf)
    flat = scores.reshape(len(scores), -1)
    best = flat.argmax(axis=1)
    rows = np.arange(len(flat))
    return top_start[rows, best // k], top_end[rows, best % k], flat[rows, best]


def postprocess_qa_predictions(
    examples: Any,
    features: Any,
    predictions: Sequence[np.ndarray],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, str]:
    """Answer text for every example id (``""`` for a null answer when ``version_2_with_negative``).

    ``examples`` has ``id`` and ``context``; ``features`` has ``example_id`` and ``offset_mapping`` as
    produced by :func:`qadiag.tasks.qa.features.prepare_validation_features`; ``predictions`` is the
    ``(start_logits, end_logits)`` pair of arrays from ``Trainer.predict``/``evaluation_loop``.
    """
    start_logits, end_logits = (np.asarray(p) for p in predictions[:2])
    if start_logits.ndim != 2 or end_logits.shape != start_logits.shape:
        shapes = ", ".join(str(np.shape(p)) for p in predictions)
        raise ValueError(
            f"expected (start_logits, end_logits) of shape [features, tokens], got arrays of shapes {shapes}; "
            "if the first one is the loss, the Trainer did not know the label names (set "
            "TrainingArguments(label_names=['start_positions', 'end_positions']))"
        )
    feature_example_ids = _column(features, "example_id")
    if len(start_logits) != len(feature_example_ids):
        raise ValueError(
            f"got logits for {len(start_logits)} features but {len(feature_example_ids)} features were passed; "
            "post-process the same (unshuffled, unfiltered) feature dataset that was predicted on"
        )
    offsets = context_offsets(_column(features, "offset_mapping"))
    spans = best_feature_spans(start_logits, end_logits, offsets.valid, n_best_size, max_answer_length)

    example_ids = list(_column(examples, "id"))
    index_of = {example_id: i for i, example_id in enumerate(example_ids)}
    feature_example = np.fromiter((index_of[i] for i in feature_example_ids), dtype=np.int64, count=len(start_logits))
    best_feature = _best_feature_per_example(feature_example, spans.score, len(example_ids))
    min_null = np.full(len(example_ids), np.inf)
    np.minimum.at(min_null, feature_example, spans.null_score)

    contexts = _column(examples, "context")
    answers: dict[str, str] = {}
    for example, feature in enumerate(best_feature):
        has_span = feature >= 0 and np.isfinite(spans.score[feature])
        if version_2_with_negative and (
            not has_span or min_null[example] > spans.score[feature] + null_score_diff_threshold
        ):
            answers[example_ids[example]] = ""
        elif has_span:
            first, last = spans.start[feature], spans.end[feature]
            answers[example_ids[example]] = contexts[example][
                offsets.start[feature, first] : offsets.end[feature, last]
            ]
        else:
            answers[example_ids[example]] = ""
    return answers


def _best_feature_per_example(feature_example: np.ndarray, score: np.ndarray, n_examples: int) -> np.ndarray:
    """Index of the highest-scoring feature of each example (-1 for an example with no feature)."""
    order = np.lexsort((-score, feature_example))
    grouped = feature_example[order]
    first = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if len(grouped) else np.zeros(0, np.int64)
    best = np.full(n_examples, -1, dtype=np.int64)
    best[grouped[first]] = order[first]
    return best


def _column(dataset: Any, name: str) -> Any:
    """A column, as a pyarrow array for a ``datasets.Dataset`` (fast path) or as given otherwise."""
    data = getattr(dataset, "data", None)
    if data is not None and hasattr(data, "column") and getattr(dataset, "_indices", None) is None:
        column = data.column(name)
        return column if name == "offset_mapping" else column.to_pylist()
    return dataset[name]


def make_post_process_function(
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
    output_dir: str | Path | None = None,
) -> Callable[..., Any]:
    """A ``post_process_function(examples, features, predictions, stage="eval")`` in the ``run_qa.py``
    convention: returns ``EvalPrediction(predictions=[{id, prediction_text}], label_ids=[{id, answers}])``
    and, with ``output_dir``, writes ``{stage}_predictions.json`` there."""

    def post_process_function(examples: Any, features: Any, predictions: Any, stage: str = "eval") -> Any:
        from transformers import EvalPrediction

        answers = postprocess_qa_predictions(
            examples,
            features,
            predictions,
            n_best_size=n_best_size,
            max_answer_length=max_answer_length,
            version_2_with_negative=version_2_with_negative,
            null_score_diff_threshold=null_score_diff_threshold,
        )
        if output_dir is not None and is_main_process():  # every rank has all predictions: one writes
            _write_predictions(Path(output_dir) / f"{stage}_predictions.json", answers)
        formatted = [{"id": key, "prediction_text": text} for key, text in answers.items()]
        references = [{"id": ex_id, "answers": ans} for ex_id, ans in zip(examples["id"], examples["answers"])]
        return EvalPrediction(predictions=formatted, label_ids=references)

    return post_process_function


def _write_predictions(path: Path, answers: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(answers, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.replace(path)
