"""``trainer_state.json`` (output dir and every ``checkpoint-*/``) -> log rows, streamed.

The file is ``json.dumps(asdict(state), indent=2, sort_keys=True)`` and its ``log_history`` can hold
millions of rows, so it is never loaded whole: a sliding window over the file is decoded one value at
a time with ``json.JSONDecoder.raw_decode`` (which also takes the bare ``NaN``/``Infinity`` the Trainer
writes). The window is decoded as Latin-1, one character per byte, so positions in it are byte
offsets; a row whose bytes are not all ASCII (UTF-8 written raw, ``ensure_ascii=False``) is decoded
again from its bytes as UTF-8, while ``\\uXXXX`` escapes (what ``json.dumps`` writes by default) are
decoded by the JSON decoder itself.

The Trainer writes the file non-atomically: a run killed while saving leaves it cut short (reported,
the rows before the cut are kept); a damaged row is reported and reading resumes at the next row.

Each checkpoint's history is a prefix of the later ones, so the files of one output dir are read as
one stream (the output dir's own file first, then checkpoints from the latest back) and a row already
read at the same position of an earlier file is not repeated. A file whose history departs from the
earlier ones (a checkpoint of an attempt that was later resumed from an older checkpoint) contributes
its rows from there on, so the rules see the step go back.

Values are data: a row nested deeper than the decoder goes, a number of 10,000 digits or a ``step``
that is not a whole number are findings with the row's offset, never exceptions.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Hashable, Iterator, Mapping, Sequence
from json import JSONDecodeError
from pathlib import Path
from typing import Any, BinaryIO

from qadiag.audit.files import Entry, open_regular
from qadiag.audit.readers.base import (
    READ_CHUNK,
    DirectoryClaim,
    Layout,
    Problems,
    Reader,
    ReadLog,
    Record,
    TooDeep,
    describe_value,
    raw_decode,
    whole_step,
)
from qadiag.audit.records import LogRow, Source

STATE_FILE = "trainer_state.json"
LOOKAHEAD = 64 << 10
MAX_VALUE = 16 << 20
_WHITESPACE = " \t\n\r"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# A string (closed, or running off the text read so far), or a run of opening or of closing brackets:
# what skipping a value needs to see (a run is one token, so 100k levels cost a few tokens).
_BRACKETS_AND_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*(?P<closed>")?|[\[{]+|[\]}]+')


class _Truncated(Exception):
    def __init__(self, what: str, offset: int) -> None:
        super().__init__(what)
        self.what, self.offset = what, offset


class _Malformed(Exception):
    def __init__(self, what: str, offset: int) -> None:
        super().__init__(what)
        self.what, self.offset = what, offset


class _TooDeep(_Malformed):
    pass


class LineCounter:
    """Line and column (1-based) of byte offsets in a file read forward once: the newlines are counted as
    the window moves on, each byte once, so locating every row of a file costs one pass over it."""

    def __init__(self) -> None:
        self.offset = 0  # newlines before this offset are counted
        self.line = 1
        self.line_start = 0

    def advance(self, text: str, base: int, to: int) -> None:
        """Count the newlines of ``text`` (which starts at byte ``base``) up to byte ``to``."""
        start, end = self.offset - base, to - base
        if end <= start:
            return
        newlines = text.count("\n", start, end)
        if newlines:
            self.line += newlines
            self.line_start = base + text.rindex("\n", start, end) + 1
        self.offset = to

    def place(self, text: str, base: int, offset: int) -> tuple[int, int] | None:
        """``(line, column)`` of ``offset``; None for an offset before the line counted last."""
        if offset >= self.offset:
            self.advance(text, base, offset)
        elif offset < self.line_start:
            return None
        return self.line, offset - self.line_start + 1


class JsonWindow:
    """A sliding window over a JSON file that decodes one value at a time, and knows the line of any
    offset in it (:class:`LineCounter`)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.text = ""
        self.base = 0  # byte offset of text[0]
        self.pos = 0
        self.eof = False
        self.lines = LineCounter()

    def place(self, offset: int) -> tuple[int, int] | None:
        """``(line, column)`` of a byte offset at or after the start of the window."""
        if offset < self.base:
            return self.lines.place("", self.base, offset) if offset < self.lines.offset else None
        return self.lines.place(self.text, self.base, offset)

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fill(self, ahead: int) -> None:
        """Make ``ahead`` characters available after ``pos`` (fewer only at the end of the file)."""
        if len(self.text) - self.pos >= ahead or self.eof:
            return
        self.lines.advance(self.text, self.base, self.base + self.pos)  # before that text is dropped
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
                value, end = raw_decode(self.text, start)
            except TooDeep:
                raise _TooDeep(where, self.base + start) from None
            except ValueError as error:
                if not isinstance(error, JSONDecodeError):  # a number int() refuses: not JSON the Trainer writes
                    raise _Malformed(f"{where}: {error}", self.base + start) from None
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

    def skip_nested(self) -> None:
        """Move past the value at the cursor by counting brackets (outside strings), without decoding it:
        for a value nested too deep to decode. Linear in the value's length."""
        depth = 0
        while True:
            self.fill(READ_CHUNK)
            for match in _BRACKETS_AND_STRINGS.finditer(self.text, self.pos):
                token = match.group()
                if token[0] == '"':
                    if match["closed"] is None and not self.eof:
                        self.pos = match.start()  # a string cut by the end of the window: read on
                        if len(self.text) - self.pos > MAX_VALUE:
                            raise _Malformed(f"a string longer than {MAX_VALUE:,} bytes", self.offset)
                        self.fill(len(self.text) - self.pos + READ_CHUNK)
                        break
                    continue
                if token[0] in "[{":
                    depth += len(token)
                elif len(token) >= depth:
                    self.pos = match.start() + depth
                    return
                else:
                    depth -= len(token)
            else:
                self.pos = len(self.text)
                if self.eof:
                    return

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


