"""Reading model outputs and tokenizers the same way everywhere (probes, tasks, checks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def output_field(outputs: Any, name: str) -> Any:
    """``outputs.name`` for ModelOutput/dict outputs, None otherwise."""
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


def output_keys(outputs: Any) -> list[str]:
    """What the outputs hold, for messages: their keys, tuple positions, or their type."""
    if isinstance(outputs, Mapping):
        return list(outputs.keys())
    if isinstance(outputs, (tuple, list)):
        return [f"[{i}]" for i in range(len(outputs))]
    return [type(outputs).__name__]


def structural_token_ids(tokenizer: Any) -> set[int]:
    """CLS/SEP/PAD/BOS/EOS: the tokens that frame sequences. ``[UNK]`` and ``[MASK]`` stand for text."""
    text_like = {tokenizer.unk_token_id, getattr(tokenizer, "mask_token_id", None)}
    return set(tokenizer.all_special_ids) - text_like
