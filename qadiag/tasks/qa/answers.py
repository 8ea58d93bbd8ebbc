"""From a batch row back to its example's answer text, so a captured gold span can be checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def answer_lookup_from(features: Any, examples: Any, pad_token_id: int | None) -> Callable[[Any], str | None]:
    """``input_ids -> first answer text`` of the example the feature came from.

    Needs an ``example_id`` column in the training features (``prepare_train_features`` adds one when
    the examples have ``id``); the lookup answers None otherwise.
    """
    if "example_id" not in getattr(features, "column_names", []):
        return lambda input_ids: None
    answers = {
        example_id: answer["text"][0] if answer["text"] else ""
        for example_id, answer in zip(examples["id"], examples["answers"])
    }
    by_ids = {
        _key(ids, pad_token_id): answers.get(example_id)
        for ids, example_id in zip(features["input_ids"], features["example_id"])
    }
    return lambda input_ids: by_ids.get(_key(input_ids, pad_token_id))


def _key(input_ids: Any, pad_token_id: int | None) -> tuple[int, ...]:
    ids = [int(token) for token in input_ids]
    while ids and pad_token_id is not None and ids[-1] == pad_token_id:
        ids.pop()
    return tuple(ids)
