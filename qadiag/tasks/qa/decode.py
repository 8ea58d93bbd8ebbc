"""Reference decoding of QA sample predictions from a batch the model already ran on.

The predicted span is the best ``start_logits[s] + end_logits[e]`` with ``s <= e``, both inside the
context (never question, special or padding tokens), at most ``max_answer_length`` tokens; the null
answer (CLS) wins when it scores higher. The gold span comes from ``start_positions``/``end_positions``;
a gold span on CLS means the answer is not inside this feature's window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from qadiag.outputs import output_field, structural_token_ids

MAX_ANSWER_TOKENS = 30
OUTSIDE_WINDOW_NOTE = "the answer is not inside this window, so the gold span is the null answer (CLS)"


def same_text(decoded: str, text: str) -> bool:
    """Decoded text against source text: case, whitespace and WordPiece spacing ignored."""
    return re.sub(r"\s+", "", decoded).lower() == re.sub(r"\s+", "", text).lower()


def cls_index(ids: Sequence[int], tokenizer: Any) -> int:
    """Where the CLS (or BOS) token of a feature is; 0 when it has none."""
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    return next((i for i, token in enumerate(map(int, ids)) if token == cls_id), 0)


def context_mask(input_ids: Any, token_type_ids: Any, attention_mask: Any, special_ids: set[int]) -> Any:
    """Boolean mask of context tokens: second segment, attended, not a special token."""
    import torch

    ids = torch.as_tensor(input_ids)
    mask = torch.ones_like(ids, dtype=torch.bool)
    if attention_mask is not None:
        mask &= torch.as_tensor(attention_mask).bool()
    for special in special_ids:
        mask &= ids != special
    if token_type_ids is not None and bool(torch.as_tensor(token_type_ids).any()):
        return mask & torch.as_tensor(token_type_ids).bool()
    # No segment ids (RoBERTa-style): the context follows the first separator run.
    is_special = ~mask
    first_special_after_text = (
        int(torch.nonzero(is_special[1:], as_tuple=False)[0, 0]) + 1 if is_special[1:].any() else 0
    )
    positions = torch.arange(len(ids))
    return mask & (positions > first_special_after_text)


def best_span(
    start_logits: Any, end_logits: Any, valid: Any, cls: int = 0, max_answer_length: int = MAX_ANSWER_TOKENS
) -> tuple[int, int]:
    """Best valid (start, end); ``(cls, cls)`` when no span beats the null score."""
    import torch

    start = torch.as_tensor(start_logits, dtype=torch.float32).masked_fill(~valid, float("-inf"))
    end = torch.as_tensor(end_logits, dtype=torch.float32).masked_fill(~valid, float("-inf"))
    scores = start[:, None] + end[None, :]
    length = torch.arange(len(end))[None, :] - torch.arange(len(start))[:, None]
    scores = scores.masked_fill((length < 0) | (length >= max_answer_length), float("-inf"))
    flat = int(torch.argmax(scores))
    best_start, best_end = divmod(flat, scores.shape[1])
    null = float(start_logits[cls]) + float(end_logits[cls])
    if not torch.isfinite(scores.flatten()[flat]) or null > float(scores[best_start, best_end]):
        return cls, cls
    return best_start, best_end


def _decode(tokenizer: Any, ids: Any) -> str:
    return tokenizer.decode(list(map(int, ids)), skip_special_tokens=True).strip()


def _question(tokenizer: Any, ids: Any, token_type_ids: Any, attention_mask: Any) -> str:
    import torch

    ids = torch.as_tensor(ids)
    if token_type_ids is not None and bool(torch.as_tensor(token_type_ids).any()):
        keep = ~torch.as_tensor(token_type_ids).bool()
        if attention_mask is not None:
            keep &= torch.as_tensor(attention_mask).bool()
        return _decode(tokenizer, ids[keep])
    return _decode(tokenizer, ids)


def _row(inputs: Mapping[str, Any], name: str, index: int) -> Any:
    column = inputs.get(name)
    return column[index] if column is not None else None


def decode_qa(outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[dict[str, Any]]:
    """One record per sample: question, predicted and gold text and token spans, ``correct``, and a
    ``note`` when the answer is outside the window."""
    start_logits = output_field(outputs, "start_logits")
    end_logits = output_field(outputs, "end_logits")
    special = structural_token_ids(tokenizer)
    records = []
    for i in range(min(limit, len(inputs["input_ids"]))):
        ids = inputs["input_ids"][i]
        token_types, attention = _row(inputs, "token_type_ids", i), _row(inputs, "attention_mask", i)
        cls = cls_index(ids, tokenizer)
        pred_start, pred_end = best_span(
            start_logits[i], end_logits[i], context_mask(ids, token_types, attention, special), cls
        )
        gold_start = int(inputs["start_positions"][i]) if inputs.get("start_positions") is not None else -1
        gold_end = int(inputs["end_positions"][i]) if inputs.get("end_positions") is not None else -1
        prediction = "" if pred_start == cls else _decode(tokenizer, ids[pred_start : pred_end + 1])
        gold = "" if gold_start in (-1, cls) else _decode(tokenizer, ids[gold_start : gold_end + 1])
        record = {
            "question": _question(tokenizer, ids, token_types, attention),
            "prediction": prediction,
            "gold": gold,
            "pred_start": pred_start,
            "pred_end": pred_end,
            "gold_start": gold_start,
            "gold_end": gold_end,
            "correct": gold_start != -1 and (pred_start, pred_end) == (gold_start, gold_end),
        }
        if gold_start == cls:
            record["note"] = OUTSIDE_WINDOW_NOTE
        records.append(record)
    return records


def textbook_spans(outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[tuple[str, str]]:
    """Per sample: the argmax-start..argmax-end decoding ("" when end < start), and the start token alone
    (what a decoder that takes the end index from ``start_logits`` prints: seed 000)."""
    start_logits, end_logits = output_field(outputs, "start_logits"), output_field(outputs, "end_logits")
    spans = []
    for i in range(limit):
        ids = [int(token) for token in inputs["input_ids"][i]]
        start, end = int(start_logits[i].argmax()), int(end_logits[i].argmax())
        full = tokenizer.decode(ids[start : end + 1], skip_special_tokens=True) if end >= start else ""
        spans.append((full, tokenizer.decode(ids[start : start + 1], skip_special_tokens=True)))
    return spans
