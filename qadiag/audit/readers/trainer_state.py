"""``trainer_state.json`` (output dir and every ``checkpoint-*/``) -> log rows, streamed.

The file is ``json.dumps(asdict(state), indent=2, sort_keys=True)`` and its ``log_history`` can hold
millions of rows, so it is never loaded whole: a sliding window over the file is decoded one value at
a time with ``json.JSONDecoder.raw_decode`` (which also takes the bare ``NaN``/``Infinity`` the Trainer
writes). The window is decoded as Latin-1, one character per byte, so positions in it are byte
offsets; keys and strings that are not ASCII are re-decoded as UTF-8.

The Trainer writes the file non-atomically: a run killed while saving leaves it cut short (reported,
the rows before the cut are kept); a damaged row is reported and reading resumes at the next row.

Each checkpoint's history is a prefix of the later ones, so the files of one output dir are read as
one stream (the output dir's own file first, then checkpoints from the latest back) and a row already
read at the same position of an earlier file is not repeated. A file whose history departs from the
earlier ones (a checkpoint of an attempt that was later resumed from an older checkpoint) contributes
its rows from there on, so the rules see the step go back.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from qadiag.audit.readers.base import READ_CHUNK, Problems
from qadiag.audit.records import Item, LogRow, Source

LOOKAHEAD = 64 << 10
MAX_VALUE = 16 << 20
_WHITESPACE = " \t\n\r"


class _Truncated(Exception):
    def __init__(self, what: str, offset: int) -> None:
        super().__init__(what)
        self.what, self.offset = what, offset


class _Malformed(Exception):
    def __init__(self, what: str, offset: int) -> None:
        super().__init__(what)
        self.what, self.offset = what, offset


class JsonWindow:
    """A sliding window over a JSON file that decodes one value at a time."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.text = ""
        self.base = 0  # byte offset of text[0]
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fill(self, ahead: int) -> None:
        """Make ``ahead`` characters available after ``pos`` (fewer only at the end of the file)."""
        if len(self.text) - self.pos >= ahead or self.eof:
            return
        parts = [self.text[self.pos :]]
        have = len(parts[0])
        while have < ahead:
            data = self.handle.read(max(READ_CHUNK, ahead - have))
            if not data:
                self.eof = True
                break
            parts.append(data.decode("latin-1"))
            have += len(data)
        self.base += self.pos
        self.text, self.pos = "".join(parts), 0

    def peek(self) -> str:
        """The next non-whitespace character, not consumed; '' at the end of the file."""
        while True:
            self.fill(1)
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if self.eof:
                return ""

    def expect(self, char: str, where: str) -> None:
        found = self.peek()
        if found == char:
            self.pos += 1
            return
        if not found:
            raise _Truncated(f"{where} (expected {char!r})", self.offset)
        raise _Malformed(f"expected {char!r} {where}, found {found!r}", self.offset)

    def value(self, where: str) -> tuple[Any, int, str]:
        """Decode the value at the cursor: ``(value, byte offset, its raw text)``."""
        self.peek()
        ahead = LOOKAHEAD
        while True:
            self.fill(ahead)
            start = self.pos
            try:
                value, end = self.decoder.raw_decode(self.text, start)
            except json.JSONDecodeError as error:
                if self.eof and _runs_off_the_end(error, self.text):
                    raise _Truncated(where, self.base + start) from None
                if not self.eof and ahead < MAX_VALUE and _may_need_more(error, self.text):
                    ahead *= 4
                    continue
                if not self.eof and ahead >= MAX_VALUE:
                    raise _Malformed(
                        f"{where} is longer than {MAX_VALUE:,} bytes", self.base + start
                    ) from None
                raise _Malformed(f"{where}: {error.msg}", self.base + error.pos) from None
            self.pos = end
            return value, self.base + start, self.text[start:end]

    def skip_to_next_object(self) -> None:
        """After a damaged row: move to the next '{' (the next row), the closing ']' or the end."""
        self.pos += 1
        while True:
            self.fill(LOOKAHEAD)
            brace = self.text.find("{", self.pos)
            close = self.text.find("]", self.pos)
            found = [at for at in (brace, close) if at != -1]
            if found:
                self.pos = min(found)
                return
            self.pos = len(self.text)
            if self.eof:
                return


