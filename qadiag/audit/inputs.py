"""What an audit read, in words for stderr (stdout stays the report): sources by kind with their files and
rows, and runs; logger directories next to the given ones that were not given (W&B writes ``./wandb`` in
the directory training ran from, outside the output dir); how many findings ``--select``/``--ignore`` hid.
Every path is escaped where it is printed."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from qadiag.audit.summary import SourceSummary
from qadiag.findings import Finding
from qadiag.formats import escape
from qadiag.formats.locations import relative

# Directories where loggers write next to (or above) a training output dir.
LOGGER_DIRS = ("wandb", "mlruns")
# How far above a given directory a logger directory is looked for (up to the working directory).
MAX_LEVELS_UP = 8


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def what_was_read(summaries: Sequence[SourceSummary], runs: int) -> str:
    """``read 2 runs: 2 trainer_state sources (4 files, 18 rows), 2 wandb sources (2 files, 26 rows)``."""
    by_kind: dict[str, list[SourceSummary]] = {}
    for summary in summaries:
        by_kind.setdefault(summary.source.kind, []).append(summary)
    parts = []
    for kind, members in by_kind.items():
        paths = [path for summary in members for path in summary.source.files]
        directories = sum(1 for path in paths if _is_directory(path))  # an MLflow file-store run
        read = [_plural(len(paths) - directories, "file"), _plural(directories, "run directory")]
        read = [text for text in read if not text.startswith("0 ")]
        rows = sum(summary.rows for summary in members)
        parts.append(f"{_plural(len(members), kind + ' source')} ({', '.join([*read, _plural(rows, 'row')])})")
    return f"read {_plural(runs, 'run')}: {', '.join(parts) or 'no log rows'}"


def _is_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # a link is not followed, not even to look
    except OSError:
        return False


def _below(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def unread_neighbours(arguments: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``(logger dir, given dir)`` for each ``wandb/`` or ``mlruns/`` beside a given directory or one of its
    parents (up to the working directory) that no argument covers."""
    roots = [os.path.normpath(os.path.abspath(path)) for path in arguments]
    try:
        here = os.path.normpath(os.getcwd())
    except OSError:
        here = None
    found: list[tuple[Path, Path]] = []
    seen: set[str] = set()
    for argument, root in zip(arguments, roots):
        if not os.path.isdir(root):  # a directory given through a link counts: the user chose it
            continue
        parent = os.path.dirname(root)
        for _ in range(MAX_LEVELS_UP):
            for name in LOGGER_DIRS:
                candidate = os.path.join(parent, name)
                if candidate not in seen and not _below(candidate, roots) and _is_directory(Path(candidate)):
                    seen.add(candidate)
                    found.append((Path(candidate), argument))
            if here is None or parent == here or not _below(parent, [here]) or parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)
    return found


def neighbour_warning(neighbour: Path, given: Path) -> str:
    shown, named = escape(relative(str(neighbour))), escape(str(given))
    return (
        f"warning: {shown} is next to {named} but was not given: the runs logged there were not audited "
        f"(add it: qadiag audit-logs {named} {shown})"
    )


def hidden_note(hidden: Sequence[Finding]) -> str:
    """``--select/--ignore hid 3 findings (QD602 x2, QD206)``."""
    codes = Counter(item.code for item in hidden)
    listed = ", ".join(f"{code} x{count}" if count > 1 else code for code, count in sorted(codes.items()))
    return f"--select/--ignore hid {_plural(len(hidden), 'finding')} ({listed})"
