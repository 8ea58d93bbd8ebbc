"""qadiag's own entrypoint passes its own probes, experiments included, on every transformers line: with
gradient accumulation, label smoothing, a run shorter than the capture interval, and pair classification
with accumulation (whose logged loss must not grow with the accumulation steps)."""

import json

import pytest

from qadiag.cli import main

QUIET = ["--report_to", "none", "--disable_tqdm", "true", "--experiments", "on"]


def train(output_dir, *args):
    code = main(["train", "--output_dir", str(output_dir), *QUIET, *args])
    report = json.loads((output_dir / "qadiag_report.json").read_text(encoding="utf-8"))
    history = json.loads((output_dir / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]
    return code, [f"{item['code']} {item['message']}" for item in report["findings"]], history


@pytest.mark.parametrize(
    "args",
    [
        ["--max_steps", "8", "--gradient_accumulation_steps", "4", "--eval_strategy", "steps", "--eval_steps", "4"],
        ["--max_steps", "8", "--label_smoothing_factor", "0.1", "--eval_strategy", "steps", "--eval_steps", "4"],
        ["--max_steps", "3"],
    ],
    ids=["accumulation", "label-smoothing", "short-run"],
)
def test_qa_training_passes_its_own_probes(tmp_path, args):
    code, findings, _ = train(tmp_path / "run", *args)
    assert (code, findings) == (0, [])


def test_pair_classification_with_accumulation_logs_the_loss_it_would_without(tmp_path):
    base = ["--task", "pair-classification", "--max_steps", "4", "--learning_rate", "1e-9", "--logging_steps", "1"]
    single_code, single_findings, single = train(tmp_path / "ga1", *base)
    code, findings, accumulated = train(tmp_path / "ga4", *base, "--gradient_accumulation_steps", "4")
    assert (single_code, single_findings, code, findings) == (0, [], 0, [])
    single_loss = [row["loss"] for row in single if "loss" in row]
    accumulated_loss = [row["loss"] for row in accumulated if "loss" in row]
    # two labels, an untrained head: about ln 2 per example either way (transformers 5.x's accumulation
    # scaling bug logged 4x that, 2.79 against 0.70)
    assert all(0.5 < loss < 0.9 for loss in single_loss + accumulated_loss), (single_loss, accumulated_loss)
