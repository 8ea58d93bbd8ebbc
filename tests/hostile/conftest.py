"""Fixtures for the hostile suite: a run directory to shape, a secret outside it, and the audit under limits.

Set ``QADIAG_HOSTILE_TABLE=path.json`` to keep, per test module (one class of hostile input), how many
inputs were audited, their exit codes and their slowest time, and what the full-size cases measured
(test_big.py): the numbers behind the table in README.
"""

from __future__ import annotations

import importlib
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from tests.hostile.harness import CANARY, Outcome, audit_checked

# Imported once here, so that each forked case inherits them instead of importing them itself.
importlib.import_module("wandb.proto.wandb_internal_pb2")
importlib.import_module("tensorboard.compat.proto.event_pb2")
importlib.import_module("numpy")

_TABLE: dict[str, dict] = defaultdict(lambda: {"inputs": 0, "exit_codes": defaultdict(int), "slowest_s": 0.0})
_MEASURES: dict[str, dict] = {}


def record_measure(name: str, numbers: dict) -> None:
    _MEASURES[name] = numbers


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("QADIAG_HOSTILE_TABLE")
    if target and (_TABLE or _MEASURES):
        table = {"classes": _TABLE, "measures": _MEASURES}
        Path(target).write_text(json.dumps(table, indent=2, sort_keys=True))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the run directory whose content must never reach any output."""
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir()
    path.write_text(f"root:{CANARY}:19000:0:99999:7:::\n" * 4)
    return path


@pytest.fixture
def audit(request: pytest.FixtureRequest, tmp_path: Path):
    """``audit(run_dir, *extra_args, paths=())``: the checked outcome (see tests.hostile.harness)."""
    calls = iter(range(1_000_000))
    kind = request.module.__name__.rsplit(".", 1)[-1]

    def run(directory: Path, *extra: str, paths: tuple[Path, ...] = ()) -> Outcome:
        outcome = audit_checked(directory, tmp_path / f"results-{next(calls)}", *extra, paths=paths)
        row = _TABLE[kind]
        row["inputs"] += 1
        row["exit_codes"][outcome.codes["json"]] += 1
        row["slowest_s"] = max(row["slowest_s"], outcome.seconds)
        return outcome

    return run