def _runs_off_the_end(error: JSONDecodeError, text: str) -> bool:
    tail = text[error.pos :]
    return error.msg.startswith("Unterminated string") or (len(tail) <= 32 and "\n" not in tail.rstrip())


def _may_need_more(error: JSONDecodeError, text: str) -> bool:
    return error.msg.startswith("Unterminated string") or len(text) - error.pos <= 1024


def _as_utf8(row: dict[str, Any], raw: str) -> dict[str, Any]:
    """The row decoded from its bytes as UTF-8 when it holds raw non-ASCII bytes (the window read them
    one byte per character)."""
    if raw.isascii():
        return row
    decoded = raw_decode(raw.encode("latin-1").decode("utf-8", "replace"), 0)[0]
    return decoded if isinstance(decoded, dict) else row


StateRow = tuple[int, dict[str, Any], int, str, "tuple[int, int] | None"]


def _history(window: JsonWindow, problems: Problems) -> Iterator[StateRow]:
    """``(position, row, offset, raw text, (line, column))`` for each row of ``log_history``; problems go to
    ``problems``."""
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
        except _TooDeep as error:
            problems.too_deep(error.what, error.offset, "skipped it, read on")
            window.skip_nested()
            position += 1
            if window.peek() == ",":
                window.pos += 1
            continue
        except _Malformed as error:
            problems.malformed_json(f"{error.what}; skipped to the next row", error.offset)
            window.skip_to_next_object()
            position += 1
            continue
        if isinstance(row, dict):
            yield position, row, offset, raw, window.place(offset)
        else:
            problems.malformed_json(f"{where} is a {type(row).__name__}, not an object", offset)
        position += 1
        if window.peek() == ",":
            window.pos += 1


