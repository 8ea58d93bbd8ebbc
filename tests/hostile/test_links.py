"""Links and special files where logs are expected: reported by path (QD909), never followed, never opened.

Every case puts a canary outside the run directory behind a link (or a FIFO in the log's place) and
checks, in every output format, that not a byte of it comes out and that nothing blocks.
"""

import os
import socket
import sqlite3

import pytest

from tests.audit.make_logs import healthy_history
from tests.hostile.builders import mlflow_db, mlflow_file_run, trainer_state, wandb_run

LOG_NAMES = [
    "out/trainer_state.json",
    "out/checkpoint-4/trainer_state.json",
    "wandb/offline-run-1/run-abc.wandb",
    "out/runs/Jan01/events.out.tfevents.1.host",
    "mlflow.db",
    "mlruns/0/r1/params/metric_for_best_model",
    "mlruns/0/r1/params/output_dir",
    "mlruns/0/r1/metrics/loss",
    "mlruns/0/r1/metrics/eval/loss",
]


def place(run_dir, name):
    path = run_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if "mlruns" in name:
        mlflow_file_run(run_dir / "mlruns/0/r1", {"epoch": "1 0.5 1\n"})
        if path.exists():
            path.unlink()
    return path


def assert_reported(outcome, path):
    found = [item for item in outcome.findings if item["code"] == "QD909"]
    assert [item["source"] for item in found] == [str(path)], outcome.findings
    assert outcome.codes["json"] == 1


@pytest.mark.parametrize("name", LOG_NAMES)
def test_a_link_to_a_secret_is_reported_never_read(run_dir, secret, audit, name):
    path = place(run_dir, name)
    os.symlink(secret, path)
    assert_reported(audit(run_dir), path)


@pytest.mark.parametrize("name", LOG_NAMES)
def test_a_fifo_named_like_a_log_never_blocks(run_dir, audit, name):
    path = place(run_dir, name)
    os.mkfifo(path)
    assert_reported(audit(run_dir), path)


def test_a_socket_named_like_a_log_is_not_opened(run_dir, audit):
    path = run_dir / "trainer_state.json"
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(path))
        assert_reported(audit(run_dir), path)
    finally:
        listener.close()


@pytest.mark.parametrize("part", ["metrics", "params"])
def test_an_mlflow_run_part_linked_to_a_system_directory_is_not_entered(run_dir, secret, audit, part):
    """The issue's cases: metrics/ linked to /etc leaked file prefixes; linked to /proc/self it hung."""
    run = mlflow_file_run(run_dir / "mlruns/0/r1", {"loss": "1 0.5 1\n"}, {"output_dir": "out"})
    os.rename(run / part, run / f"{part}.real")
    os.symlink(secret.parent, run / part)
    assert_reported(audit(run_dir), run / part)


def test_mlflow_metrics_linked_to_proc_self_does_not_hang(run_dir, audit):
    run = mlflow_file_run(run_dir / "mlruns/0/r1", {})
    (run / "metrics").rmdir()
    os.symlink("/proc/self", run / "metrics")
    assert_reported(audit(run_dir), run / "metrics")


def test_a_linked_checkpoint_directory_is_not_entered(run_dir, tmp_path, audit):
    elsewhere = tmp_path / "elsewhere" / "checkpoint-9"
    trainer_state(elsewhere, [{"loss": float("nan"), "step": 9}])
    trainer_state(run_dir / "out", healthy_history())
    os.symlink(elsewhere, run_dir / "out" / "checkpoint-9")
    outcome = audit(run_dir)
    assert outcome.findings == [] and outcome.codes["json"] == 0  # the NaN behind the link was not read


def test_a_linked_wandb_files_directory_is_not_entered(run_dir, secret, audit):
    run = run_dir / "wandb" / "offline-run-1"
    wandb_run(run, [{"train/loss": "0.5", "train/global_step": "1"}])
    (secret.parent / "wandb-summary.json").write_text('{"train_loss": NaN, "x": "QADIAG-CANARY-7f3a"}')
    os.symlink(secret.parent, run / "files")
    assert_reported(audit(run_dir), run / "files" / "wandb-summary.json")


def test_a_write_ahead_log_that_is_a_link_or_fifo_is_not_opened(run_dir, secret, audit):
    mlflow_db(run_dir / "mlflow.db", [("loss", 0.5, 1, 1, 0)]).close()
    os.symlink(secret, run_dir / "mlflow.db-wal")
    outcome = audit(run_dir)
    assert [item["code"] for item in outcome.findings] == ["QD909"]
    (run_dir / "mlflow.db-wal").unlink()
    os.mkfifo(run_dir / "mlflow.db-wal")
    assert [item["code"] for item in audit(run_dir).findings] == ["QD909"]


def test_a_file_argument_that_is_a_link_is_not_read(run_dir, secret, audit):
    link = run_dir / "trainer_state.json"
    os.symlink(secret, link)
    assert_reported(audit(run_dir, paths=(link,)), link)


def test_a_directory_argument_that_is_a_link_is_entered(run_dir, tmp_path, audit):
    """A directory named on the command line is the user's choice (W&B's latest-run link is one)."""
    real = tmp_path / "real-run"
    trainer_state(real, [{"loss": float("nan"), "step": 1}])
    os.symlink(real, run_dir / "latest")
    outcome = audit(run_dir, paths=(run_dir / "latest",))
    assert outcome.codes_found == {"QD205"}


def test_links_below_a_database_are_never_handed_to_sqlite(run_dir, secret, audit):
    """sqlite follows links itself: the database file is checked (and opened) as a regular file first."""
    target = run_dir / "real.db"
    connection = sqlite3.connect(target)
    connection.execute("CREATE TABLE runs (run_uuid, name)")
    connection.commit()
    connection.close()
    os.symlink(target, run_dir / "mlflow.db")
    assert_reported(audit(run_dir), run_dir / "mlflow.db")
