"""SQuAD-format records: id, question, non-empty context, answers whose offsets match their text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qadiag.data import require_text
from qadiag.errors import InputError


def validate_qa_record(record: Mapping[str, Any], path: Path, where: str, *, num_labels: int | None = None) -> None:
    example_id = require_text(record, "id", path, where)
    where = f"{where} (id={example_id!r})"
    require_text(record, "question", path, where)
    context = require_text(record, "context", path, where)
    answers = record.get("answers")
    if (
        not isinstance(answers, dict)
        or not isinstance(answers.get("text"), list)
        or not isinstance(answers.get("answer_start"), list)
    ):
        raise InputError(
            'field \'answers\' must be {"text": [...], "answer_start": [...]}', source=str(path), record=where
        )
    texts, starts = answers["text"], answers["answer_start"]
    if len(texts) != len(starts):
        raise InputError(
            f"answers has {len(texts)} text(s) but {len(starts)} answer_start(s)", source=str(path), record=where
        )
    for text, start in zip(texts, starts):
        if not isinstance(text, str) or not text or not isinstance(start, int) or isinstance(start, bool):
            raise InputError(
                f"bad answer {text!r} at {start!r}: need non-empty text and an integer start",
                source=str(path),
                record=where,
            )
        found = context[start : start + len(text)]
        if found != text:
            elsewhere = context.find(text)
            hint = f"; the text occurs at {elsewhere}" if elsewhere >= 0 else "; the text is not in the context"
            raise InputError(
                f"answer_start {start} points at {found!r}, not at the answer {text!r}{hint}",
                source=str(path),
                record=where,
                fix="answer_start is a character offset into context (0-based)",
            )