def _top_level(window: JsonWindow, problems: Problems) -> Iterator[StateRow]:
    """Walk the top-level object; everything but ``log_history`` is skipped value by value."""
    first = window.peek()
    if first != "{":
        if not first:
            problems.empty("no training state was written")
        else:
            problems.wrong_format("a JSON object (trainer_state.json)", window.text[:16].encode("latin-1"))
        return
    window.pos += 1
    found_history = False
    while window.peek() not in ("}", ""):
        key, offset, _ = window.value("a top-level key")
        if not isinstance(key, str):
            raise _Malformed(f"a top-level key must be a string, found {describe_value(key)}", offset)
        window.expect(":", f"after the key {key!r}")
        if key == "log_history":
            found_history = True
            yield from _history(window, problems)
        else:
            try:
                window.value(f"the value of {key!r}")
            except _TooDeep as error:
                problems.too_deep(error.what, error.offset, "skipped it, read on")
                window.skip_nested()
        if window.peek() == ",":
            window.pos += 1
    window.expect("}", "at the end of the state object")
    if not found_history:
        problems.malformed_json("the state has no 'log_history' list", 0)


def read_file(path: Path, problems: Problems) -> Iterator[StateRow]:
    """Rows of one file as ``(position, row, offset, raw, (line, column))``; problems go to ``problems``,
    with the line of their offset."""
    try:
        with open_regular(path) as handle:
            window = JsonWindow(handle)
            problems.locate = window.place
            yield from _top_level(window, problems)
    except _Truncated as error:
        problems.truncated(error.what, error.offset)
    except _TooDeep as error:
        problems.too_deep(error.what, error.offset, "the rest of the file was not read")
    except _Malformed as error:
        problems.malformed_json(f"{error.what}; the rest of the file was not read", error.offset)
    except OSError as error:
        problems.unreadable(error)


def checkpoint_step(name: str) -> int | None:
    match = _CHECKPOINT.match(name)
    return int(match.group(1)) if match else None


def _state_order(path: Path) -> tuple[int, int]:
    """The output dir's own file (the latest) first, then checkpoints from the latest back."""
    step = checkpoint_step(path.parent.name)
    return (1, -step) if step is not None else (0, 0)


class TrainerStateReader(Reader):
    """``trainer_state.json`` of an output dir and of its ``checkpoint-*/``, read as one source."""

    kind = "trainer_state"
    looked_for = STATE_FILE
    file_names = re.compile(re.escape(STATE_FILE))

    def group(self, directory: Path, name: str) -> Hashable:
        return directory.parent if checkpoint_step(directory.name) is not None else directory

    def claim_directory(self, directory: Path, entries: Sequence[Entry]) -> DirectoryClaim | None:
        """A directory holding checkpoints, or a state, is (or is in) a training output dir."""
        if any(entry.is_dir and checkpoint_step(entry.name) is not None for entry in entries):
            return DirectoryClaim(output_dir=directory)
        if any(entry.is_file and entry.name == STATE_FILE for entry in entries):
            return DirectoryClaim(output_dir=Path(str(self.group(directory, STATE_FILE))))
        return None

    def sources(self, groups: Mapping[Hashable, Sequence[Path]], layout: Layout, log: ReadLog) -> Iterator[Source]:
        for output_dir, files in sorted(groups.items(), key=lambda item: str(item[0])):
            home = Path(str(output_dir))
            yield Source(self.kind, str(home), tuple(sorted(files, key=_state_order)), home)

    def read(self, source: Source, log: ReadLog) -> Iterator[Record]:
        """All the files of one output dir as one stream of rows, duplicates dropped."""
        seen = array("q")
        index = 0
        for path in source.files:
            name = str(path)
            with log.reading(path) as problems:
                for position, row, offset, raw, place in read_file(path, problems):
                    digest = hash(raw)
                    while len(seen) < position:
                        seen.append(0)
                    if position < len(seen):
                        if seen[position] == digest:
                            continue
                        seen[position] = digest
                    else:
                        seen.append(digest)
                    row = _as_utf8(row, raw)
                    step = _step(row, problems, offset)
                    line, column = place or (None, None)
                    yield LogRow(source, name, index, step, row, None, offset, line=line, column=column)
                    index += 1


def _step(row: dict[str, Any], problems: Problems, offset: int) -> int | None:
    """The row's ``step`` (taken out of its values); a step that is not a whole number is reported."""
    logged = row.pop("step", None)
    step = whole_step(logged)
    if step is None and logged is not None:
        problems.bad_value(
            f"the row's step is {describe_value(logged)}, not a whole number: the row was read without a step",
            offset=offset,
        )
    return step


READER = TrainerStateReader()