def _runs_off_the_end(error: json.JSONDecodeError, text: str) -> bool:
    tail = text[error.pos :]
    return error.msg.startswith("Unterminated string") or (len(tail) <= 32 and "\n" not in tail.rstrip())


def _may_need_more(error: json.JSONDecodeError, text: str) -> bool:
    return error.msg.startswith("Unterminated string") or len(text) - error.pos <= 1024


def _utf8(text: str) -> str:
    return text if text.isascii() else text.encode("latin-1").decode("utf-8", "replace")


def _row_values(row: dict[str, Any]) -> dict[str, Any]:
    return {_utf8(key): (_utf8(value) if isinstance(value, str) else value) for key, value in row.items()}


def _step(row: dict[str, Any]) -> int | None:
    step = row.pop("step", None)
    if isinstance(step, bool) or not isinstance(step, (int, float)) or step != step:
        return None
    return int(step)


def _history(window: JsonWindow, problems: Problems) -> Iterator[Any]:
    """``(position, row, offset, raw text)`` for each row of ``log_history``; findings in between."""
    window.expect("[", "at the start of log_history")
    position = 0
    while True:
        next_char = window.peek()
        if next_char == "]":
            window.pos += 1
            return
        if not next_char:
            raise _Truncated("log_history", window.offset)
        where = f"log_history[{position}]"
        try:
            row, offset, raw = window.value(where)
            if window.peek() not in (",", "]", ""):
                raise _Malformed(f"expected ',' or ']' after {where}, found {window.peek()!r}", window.offset)
        except _Malformed as error:
            yield from problems.malformed_json(f"{error.what}; skipped to the next row", error.offset)
            window.skip_to_next_object()
            position += 1
            continue
        if isinstance(row, dict):
            yield position, row, offset, raw
        else:
            yield from problems.malformed_json(f"{where} is a {type(row).__name__}, not an object", offset)
        position += 1
        if window.peek() == ",":
            window.pos += 1


def _top_level(window: JsonWindow, problems: Problems) -> Iterator[Any]:
    """Walk the top-level object; everything but ``log_history`` is skipped value by value."""
    first = window.peek()
    if first != "{":
        if not first:
            yield from problems.empty("no training state was written")
        else:
            yield from problems.wrong_format(
                "a JSON object (trainer_state.json)", window.text[:16].encode("latin-1")
            )
        return
    window.pos += 1
    found_history = False
    while window.peek() not in ("}", ""):
        key, offset, _ = window.value("a top-level key")
        if not isinstance(key, str):
            raise _Malformed(f"a top-level key must be a string, found {key!r}", offset)
        window.expect(":", f"after the key {key!r}")
        if key == "log_history":
            found_history = True
            yield from _history(window, problems)
        else:
            window.value(f"the value of {key!r}")
        if window.peek() == ",":
            window.pos += 1
    window.expect("}", "at the end of the state object")
    if not found_history:
        yield from problems.malformed_json("the state has no 'log_history' list", 0)


def read_file(path: Path, name: str, problems: Problems) -> Iterator[Any]:
    """Rows of one file as ``(position, row, offset, raw)``, and findings."""
    try:
        with open(path, "rb") as handle:
            yield from _top_level(JsonWindow(handle), problems)
    except _Truncated as error:
        yield from problems.truncated(error.what, error.offset)
    except _Malformed as error:
        yield from problems.malformed_json(f"{error.what}; the rest of the file was not read", error.offset)
    except OSError as error:
        yield from problems.unreadable(error)


def read(source: Source) -> Iterator[Item]:
    """All ``trainer_state.json`` files of one output dir as one stream of rows, duplicates dropped."""
    seen = array("q")
    index = 0
    for path in source.files:
        name = str(path)
        problems = Problems(name)
        for item in read_file(path, name, problems):
            if not isinstance(item, tuple):
                yield item
                continue
            position, row, offset, raw = item
            digest = hash(raw)
            while len(seen) < position:
                seen.append(0)
            if position < len(seen):
                if seen[position] == digest:
                    continue
                seen[position] = digest
            else:
                seen.append(digest)
            step = _step(row)
            yield LogRow(source, name, index, step, _row_values(row), None, offset)
            index += 1
        yield from problems.summary()
