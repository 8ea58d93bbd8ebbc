"""Which run each source belongs to: where it says it logged for, else where it lies.

W&B, TensorBoard and MLflow record the ``output_dir`` of the training; a source whose recorded output
dir is one of the discovered directories is audited with that run, even when it lies elsewhere (a
``wandb/`` dir beside the output dir, an ``mlruns/`` store). The recorded path is matched without
touching the filesystem: it came from a log, and resolving it could wander anywhere (an automounter,
``/proc``); only the discovered directories are resolved.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any

from qadiag.audit.summary import SourceSummary

# A recorded output dir is compared by at most this many trailing parts.
MAX_CLAIM_PARTS = 64


class OutputDirs:
    """The candidate directories of a set of runs, indexed by their last part."""

    def __init__(self, candidates: Iterable[Path]) -> None:
        self.by_path: dict[str, Path] = {}
        self.by_name: dict[str, list[tuple[tuple[str, ...], Path]]] = defaultdict(list)
        for path in sorted(set(candidates)):
            real = _real(path)
            self.by_path.setdefault(str(real), path)
            self.by_path.setdefault(os.path.normpath(os.path.abspath(path)), path)
            self.by_name[real.name].append((real.parts, path))

    def claimed(self, claim: Any) -> Path | None:
        """The directory a source's ``output_dir`` setting names: the same path, or else the one
        candidate whose path ends like the claim, the longest such ending first (the run may have been
        copied, or logged a relative path)."""
        if not isinstance(claim, str) or not claim or "\0" in claim:
            return None
        claimed = PurePath(claim)
        if claimed.is_absolute():
            same = self.by_path.get(os.path.normpath(claim))
            if same is not None:
                return same
        parts = [part for part in claimed.parts if part not in ("/", ".")][-MAX_CLAIM_PARTS:]
        if not parts:
            return None
        named = self.by_name.get(parts[-1], [])
        shortest = 2 if claimed.is_absolute() else 1  # an absolute path that only shares its last name is not it
        for length in range(len(parts), shortest - 1, -1):
            tail = tuple(parts[-length:])
            matches = [path for real, path in named if real[-length:] == tail]
            if matches:
                return matches[0] if len(matches) == 1 else None
        return None


def _real(path: Path) -> Path:
    """The discovered directory with its links resolved (a directory given through a link), or as given."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.normpath(os.path.abspath(path)))


def claimed_output_dir(claim: Any, candidates: Iterable[Path]) -> Path | None:
    """:meth:`OutputDirs.claimed` for one claim."""
    return OutputDirs(candidates).claimed(claim)


def group_runs(summaries: Sequence[SourceSummary], output_dirs: Sequence[Path]) -> dict[str, list[SourceSummary]]:
    """Sources by run: where a source says it logged for, else where it lies."""
    candidates = OutputDirs([*output_dirs, *(summary.source.home for summary in summaries)])
    runs: dict[str, list[SourceSummary]] = {}
    for summary in summaries:
        setting = summary.settings.get("output_dir")
        home = (candidates.claimed(setting.value) if setting else None) or summary.source.home
        runs.setdefault(str(home), []).append(summary)
    return runs
