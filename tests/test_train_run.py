"""A short real `qadiag train` run with W&B (offline) and TensorBoard: eval metrics land under eval/
in every log, the run directory audits clean, and the probes report nothing on the reference code."""

import json

import pytest

from qadiag.audit.command import main as audit_main
from qadiag.audit.records import SourceKind
from qadiag.cli import main
from qadiag.namespaces import check_row
from tests.audit.helpers import only, read_all

METRICS = {"eval_loss", "eval_exact_match", "eval_f1"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import wandb

    output_dir = tmp_path_factory.mktemp("train") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_DIR", str(output_dir.parent))
        patch.setenv("WANDB_PROJECT", "qadiag-tests")
        code = run_train(output_dir)
        # teardown, not only finish: finish can return before wandb-core has written the last records of an
        # offline run (seen under load: the .wandb file read back empty, complete a moment later)
        wandb.finish()
        wandb.teardown()
    assert code == 0
    return output_dir


def run_train(output_dir):
    return main(["train", "--output_dir", str(output_dir), "--max_steps", "24", "--eval_strategy", "steps",
                 "--eval_steps", "12", "--logging_steps", "4", "--save_steps", "12", "--capture_every", "12",
                 "--report_to", "wandb", "tensorboard", "--disable_tqdm", "true"])


def test_trainer_state_eval_rows_carry_prefixed_metrics_and_loss(run_dir):
    history = json.loads((run_dir / "trainer_state.json").read_text())["log_history"]
    eval_rows = [row for row in history if any(key.startswith("eval_") for key in row)]
    assert len(eval_rows) >= 2
    for row in eval_rows:
        assert set(row) >= METRICS
    assert all(check_row(row) == [] for row in history)
    assert list(run_dir.glob("checkpoint-*/trainer_state.json"))


def test_wandb_and_tensorboard_file_every_eval_metric_under_eval(run_dir):
    wandb_file = only("*.wandb", run_dir.parent)
    events = sorted(run_dir.rglob("events.out.tfevents.*"))
    for kind, paths in ((SourceKind.WANDB, [wandb_file]), (SourceKind.TENSORBOARD, events)):
        rows = [row for path in paths for row in read_all(kind, path).rows]
        stored = {row.logger_key(key) for row in rows for key in row.values if key.startswith("eval_")}
        assert {"eval/loss", "eval/exact_match", "eval/f1"} <= stored, (kind, paths, len(rows), stored)
        assert all(key.startswith("eval/") for key in stored)
        assert not any(row.logger_key(key) in {"train/exact_match", "train/f1"} for row in rows for key in row.values)


def test_probe_outputs_are_written(run_dir):
    report = json.loads((run_dir / "qadiag_report.json").read_text())
    assert set(report["probes"]) == {"output-capture", "loss-swap", "log-keys", "eval-loss", "alignment"}
    assert [f for f in report["findings"] if f["severity"] != "info"] == []
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert {s["step"] for s in samples} == {12, 24}


def test_the_run_directory_audits_clean(run_dir, capsys):
    assert audit_main([str(run_dir.parent), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_resumed_run_keeps_each_sample_once(tmp_path):
    output_dir = tmp_path / "run"
    base = ["train", "--output_dir", str(output_dir), "--max_steps", "12", "--save_steps", "6", "--save_strategy",
            "steps", "--eval_strategy", "no", "--logging_steps", "6", "--capture_every", "3", "--samples", "2",
            "--disable_tqdm", "true", "--probes", "output-capture"]
    assert main(base) == 0  # the steps after checkpoint-6 are now in samples.jsonl, as if killed after step 12
    assert main([*base, "--resume_from_checkpoint", str(output_dir / "checkpoint-6")]) == 0
    records = [json.loads(line) for line in (output_dir / "samples.jsonl").read_text().splitlines()]
    keys = [(record["step"], record["sample"]) for record in records]
    assert sorted(keys) == sorted(set(keys)) == [(step, sample) for step in (3, 6, 9, 12) for sample in (0, 1)]
