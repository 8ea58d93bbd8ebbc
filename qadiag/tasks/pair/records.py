"""MRPC-style records: two non-empty sentences and a class index below the model's ``num_labels``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qadiag.data import require_text
from qadiag.errors import InputError


def validate_pair_record(record: Mapping[str, Any], path: Path, where: str, *, num_labels: int | None = None) -> None:
    require_text(record, "sentence1", path, where)
    require_text(record, "sentence2", path, where)
    label = record.get("label")
    if not isinstance(label, int) or isinstance(label, bool) or label < 0:
        raise InputError(
            f"field 'label' is {label!r}, expected a class index (0, 1, ...)", source=str(path), record=where
        )
    if num_labels is not None and label >= num_labels:
        raise InputError(
            f"field 'label' is {label}, but the model predicts {num_labels} classes (0 to {num_labels - 1})",
            source=str(path),
            record=where,
            fix="relabel the data, or train a model with num_labels covering every label",
        )
