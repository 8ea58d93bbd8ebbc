"""Where a finding points, the way CI tools want it: a file path relative to the working directory (the
repository root in CI), a ``file`` URI, a line and column.

A finding's ``source`` is a file, except for the few problems that concern a directory (one that cannot
be listed, or is nested too deep): the audit writes those with a trailing separator
(:func:`directory_source`), and formats that must name a file (GitHub annotations, SARIF results) do not
pretend a directory is one. Files without lines (``.wandb``, TensorBoard events, ``mlflow.db``) are placed
at line 1, column 1, as ruff places a problem that concerns a whole file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from qadiag.findings import Finding


@dataclass(frozen=True)
class FileLocation:
    path: str  # relative to the working directory when the file lies below it
    line: int | None
    column: int | None

    @property
    def start_line(self) -> int:
        return self.line or 1

    @property
    def start_column(self) -> int:
        return self.column or 1


def directory_source(path: object) -> str:
    """How a finding names a directory: its path with a trailing separator."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    return text if text.endswith(os.sep) else text + os.sep


def is_directory(source: str) -> bool:
    return source.endswith(os.sep)


def relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, else as given."""
    try:
        inside = os.path.relpath(os.path.abspath(path), os.getcwd())
    except (OSError, ValueError):  # no working directory any more, or another drive
        return path
    if inside == os.pardir or inside.startswith(os.pardir + os.sep):
        return path
    return inside + os.sep if is_directory(path) else inside


def file_location(item: Finding) -> FileLocation | None:
    """The file a finding points at, or None when it names no file (no source, or a directory)."""
    if not item.source or is_directory(item.source):
        return None
    return FileLocation(relative(item.source), item.line, item.column)


def display_path(item: Finding) -> str:
    """The path to show for a finding (a directory keeps its trailing separator); '-' when it has none."""
    return relative(item.source) if item.source else "-"


def file_uri(path: str) -> str:
    """An RFC 3986 URI reference for ``path``: relative (percent-encoded, ``/``-separated) when it is
    relative, else a ``file://`` URI. Undecodable bytes of a file name are encoded as they are on disk."""
    raw = os.fsencode(path)
    if os.sep != "/":
        raw = raw.replace(os.fsencode(os.sep), b"/")
    encoded = quote(raw, safe="/")
    return "file://" + encoded if os.path.isabs(path) else encoded
