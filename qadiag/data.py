"""Reading and validating raw example files (SQuAD-format QA, MRPC-style pairs).

Every record is checked before `datasets` sees the file, so that a bad record is reported as one
line naming the file, the line and the example id, instead of a pyarrow traceback or, worse, a
silently wrong label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qadiag.errors import QadiagError

if TYPE_CHECKING:
    import datasets

Record = Mapping[str, Any]


def iter_records(path: str | Path) -> Iterator[tuple[str, Record]]:
    """Yield ``(where, record)`` from a JSON Lines file or a JSON file (a list, or ``{"data": [...]}``)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise QadiagError(f"cannot open: {error.strerror}", source=str(path)) from None
    with handle:
        try:
            first = handle.read(1)
            while first.isspace():
                first = handle.read(1)
            handle.seek(0)
            if first == "[" or (first == "{" and path.suffix == ".json"):
                yield from _json_document_records(path, handle.read())
            else:
                yield from _json_lines_records(path, handle)
        except UnicodeDecodeError as error:
            raise QadiagError(
                f"not UTF-8 text (byte {error.start})", source=str(path), fix="save the file as UTF-8"
            ) from None


def _json_lines_records(path: Path, handle) -> Iterator[tuple[str, Record]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise QadiagError(
                f"invalid JSON at column {error.colno}: {error.msg}",
                source=str(path),
                record=f"line {number}",
            ) from None
        if not isinstance(record, dict):
            raise QadiagError(
                f"expected a JSON object, got {type(record).__name__}",
                source=str(path),
                record=f"line {number}",
            )
        yield f"line {number}", record


def _json_document_records(path: Path, text: str) -> Iterator[tuple[str, Record]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise QadiagError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}", source=str(path)
        ) from None
    records = document.get("data") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise QadiagError(
            "expected a list of examples or an object with a 'data' list",
            source=str(path),
            fix='write one example per line (JSON Lines) or {"data": [...]} with flat examples',
        )
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise QadiagError(
                f"expected a JSON object, got {type(record).__name__}",
                source=str(path),
                record=f"data[{index}]",
            )
        if "paragraphs" in record:
            raise QadiagError(
                "this is the nested SQuAD layout (data[].paragraphs[].qas[])",
                source=str(path),
                record=f"data[{index}]",
                fix="flatten it to one record per question with id, question, context, answers",
            )
        yield f"data[{index}]", record


def _require_text(record: Record, field: str, path: Path, where: str) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        found = "missing" if field not in record else f"a {type(value).__name__}"
        raise QadiagError(f"field {field!r} is {found}, expected text", source=str(path), record=where)
    if not value.strip():
        raise QadiagError(f"field {field!r} is empty", source=str(path), record=where)
    return value


def validate_qa_record(record: Record, path: Path, where: str) -> None:
    """A SQuAD record: id, question, non-empty context, answers whose offsets match their text."""
    example_id = _require_text(record, "id", path, where)
    where = f"{where} (id={example_id})"
    _require_text(record, "question", path, where)
    context = _require_text(record, "context", path, where)
    answers = record.get("answers")
    if (
        not isinstance(answers, dict)
        or not isinstance(answers.get("text"), list)
        or not isinstance(answers.get("answer_start"), list)
    ):
        raise QadiagError(
            'field \'answers\' must be {"text": [...], "answer_start": [...]}',
            source=str(path),
            record=where,
        )
    texts, starts = answers["text"], answers["answer_start"]
    if len(texts) != len(starts):
        raise QadiagError(
            f"answers has {len(texts)} text(s) but {len(starts)} answer_start(s)",
            source=str(path),
            record=where,
        )
    for text, start in zip(texts, starts):
        if not isinstance(text, str) or not text or not isinstance(start, int) or isinstance(start, bool):
            raise QadiagError(
                f"bad answer {text!r} at {start!r}: need non-empty text and an integer start",
                source=str(path),
                record=where,
            )
        found = context[start : start + len(text)]
        if found != text:
            elsewhere = context.find(text)
            hint = f"; the text occurs at {elsewhere}" if elsewhere >= 0 else "; the text is not in the context"
            raise QadiagError(
                f"answer_start {start} points at {found!r}, not at the answer {text!r}{hint}",
                source=str(path),
                record=where,
                fix="answer_start is a character offset into context (0-based)",
            )


def validate_pair_record(record: Record, path: Path, where: str) -> None:
    """An MRPC-style record: two non-empty sentences and an integer label."""
    _require_text(record, "sentence1", path, where)
    _require_text(record, "sentence2", path, where)
    label = record.get("label")
    if not isinstance(label, int) or isinstance(label, bool) or label < 0:
        raise QadiagError(
            f"field 'label' is {label!r}, expected a class index (0, 1, ...)", source=str(path), record=where
        )


def _load(
    path: str | Path, validate: Callable[[Record, Path, str], None], *, duplicate_field: str | None
) -> datasets.Dataset:
    import datasets

    path = Path(path)
    seen: set[Any] = set()
    count = 0
    for where, record in iter_records(path):
        validate(record, path, where)
        if duplicate_field is not None:
            value = record[duplicate_field]
            if value in seen:
                raise QadiagError(f"duplicate {duplicate_field} {value!r}", source=str(path), record=where)
            seen.add(value)
        count += 1
    if count == 0:
        raise QadiagError("no examples in file", source=str(path))
    field = "data" if path.suffix == ".json" and path.read_text(encoding="utf-8").lstrip().startswith("{") else None
    return datasets.load_dataset("json", data_files=str(path), field=field, split="train")


def load_qa_file(path: str | Path) -> datasets.Dataset:
    """Validate and load a SQuAD-format file (JSON Lines, or JSON with flat records)."""
    return _load(path, validate_qa_record, duplicate_field="id")


def load_pair_file(path: str | Path) -> datasets.Dataset:
    """Validate and load an MRPC-style file (``sentence1``, ``sentence2``, ``label``)."""
    return _load(path, validate_pair_record, duplicate_field=None)
