"""Find the log sources under the directories given to ``audit-logs``, as the registered readers claim them.

The walk (:func:`qadiag.audit.files.walk`) is iterative, bounded in depth, and follows no link below
the directories given: W&B's ``wandb/latest-run`` link points at a run that is found anyway, and a link
or special file standing where a log is expected (a name some reader claims) is a QD909 finding, never
opened. A directory named on the command line is entered even when it is a link (the user chose it); a
file named there is read only if it is a regular file. A file reached twice (overlapping arguments) is
read once.

Every reader (:data:`qadiag.audit.readers.READERS`) sees every directory listing and every file name;
the first reader that claims a file gets it. Readers then turn their claimed groups into sources, placed
by what the walk learnt (the training output dirs). Each source gets a *home*: the directory whose run
it belongs to by location; W&B, TensorBoard and MLflow runs also name their output dir in their
settings, which :mod:`qadiag.audit.runs` uses to put them in the same run.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qadiag.audit import readers
from qadiag.audit.files import MAX_DEPTH, Entry, TooDeepTree, walk
from qadiag.audit.readers.base import Layout, Reader, ReadLog
from qadiag.audit.records import Source
from qadiag.findings import Finding


@dataclass
class Discovery:
    sources: list[Source] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    output_dirs: list[Path] = field(default_factory=list)


class _Walk:
    """What the walk found: each reader's claimed groups, the output dirs, and the problems met."""

    def __init__(self, registered: Sequence[Reader]) -> None:
        self.readers = registered
        self.groups: dict[str, dict[Hashable, list[Path]]] = {
            reader.kind: defaultdict(list) for reader in registered
        }
        self.output_dirs: set[Path] = set()
        self.seen: set[tuple[int, int]] = set()
        self.log = ReadLog()

    def _first_time(self, identity: tuple[int, int] | None) -> bool:
        """False for a file (or run directory) already found through another argument."""
        if identity is None:
            return True  # vanished or unreadable: let the reader report it
        if identity in self.seen:
            return False
        self.seen.add(identity)
        return True

    def enter(self, directory: Path, entries: list[Entry]) -> frozenset[str]:
        skip: set[str] = set()
        for reader in self.readers:
            claim = reader.claim_directory(directory, entries)
            if claim is None:
                continue
            if claim.output_dir is not None:
                self.output_dirs.add(claim.output_dir)
            if claim.group is not None and self._first_time(_directory_identity(directory)):
                self.groups[reader.kind][claim.group].append(directory)
            skip |= claim.skip
        for entry in entries:
            if not entry.is_dir:
                self.file(entry)
        return frozenset(skip)

    def file(self, entry: Entry) -> None:
        for reader in self.readers:
            group = reader.claim_file(entry.directory, entry.name)
            if group is None:
                continue
            if not entry.is_file:
                self.log.file(entry.path).not_regular(entry.what())
            elif self._first_time(entry.identity()):
                self.groups[reader.kind][group].append(entry.path)
            return

    def unreadable(self, directory: Path, error: OSError) -> None:
        self.log.directory(directory).unreadable(error, what="the directory")

    def too_deep(self, directory: Path) -> None:
        self.log.directory(directory).unreadable(TooDeepTree(directory, MAX_DEPTH))

    def sources(self) -> list[Source]:
        layout = Layout(sorted(self.output_dirs))
        found: list[Source] = []
        for reader in self.readers:
            groups = self.groups[reader.kind]
            if not groups:
                continue
            with self.log.reading(f"{reader.kind} sources"):
                found.extend(reader.sources(groups, layout, self.log))
        return found


def _directory_identity(directory: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(directory)  # a directory given on the command line may be a link
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _argument(path: Path) -> Entry:
    """A file named on the command line, as the walk would list it (links not followed)."""
    try:
        is_file = os.path.isfile(path) and not os.path.islink(path)
    except OSError:
        is_file = False
    return Entry(path.parent, path.name, False, is_file)


def discover(roots: Sequence[Path]) -> Discovery:
    """All sources below ``roots`` (directories, or single log files)."""
    found = _Walk(list(readers.READERS))
    for root in roots:
        if root.is_dir():
            walk(root, enter=found.enter, unreadable=found.unreadable, too_deep=found.too_deep)
        else:
            found.file(_argument(root))
    sources = found.sources()
    return Discovery(sources, found.log.findings(), sorted(found.output_dirs))
