"""Opening what a run directory holds without trusting it.

Run directories are untrusted input (a pull request can shape them), so nothing here follows a
symbolic link or opens anything but a regular file: a link to ``/etc/shadow`` named
``trainer_state.json`` is reported, never read; a FIFO named like a log never blocks the audit (it is
never opened, and every open is non-blocking anyway); a directory tree is walked iteratively with a
depth bound, listing entries with ``os.scandir`` without following links.

The walk checks every directory it enters and :func:`open_regular` checks the file's own name and,
given ``below``, every directory between; what this does not cover is a tree changed *while* it is
audited (a link swapped in between the check and the open), which a static run directory cannot do.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# How deep the walk goes below each directory given on the command line.
MAX_DEPTH = 64
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(OSError):
    """A link or special file (FIFO, socket, device) where a log file was expected: not opened."""

    def __init__(self, path: Path | str, what: str) -> None:
        super().__init__(errno.EINVAL, f"{what}, not a regular file", str(path))
        self.what = what


def describe(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words."""
    for test, what in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return what
    return "a special file"


def open_regular(path: Path, *, below: Path | None = None) -> BinaryIO:
    """``path`` opened for reading, binary, if it is a regular file and no link leads to it.

    ``below``: a directory already known to be safe; every directory between it and ``path`` is
    checked not to be a link. Raises :class:`NotRegularFile` (an ``OSError``) for links and special
    files, ``IsADirectoryError`` for a directory, and the usual ``OSError`` otherwise.
    """
    if below is not None:
        check_no_link_between(below, path.parent)
    mode = os.lstat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, describe(mode))
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:  # became a link since the lstat
            raise NotRegularFile(path, "a symbolic link") from None
        raise
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, describe(mode))
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def check_no_link_between(top: Path, directory: Path) -> None:
    """Raise :class:`NotRegularFile` when a directory from ``top`` (excluded) down to ``directory`` is a
    link or not a directory."""
    try:
        parts = directory.relative_to(top).parts
    except ValueError:
        raise NotRegularFile(directory, f"outside {top}") from None
    current = top
    for part in parts:
        current = current / part
        mode = os.lstat(current).st_mode
        if not stat.S_ISDIR(mode):
            raise NotRegularFile(current, describe(mode))


@dataclass(frozen=True, slots=True)
class Entry:
    """One name in a directory, as listed, links not followed (the directory's Path is shared by its
    entries: a directory of a million files costs a million names, not a million Paths)."""

    directory: Path
    name: str
    is_dir: bool
    is_file: bool

    @property
    def path(self) -> Path:
        return self.directory / self.name

    def what(self) -> str:
        """``a symbolic link``, ``a FIFO (named pipe)``...; costs an lstat."""
        try:
            return describe(os.lstat(self.path).st_mode)
        except OSError:
            return "a file that vanished"

    def identity(self) -> tuple[int, int] | None:
        """``(device, inode)``, to read a file reached through two arguments once."""
        try:
            info = os.lstat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino


def list_directory(directory: Path) -> list[Entry]:
    """The entries of ``directory``, sorted by name, without following links (raises OSError)."""
    with os.scandir(directory) as listing:
        entries = [
            Entry(directory, item.name, item.is_dir(follow_symlinks=False), item.is_file(follow_symlinks=False))
            for item in listing
        ]
    entries.sort(key=lambda entry: entry.name)
    return entries


def walk(
    root: Path,
    *,
    enter: Callable[[Path, list[Entry]], frozenset[str]],
    unreadable: Callable[[Path, OSError], None],
    too_deep: Callable[[Path], None],
    max_depth: int = MAX_DEPTH,
) -> None:
    """Every directory below ``root`` (included), in name order, without recursion and without links.

    ``enter(directory, entries)`` sees each directory's listing and returns the names of
    sub-directories not to walk into; ``unreadable`` gets directories that cannot be listed;
    ``too_deep`` gets each directory at ``max_depth`` whose sub-directories are not walked.
    """
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        directory, depth = stack.pop()
        try:
            entries = list_directory(directory)
        except OSError as error:
            unreadable(directory, error)
            continue
        skip = enter(directory, entries)
        below = [entry.path for entry in entries if entry.is_dir and entry.name not in skip]
        if below and depth >= max_depth:
            too_deep(directory)
            continue
        stack.extend((path, depth + 1) for path in reversed(below))


def files_below(root: Path, *, max_depth: int = MAX_DEPTH) -> tuple[list[Entry], list[OSError]]:
    """Every non-directory entry below ``root`` in name order (links and special files included: the
    caller reports them), and the problems met: directories that cannot be listed, or are too deep."""
    found: list[Entry] = []
    problems: list[OSError] = []

    def enter(directory: Path, entries: list[Entry]) -> frozenset[str]:
        found.extend(entry for entry in entries if not entry.is_dir)
        return frozenset()

    def unreadable(directory: Path, error: OSError) -> None:
        problems.append(error)

    def too_deep(directory: Path) -> None:
        problems.append(TooDeepTree(directory, max_depth))

    walk(root, enter=enter, unreadable=unreadable, too_deep=too_deep, max_depth=max_depth)
    return found, problems


class TooDeepTree(OSError):
    """Directories nested deeper than the walk goes: the ones below were not searched."""

    def __init__(self, directory: Path, depth: int) -> None:
        super().__init__(errno.ELOOP, f"directories nested more than {depth} levels deep", str(directory))
        self.depth = depth
