"""Reference decoding of classification samples: argmax of ``logits`` against ``labels``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qadiag.outputs import output_field


def decode_pair(outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[dict[str, Any]]:
    logits = output_field(outputs, "logits")
    labels = inputs.get("labels")
    attention = inputs.get("attention_mask")
    records = []
    for i in range(min(limit, len(inputs["input_ids"]))):
        ids = inputs["input_ids"][i]
        if attention is not None:
            ids = ids[attention[i].bool()]
        prediction = int(logits[i].argmax())
        gold = int(labels[i]) if labels is not None else None
        text = tokenizer.decode(list(map(int, ids)), skip_special_tokens=False).replace(" [PAD]", "")
        records.append({"text": text, "prediction": prediction, "gold": gold, "correct": prediction == gold})
    return records
