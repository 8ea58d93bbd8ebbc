"""Session fixtures: real run directories, written once per test session by the real loggers.

The HF Trainer runs and the logger scenarios are written by two subprocesses started together (they
mostly wait on wandb-core and disk, so they overlap well on two cores). A subprocess keeps wandb's
console hooks and process-wide settings out of the test process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.helpers import ROOT

WRITERS = {"hf": "tests.audit.make_runs", "logs": "tests.audit.make_logs"}


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("audit-runs")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONPATH": str(ROOT)}
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", module, str(base / name)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, module in WRITERS.items()
    }
    for name, process in started.items():
        _, errors = process.communicate(timeout=300)
        if process.returncode:
            pytest.fail(f"{WRITERS[name]} failed:\n{errors[-3000:]}")
    return {name: base / name for name in WRITERS}


@pytest.fixture(scope="session")
def hf_runs(written: dict[str, Path]) -> Path:
    """``<variant>/{out,wandb,mlruns}`` per variant of tests.audit.make_runs."""
    return written["hf"]


@pytest.fixture(scope="session")
def logger_runs(written: dict[str, Path]) -> Path:
    """One directory per scenario of tests.audit.make_logs."""
    return written["logs"]


@pytest.fixture
def copy_of(tmp_path: Path):
    """A private copy of a generated file or directory, safe to damage."""

    def copy(path: Path) -> Path:
        target = tmp_path / path.name
        if path.is_dir():
            shutil.copytree(path, target, symlinks=True)
        else:
            shutil.copyfile(path, target)
        return target

    return copy
