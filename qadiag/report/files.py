"""Reading files from a run dir, which is untrusted input (a pull request can shape it in CI).

Every read is bounded (a size limit per file, a length limit per line), links are never followed
(neither the file nor a directory on the way to it), and only regular files are opened: a FIFO or a
device would block or never end. A file that cannot be used raises :class:`Unusable` with what is
wrong and how to fix it; the report shows that as a note instead of failing.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class Unusable(Exception):
    """A file of the run dir that the report cannot use: ``problem`` and ``fix`` become a note."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class Malformed(Unusable):
    """A file that was read but does not parse (cut short, damaged, or not what its name says)."""


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def entry_kind(root: Path, relative: str) -> str | None:
    """What is at ``root/relative`` without following links: "file", "dir", "link", "other", or None."""
    try:
        mode = (root / relative).lstat().st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    return "dir" if stat.S_ISDIR(mode) else "other"


def _check_parents(root: Path, relative: str) -> None:
    parts = Path(relative).parts
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if entry_kind(root, parent) != "dir":
            raise Unusable(
                f"{parent} is a symbolic link or not a directory; qadiag does not follow links out of the run dir",
                f"copy the files into {root / parent} instead of linking to them",
            )


@dataclass
class OpenFile:
    handle: BinaryIO
    size: int


def open_regular(root: Path, relative: str) -> OpenFile:
    """Open ``root/relative`` for reading: a regular file reached without links, or :class:`Unusable`."""
    _check_parents(root, relative)
    path = root / relative
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise _unusable_from(error, root, relative) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unusable(
                f"{relative} is not a regular file (a directory, FIFO or device)",
                "remove it, or replace it with the file the Trainer writes under that name",
            )
    except BaseException:
        os.close(fd)
        raise
    return OpenFile(os.fdopen(fd, "rb"), info.st_size)


def _unusable_from(error: OSError, root: Path, relative: str) -> Unusable:
    path = root / relative
    if error.errno == errno.ELOOP:
        return Unusable(
            f"{relative} is a symbolic link; qadiag does not follow links out of the run dir",
            f"copy the file into {path.parent} instead of linking to it",
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return Unusable(
            f"{relative} cannot be read: {error.strerror}",
            f"make it readable for this user (e.g. `chmod u+r {path}`)",
        )
    return Unusable(
        f"{relative} cannot be opened: {error.strerror or error}",
        "check that the file exists and that its storage is mounted and healthy",
    )


def read_bytes(root: Path, relative: str, limit: int) -> bytes:
    """The whole file, when it is at most ``limit`` bytes."""
    opened = open_regular(root, relative)
    with opened.handle as handle:
        if opened.size > limit:
            raise Unusable(
                f"{relative} is {size_text(opened.size)}, more than the {size_text(limit)} the report reads",
                "nothing to fix if the run is that large; the other files were used",
            )
        return handle.read(limit + 1)[:limit]


def read_json(root: Path, relative: str, limit: int) -> Any:
    """Parsed JSON (bare NaN/Infinity accepted, as the Trainer writes them), or :class:`Unusable`."""
    data = read_bytes(root, relative, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Malformed(
            f"{relative} is not UTF-8 text (byte {error.start})",
            "the file was overwritten with other content: restore it from the machine that ran the training",
        ) from None
    except json.JSONDecodeError as error:
        raise Malformed(
            f"{relative} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
            "the run was killed while writing it or it was edited: restore it from the machine that ran the training",
        ) from None
    except RecursionError:
        raise Malformed(
            f"{relative} nests its JSON deeper than Python can parse",
            "the Trainer never writes such a file: restore it from the machine that ran the training",
        ) from None


class LineReader:
    """The complete lines of a file: at most ``region`` bytes from its start and, for a larger file,
    ``region`` bytes from its end. Lines longer than ``max_line`` bytes are counted in ``long_lines``
    and skipped without being held in memory; ``skipped_bytes`` is the middle that was not read."""

    def __init__(self, root: Path, relative: str, *, region: int, max_line: int) -> None:
        self._opened = open_regular(root, relative)
        self.size = self._opened.size
        self.region = region
        self.max_line = max_line
        self.skipped_bytes = 0
        self.long_lines = 0

    def __iter__(self) -> Iterator[bytes]:
        with self._opened.handle as handle:
            if self.size <= 2 * self.region:
                yield from self._lines(handle, self.size)
                return
            yield from self._lines(handle, self.region)
            head_end = handle.tell()
            # Land just after a newline, so that the tail starts with a whole line (and never re-reads the head).
            handle.seek(max(head_end, self.size - self.region) - 1)
            _skip_line(handle)
            self.skipped_bytes = max(0, handle.tell() - head_end)
            yield from self._lines(handle, self.size)

    def _lines(self, handle: BinaryIO, until: int) -> Iterator[bytes]:
        while handle.tell() < until:
            line = handle.readline(self.max_line + 1)
            if not line:
                return
            if len(line) > self.max_line:
                self.long_lines += 1
                _skip_line(handle)
                continue
            yield line


def _skip_line(handle: BinaryIO) -> None:
    while True:
        chunk = handle.readline(1 << 16)
        if not chunk or chunk.endswith(b"\n"):
            return


def list_dir(root: Path, relative: str = "", limit: int = 10_000) -> list[tuple[str, str]]:
    """(name, kind) of at most ``limit`` entries of a directory inside the run dir, links not followed."""
    if relative and entry_kind(root, relative) != "dir":
        return []
    entries = []
    try:
        with os.scandir(root / relative) as scan:
            for entry in scan:
                if len(entries) >= limit:
                    break
                if entry.is_symlink():
                    kind = "link"
                elif entry.is_dir(follow_symlinks=False):
                    kind = "dir"
                else:
                    kind = "file" if entry.is_file(follow_symlinks=False) else "other"
                entries.append((entry.name, kind))
    except OSError:
        return []
    return entries
