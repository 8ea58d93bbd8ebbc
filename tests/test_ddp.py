"""`qadiag train` and the probes under `torchrun --nproc_per_node 2` on CPU (gloo): every rank probes
its own batches, rank 0 writes what all of them found once, and the loss check allows for the world
size that compute_loss multiplies by when tokens are averaged across devices."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from qadiag.audit.command import main as audit_main
from qadiag.audit.records import SourceKind
from tests.audit.helpers import read_all

ROOT = Path(__file__).resolve().parents[1]
CAPTURE_STEPS = (2, 4, 6)


def torchrun(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",  # two processes on two cores
        "WANDB_MODE": "offline",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run([*launch, *command], cwd=cwd, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp")
    result = torchrun(
        "-m", "qadiag", "train", "--output_dir", "run", "--max_steps", "6", "--logging_steps", "1",
        "--eval_strategy", "steps", "--eval_steps", "3", "--save_strategy", "no", "--capture_every", "2",
        "--samples", "2", "--report_to", "tensorboard", "--disable_tqdm", "true",
        cwd=base,
    )  # fmt: skip
    return base / "run", result.stdout


def test_samples_of_both_ranks_are_written_once_by_rank_0(ddp_run):
    run_dir, _ = ddp_run
    records = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    places = Counter((r["step"], r["rank"], r["sample"]) for r in records)
    assert set(places) == {(step, rank, i) for step in CAPTURE_STEPS for rank in (0, 1) for i in (0, 1)}
    assert set(places.values()) == {1}
    for step in CAPTURE_STEPS:
        # DistributedSampler hands the ranks different batches (not each rank all the data)
        by_rank = [[r["question"] for r in records if r["step"] == step and r["rank"] == rank] for rank in (0, 1)]
        assert by_rank[0] != by_rank[1]


def test_log_rows_are_not_duplicated(ddp_run):
    run_dir, _ = ddp_run
    history = json.loads((run_dir / "trainer_state.json").read_text())["log_history"]
    assert [row["step"] for row in history if "loss" in row] == [1, 2, 3, 4, 5, 6]
    assert [row["step"] for row in history if "eval_loss" in row] == [3, 6]
    events = read_all(SourceKind.TENSORBOARD, *sorted((run_dir / "runs").rglob("events.out.tfevents.*")))
    written = Counter((key, row.step) for row in events.rows for key in row.values)
    training = {place: count for place, count in written.items() if place[0] in ("loss", "grad_norm", "learning_rate")}
    assert [step for (key, step) in training if key == "loss"] == [1, 2, 3, 4, 5, 6]
    assert set(training.values()) == {1}, [place for place, count in training.items() if count > 1]
    # evaluations at steps 3 and 6, then the final evaluate() after training, at step 6 as well
    assert sorted(step for (key, step), count in written.items() for _ in range(count) if key == "eval_loss") == [
        3,
        6,
        6,
    ]
    assert audit_main([str(run_dir)]) == 0


def test_report_and_summary_come_once_from_rank_0(ddp_run):
    run_dir, stdout = ddp_run
    assert stdout.count("run directory:") == 1
    report = json.loads((run_dir / "qadiag_report.json").read_text())
    assert report["findings"] == [] and "output-capture" in report["probes"]
    assert json.loads((run_dir / "eval_predictions.json").read_text())
    assert not list(run_dir.glob("*.tmp"))


def test_loss_swap_allows_for_the_world_size_and_still_catches_a_swapped_loss(tmp_path):
    results_file = tmp_path / "results.json"
    torchrun(str(ROOT / "tests" / "ddp" / "loss_world_size.py"), str(results_file), str(tmp_path / "out"), cwd=tmp_path)
    results = json.loads(results_file.read_text())
    fixed, swapped = results["declared_loss_optimized"], results["other_loss_optimized"]
    assert fixed["world_size"] == swapped["world_size"] == 2
    assert fixed["scale"] == 2  # tokens averaged across 2 ranks: compute_loss may multiply by 2
    assert fixed["codes"] == []
    assert swapped["codes"] == ["QD301"] and swapped["ranks"] == [[0, 1]]


@pytest.mark.skipif(torch.cuda.is_available(), reason="without use_cpu, a GPU machine does distribute the processes")
def test_processes_the_trainer_does_not_distribute_are_reported(tmp_path):
    results_file = tmp_path / "results.json"
    script = str(ROOT / "tests" / "ddp" / "loss_world_size.py")
    torchrun(script, str(results_file), str(tmp_path / "out"), "undistributed", cwd=tmp_path)
    (result,) = json.loads(results_file.read_text()).values()
    assert result["codes"] == ["QD309"]
