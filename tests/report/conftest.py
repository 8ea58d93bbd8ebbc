"""Real runs for the report tests: one QA and one pair-classification `qadiag train`, trained once per
session, side by side (two processes), and the reports written from them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from qadiag.report import ReportPaths, write_report
from tests.report.helpers import sample_findings, schema_1_report, write_json

ROOT = Path(__file__).resolve().parents[2]
TRAIN_FLAGS = {
    "qa": ["--max_steps", "40", "--eval_strategy", "steps", "--eval_steps", "10", "--logging_steps", "5",
           "--capture_every", "10", "--report_to", "none"],
    "pair-classification": ["--max_steps", "10", "--eval_strategy", "steps", "--eval_steps", "5",
                            "--logging_steps", "5", "--capture_every", "5", "--report_to", "none"],
}
TRAIN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Report:
    run_dir: Path
    paths: ReportPaths

    @property
    def html(self) -> str:
        return self.paths.html.read_text(encoding="utf-8")

    @property
    def markdown(self) -> str:
        return self.paths.markdown.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """task -> output dir of a real `qadiag train` run (both trained at once, about 10 s)."""
    base = tmp_path_factory.mktemp("trained")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # One thread each: two trainings with a thread per core each spin against each other (4x slower on 2 cores).
        "OMP_NUM_THREADS": "1",
    }
    processes = {}
    for task, flags in TRAIN_FLAGS.items():
        output_dir = base / task
        command = [sys.executable, "-m", "qadiag", "train", "--task", task, "--output_dir", str(output_dir), *flags]
        processes[task] = (output_dir, subprocess.Popen(command, cwd=base, env=env, stdout=subprocess.PIPE,
                                                        stderr=subprocess.STDOUT, text=True))
    runs = {}
    for task, (output_dir, process) in processes.items():
        output, _ = process.communicate(timeout=TRAIN_TIMEOUT_S)
        assert process.returncode == 0, f"qadiag train --task {task} failed:\n{output[-4000:]}"
        runs[task] = output_dir
    return runs


def _schema_1_copy(source: Path, target: Path, task: str, **fields: object) -> Path:
    """The run's report inputs, with qadiag_report.json in schema version 1 (the run writes the old form)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "tokenizer*"))
    write_json(target / "qadiag_report.json", schema_1_report(task, target, **fields))
    return target


@pytest.fixture(scope="session")
def qa_report(trained_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The QA run with findings in a schema-1 qadiag_report.json, reported into a separate directory."""
    run_dir = _schema_1_copy(trained_runs["qa"], tmp_path_factory.mktemp("qa") / "run", "qa",
                             findings=sample_findings())
    return Report(run_dir, write_report(run_dir, run_dir.parent / "report", step_summary=False))


@pytest.fixture(scope="session")
def pair_report(trained_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The pair-classification run with the qadiag_report.json of earlier qadiag versions (no schema version:
    probes and findings only), reported in place."""
    run_dir = tmp_path_factory.mktemp("pair") / "run"
    shutil.copytree(trained_runs["pair-classification"], run_dir)
    current = json.loads((run_dir / "qadiag_report.json").read_text(encoding="utf-8"))
    write_json(run_dir / "qadiag_report.json", {"probes": current["probes"], "findings": current["findings"]})
    return Report(run_dir, write_report(run_dir, step_summary=False))
