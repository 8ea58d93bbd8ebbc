"""The pre-commit hooks in .pre-commit-hooks.yaml, run by pre-commit itself (``pre-commit try-repo``)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "qa_project"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def git_repository(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    return path


def try_repo(repository: Path, hook: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PRE_COMMIT_HOME": str(repository.parent / "pre-commit-home"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--all-files"],
        cwd=repository, env=env, capture_output=True, text=True, timeout=600,
    )


def trainer_state(path: Path, eval_row: dict) -> None:
    path.mkdir(parents=True)
    history = [{"loss": 1.0, "step": 5, "epoch": 0.5}, {**eval_row, "step": 10, "epoch": 1.0}]
    (path / "trainer_state.json").write_text(json.dumps({"log_history": history}), encoding="utf-8")


def test_the_audit_hook_fails_a_committed_run_with_an_unprefixed_metric_and_passes_a_clean_one(tmp_path):
    repository = tmp_path / "project"
    trainer_state(repository / "runs" / "bad", {"eval_loss": 0.9, "exact_match": 50.0})
    git_repository(repository)
    result = try_repo(repository, "qadiag-audit")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "QD103" in result.stdout and "exact_match" in result.stdout  # eval_loss is prefixed, exact_match not
    shutil.rmtree(repository / "runs" / "bad")
    trainer_state(repository / "runs" / "good", {"eval_loss": 0.9, "eval_exact_match": 50.0})
    subprocess.run(["git", "-C", str(repository), "add", "-A"], check=True)
    result = try_repo(repository, "qadiag-audit")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_probe_hook_runs_pytest_qadiag_on_the_projects_factory(tmp_path):
    repository = tmp_path / "qa_project"
    shutil.copytree(EXAMPLE, repository, ignore=shutil.ignore_patterns("__pycache__", ".qadiag"))
    git_repository(repository)
    result = try_repo(repository, "qadiag")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "qadiag probes on the trainer factory" in result.stdout and "Passed" in result.stdout
