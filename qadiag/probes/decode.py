"""Reference decoding of sample predictions from a batch the model already ran on.

QA: the predicted span is the best ``start_logits[s] + end_logits[e]`` with ``s <= e``, both inside the
context (never question, special or padding tokens), at most ``max_answer_length`` tokens; the null
answer (CLS) wins when it scores higher. The gold span comes from ``start_positions``/``end_positions``.
Classification: argmax of ``logits`` against ``labels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from qadiag.errors import NoLogitsError
from qadiag.probes.base import output_field, output_keys, structural_token_ids

MAX_ANSWER_TOKENS = 30


@dataclass
class QASample:
    question: str
    prediction: str
    gold: str
    pred_start: int
    pred_end: int
    gold_start: int
    gold_end: int

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairSample:
    text: str
    prediction: int
    gold: int | None

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def task_of(outputs: Any) -> str:
    if output_field(outputs, "start_logits") is not None and output_field(outputs, "end_logits") is not None:
        return "qa"
    if output_field(outputs, "logits") is not None:
        return "pair-classification"
    keys = ", ".join(output_keys(outputs))
    raise NoLogitsError(f"no start_logits/end_logits or logits in model outputs (keys: {keys})")


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
    start_logits: Any, end_logits: Any, valid: Any, cls_index: int = 0, max_answer_length: int = MAX_ANSWER_TOKENS
) -> tuple[int, int]:
    """Best valid (start, end); ``(cls_index, cls_index)`` when no span beats the null score."""
    import torch

    start = torch.as_tensor(start_logits, dtype=torch.float32).masked_fill(~valid, float("-inf"))
    end = torch.as_tensor(end_logits, dtype=torch.float32).masked_fill(~valid, float("-inf"))
    scores = start[:, None] + end[None, :]
    length = torch.arange(len(end))[None, :] - torch.arange(len(start))[:, None]
    scores = scores.masked_fill((length < 0) | (length >= max_answer_length), float("-inf"))
    flat = int(torch.argmax(scores))
    best_start, best_end = divmod(flat, scores.shape[1])
    null = float(start_logits[cls_index]) + float(end_logits[cls_index])
    if not torch.isfinite(scores.flatten()[flat]) or null > float(scores[best_start, best_end]):
        return cls_index, cls_index
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


def decode_qa(outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[QASample]:
    start_logits = output_field(outputs, "start_logits")
    end_logits = output_field(outputs, "end_logits")
    special = structural_token_ids(tokenizer)
    samples = []
    for i in range(min(limit, len(inputs["input_ids"]))):
        ids = inputs["input_ids"][i]
        token_types = inputs["token_type_ids"][i] if inputs.get("token_type_ids") is not None else None
        attention = inputs["attention_mask"][i] if inputs.get("attention_mask") is not None else None
        valid = context_mask(ids, token_types, attention, special)
        cls_index = _cls_index(ids, tokenizer)
        pred_start, pred_end = best_span(start_logits[i], end_logits[i], valid, cls_index)
        gold_start = int(inputs["start_positions"][i]) if inputs.get("start_positions") is not None else -1
        gold_end = int(inputs["end_positions"][i]) if inputs.get("end_positions") is not None else -1
        samples.append(
            QASample(
                question=_question(tokenizer, ids, token_types, attention),
                prediction="" if pred_start == cls_index else _decode(tokenizer, ids[pred_start : pred_end + 1]),
                gold="" if gold_start in (-1, cls_index) else _decode(tokenizer, ids[gold_start : gold_end + 1]),
                pred_start=pred_start,
                pred_end=pred_end,
                gold_start=gold_start,
                gold_end=gold_end,
            )
        )
    return samples


def decode_pair(outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[PairSample]:
    logits = output_field(outputs, "logits")
    labels = inputs.get("labels")
    samples = []
    for i in range(min(limit, len(inputs["input_ids"]))):
        attention = inputs.get("attention_mask")
        ids = inputs["input_ids"][i]
        if attention is not None:
            ids = ids[attention[i].bool()]
        samples.append(
            PairSample(
                text=tokenizer.decode(list(map(int, ids)), skip_special_tokens=False).replace(" [PAD]", ""),
                prediction=int(logits[i].argmax()),
                gold=int(labels[i]) if labels is not None else None,
            )
        )
    return samples


def _cls_index(ids: Any, tokenizer: Any) -> int:
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    matches = [i for i, token in enumerate(map(int, ids)) if token == cls_id]
    return matches[0] if matches else 0
