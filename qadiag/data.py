"""Reading raw example files (JSON Lines, or JSON with a list of flat records) and validating them.

Every record is checked (by the task's validator, see :mod:`qadiag.tasks`) before `datasets` sees the
file, so that a bad record is reported as one line naming the file, the line and the example id,
instead of a pyarrow traceback or, worse, a silently wrong label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qadiag.errors import InputError

if TYPE_CHECKING:
    import datasets

Record = Mapping[str, Any]


def iter_records(path: str | Path) -> Iterator[tuple[str, Record]]:
    """Yield ``(where, record)`` from a JSON Lines file or a JSON file (a list, or ``{"data": [...]}``)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot open: {error.strerror}", source=str(path)) from None
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
            raise InputError(
                f"not UTF-8 text (byte {error.start})", source=str(path), fix="save the file as UTF-8"
            ) from None


def _json_lines_records(path: Path, handle) -> Iterator[tuple[str, Record]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(
                f"invalid JSON at column {error.colno}: {error.msg}",
                source=str(path),
                record=f"line {number}",
            ) from None
        if not isinstance(record, dict):
            raise InputError(
                f"expected a JSON object, got {type(record).__name__}",
                source=str(path),
                record=f"line {number}",
            )
        yield f"line {number}", record


def _json_document_records(path: Path, text: str) -> Iterator[tuple[str, Record]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}", source=str(path)
        ) from None
    records = document.get("data") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise InputError(
            "expected a list of examples or an object with a 'data' list",
            source=str(path),
            fix='write one example per line (JSON Lines) or {"data": [...]} with flat examples',
        )
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(
                f"expected a JSON object, got {type(record).__name__}",
                source=str(path),
                record=f"data[{index}]",
            )
        if "paragraphs" in record:
            raise InputError(
                "this is the nested SQuAD layout (data[].paragraphs[].qas[])",
                source=str(path),
                record=f"data[{index}]",
                fix="flatten it to one record per question with id, question, context, answers",
            )
        yield f"data[{index}]", record


def require_text(record: Record, field: str, path: Path, where: str) -> str:
    """``record[field]`` as non-empty text, or an :class:`InputError` naming the file and record."""
    value = record.get(field)
    if not isinstance(value, str):
        found = "missing" if field not in record else f"a {type(value).__name__}"
        raise InputError(f"field {field!r} is {found}, expected text", source=str(path), record=where)
    if not value.strip():
        raise InputError(f"field {field!r} is empty", source=str(path), record=where)
    return value


def load_examples(
    path: str | Path, validate: Callable[[Record, Path, str], None], *, duplicate_field: str | None = None
) -> datasets.Dataset:
    """Check every record of ``path`` with ``validate`` (and ``duplicate_field`` for repeats), then load it."""
    import datasets

    path = Path(path)
    seen: set[Any] = set()
    count = 0
    for where, record in iter_records(path):
        validate(record, path, where)
        if duplicate_field is not None:
            value = record[duplicate_field]
            if value in seen:
                raise InputError(f"duplicate {duplicate_field} {value!r}", source=str(path), record=where)
            seen.add(value)
        count += 1
    if count == 0:
        raise InputError("no examples in file", source=str(path))
    field = "data" if path.suffix == ".json" and path.read_text(encoding="utf-8").lstrip().startswith("{") else None
    return datasets.load_dataset("json", data_files=str(path), field=field, split="train")
