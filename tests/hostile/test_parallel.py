"""The hostile guarantees on the parallel paths: every source read by worker processes, large files read in
parts (the thresholds lowered so that small hostile inputs take those paths), and the report the same as one
process gives."""

import os

import pytest

from qadiag.audit import parallel
from qadiag.audit.readers import tensorboard as tensorboard_reader
from qadiag.audit.readers import wandb as wandb_reader
from tests.audit.framing import BLOCK
from tests.hostile.builders import event, tensorboard_file, trainer_state, wandb_run
from tests.hostile.harness import CANARY
from tests.hostile.test_injection import HOSTILE, SHOWN


@pytest.fixture(autouse=True)
def everything_in_parallel(monkeypatch):
    """The forked audit inherits these: two workers for any input, files cut into parts of one block."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    for reader in (wandb_reader, tensorboard_reader):
        monkeypatch.setattr(reader, "SPLIT_BYTES", 0)
        monkeypatch.setattr(reader, "PART_BYTES", BLOCK)


def hostile_tree(run_dir, secret):
    """Links, a FIFO, hostile names and values, and damaged multi-part files."""
    folder = run_dir / HOSTILE["workflow-command"]
    trainer_state(folder / "out", [{"val_" + HOSTILE["ansi"]: 1.0, "eval_loss": 0.5, "step": 1}])
    os.symlink(secret, folder / "out" / "events.out.tfevents.1.link")
    os.mkfifo(run_dir / "mlflow.db")
    rows = [{"train/loss": "NaN" if step % 97 == 0 else "0.5", "train/global_step": str(step)} for step in range(6000)]
    damaged = wandb_run(run_dir / "wandb" / "offline-run-1", rows)
    data = bytearray(damaged.read_bytes())
    data[3 * BLOCK + 50] ^= 0xFF
    damaged.write_bytes(bytes(data))
    events = [event(step, "train/" + HOSTILE["bidi"], 0.5, wall_time=1.0) for step in range(8000)]
    tensorboard_file(run_dir / "runs", events, garbage=b"\x01" + bytes(64))


def test_a_hostile_tree_read_in_parallel(run_dir, secret, audit):
    hostile_tree(run_dir, secret)
    outcome = audit(run_dir, "-j", "2")  # every check of the harness, the run dir unchanged
    assert {"QD909", "QD903", "QD205", "QD102"} <= outcome.codes_found
    assert SHOWN["ansi"] in outcome.out["full"] and CANARY not in outcome.out["full"]


def test_parallel_and_serial_reports_are_the_same(run_dir, secret, audit):
    hostile_tree(run_dir, secret)
    assert audit(run_dir, "-j", "2").out == audit(run_dir, "-j", "1").out
