"""Find the log sources under the directories given to ``audit-logs``.

What is looked for (DESIGN.md §1): ``trainer_state.json`` (an output dir and its ``checkpoint-*/``),
W&B ``run-<id>.wandb`` files (``wandb/offline-run-*/``, ``wandb/run-*/``), TensorBoard
``events.out.tfevents.*`` files, MLflow file-store runs (``mlruns/<exp>/<run>/``) and ``mlflow.db``.

Symbolic links are not followed below the given directories (W&B's ``wandb/latest-run`` points at a
run that is found anyway), and a file reached twice (overlapping arguments) is read once. Each source
gets a *home*: the directory whose run it belongs to by location. A TensorBoard directory below an
output dir belongs to that output dir; W&B and MLflow runs name their output dir in their config,
which :mod:`qadiag.audit.rules` uses to put them in the same run.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qadiag.audit.readers.base import Problems
from qadiag.audit.records import Source, SourceKind
from qadiag.findings import Finding

STATE_FILE = "trainer_state.json"
MLFLOW_DB = "mlflow.db"
LOOKED_FOR = (
    "trainer_state.json, W&B run-*.wandb files, TensorBoard events.out.tfevents.* files, "
    "MLflow runs (mlruns/<experiment>/<run>/) and mlflow.db"
)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_WANDB_RUN = re.compile(r"^run-(?P<id>.+)\.wandb$")
# Below an MLflow run, artifacts can hold copies of checkpoints (trainer_state.json included).
_MLFLOW_RUN_PARTS = ("metrics", "params", "tags", "artifacts")


@dataclass
class Discovery:
    sources: list[Source] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    output_dirs: list[Path] = field(default_factory=list)


@dataclass
class _Found:
    states: dict[Path, list[Path]] = field(default_factory=lambda: defaultdict(list))
    wandb: dict[tuple[Path, str], list[Path]] = field(default_factory=lambda: defaultdict(list))
    events: dict[Path, list[Path]] = field(default_factory=lambda: defaultdict(list))
    mlflow_runs: list[Path] = field(default_factory=list)
    databases: list[Path] = field(default_factory=list)
    checkpoint_parents: set[Path] = field(default_factory=set)
    seen: set[tuple[int, int]] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


def _checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT.match(path.name)
    return int(match.group(1)) if match else None


def _first_time(found: _Found, path: Path) -> bool:
    """False for a file (or MLflow run dir) already found through another argument (same inode)."""
    try:
        info = path.stat()
    except OSError:
        return True  # unreadable: let the reader report it
    key = (info.st_dev, info.st_ino)
    if key in found.seen:
        return False
    found.seen.add(key)
    return True


def _bucket(found: _Found, directory: Path, name: str) -> list[Path] | None:
    """The list a file of this name goes to; None for files that are not log sources."""
    if name == STATE_FILE:
        output_dir = directory.parent if _checkpoint_step(directory) is not None else directory
        return found.states[output_dir]
    match = _WANDB_RUN.match(name)
    if match:
        return found.wandb[(directory.parent, match["id"])]
    if name.startswith("events.out.tfevents."):
        return found.events[directory]
    if name == MLFLOW_DB:
        return found.databases
    return None


def _classify(found: _Found, directory: Path, name: str) -> None:
    bucket = _bucket(found, directory, name)
    if bucket is not None and _first_time(found, directory / name):
        bucket.append(directory / name)


def _walk(found: _Found, root: Path) -> None:
    def unreadable(error: OSError) -> None:
        found.findings.extend(Problems(str(error.filename or root)).unreadable(error))

    for top, dirnames, filenames in os.walk(root, onerror=unreadable):
        directory = Path(top)
        if "meta.yaml" in filenames and "metrics" in dirnames:
            if _first_time(found, directory):
                found.mlflow_runs.append(directory)
            dirnames[:] = [d for d in dirnames if d not in _MLFLOW_RUN_PARTS]
        if any(_checkpoint_step(Path(d)) is not None for d in dirnames):
            found.checkpoint_parents.add(directory)
        for name in filenames:
            if not os.path.islink(directory / name):
                _classify(found, directory, name)
        dirnames.sort()


def _state_order(path: Path) -> tuple[int, int]:
    """The output dir's own file (the latest) first, then checkpoints from the latest back."""
    step = _checkpoint_step(path.parent)
    return (1, -step) if step is not None else (0, 0)


def _events_order(path: Path) -> tuple[int, str]:
    """``events.out.tfevents.<unix time>.<host>...``: by creation time, then name."""
    parts = path.name.split(".")
    stamp = parts[3] if len(parts) > 3 and parts[3].isdigit() else "0"
    return int(stamp), path.name


def _events_home(directory: Path, output_dirs: Iterable[Path]) -> Path:
    """The output dir above a TensorBoard directory (``<output_dir>/runs/<stamp>``), if any."""
    candidates = set(output_dirs)
    for parent in directory.parents:
        if parent in candidates:
            return parent
    if directory.parent.name == "runs":
        return directory.parent.parent
    return directory


def _sources(found: _Found) -> Discovery:
    result = Discovery(findings=list(found.findings))
    output_dirs = sorted({*found.states, *found.checkpoint_parents})
    result.output_dirs = output_dirs
    for output_dir, files in sorted(found.states.items()):
        if files:
            ordered = tuple(sorted(files, key=_state_order))
            result.sources.append(Source(SourceKind.TRAINER_STATE, str(output_dir), ordered, output_dir))
    for (wandb_dir, run_id), files in sorted(found.wandb.items()):
        if files:
            ordered = tuple(sorted(files))
            name = str(ordered[0].parent) if len(ordered) == 1 else f"{wandb_dir} (W&B run {run_id})"
            result.sources.append(Source(SourceKind.WANDB, name, ordered, ordered[0].parent))
    for directory, files in sorted(found.events.items()):
        if files:
            ordered = tuple(sorted(files, key=_events_order))
            home = _events_home(directory, output_dirs)
            result.sources.append(Source(SourceKind.TENSORBOARD, str(directory), ordered, home))
    for run_dir in sorted(found.mlflow_runs):
        result.sources.append(Source(SourceKind.MLFLOW, str(run_dir), (run_dir,), run_dir))
    for database in found.databases:
        result.sources.extend(_database_sources(database, result.findings))
    return result


def _database_sources(database: Path, findings: list[Finding]) -> list[Source]:
    from qadiag.audit.readers.mlflow import DatabaseProblem, list_runs

    try:
        runs = list_runs(database)
    except DatabaseProblem as problem:
        findings.extend(problem.findings)
        return []
    return [
        Source(
            SourceKind.MLFLOW,
            f"{database} (MLflow run {name})",
            (database,),
            database.parent / run_id,
            run_id,
        )
        for run_id, name in runs
    ]


def discover(roots: Sequence[Path]) -> Discovery:
    """All sources below ``roots`` (directories, or single log files)."""
    found = _Found()
    for root in roots:
        if root.is_dir():
            _walk(found, root)
        else:
            _classify(found, root.parent, root.name)
    return _sources(found)
