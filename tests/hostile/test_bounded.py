"""Bounded work per input: small files that used to take gigabytes or forever, and many keys or files that
used to print millions of lines, now cost bounded time, memory and output (scaled-down versions of the
issue's cases; the full sizes are in test_big.py, opt-in)."""

import shutil
import sqlite3
import struct
import time

import pytest

from qadiag.audit.grouping import MAX_COVERED
from qadiag.audit.pipeline import MAX_KEYS_PER_CODE
from qadiag.audit.readers import mlflow as mlflow_reader
from qadiag.audit.readers.tfrecord import resync
from tests.audit.framing import WANDB_HEADER, WandbLogWriter, tfrecord
from tests.hostile.builders import (
    MLFLOW_SCHEMA,
    event,
    mlflow_db,
    mlflow_file_run,
    tensorboard_file,
    trainer_state,
    wandb_run,
)
from tests.hostile.harness import remove_tree

RECURSIVE = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
TABLES = {
    "runs": "CREATE TABLE runs (run_uuid, name);",
    "params": "CREATE TABLE params (key, value, run_uuid);",
    "metrics": "CREATE TABLE metrics (key, value, timestamp, run_uuid, step, is_nan);",
}
VIEWS = {
    "runs": f"CREATE VIEW runs AS {RECURSIVE} SELECT x AS run_uuid, x AS name FROM c;",
    "params": f"CREATE VIEW params AS {RECURSIVE} SELECT 'output_dir' AS key, x AS value, 'r1' AS run_uuid FROM c;",
    "metrics": f"CREATE VIEW metrics AS {RECURSIVE} SELECT 'loss' AS key, x AS value, x AS timestamp, "
    "'r1' AS run_uuid, x AS step, 0 AS is_nan FROM c ORDER BY x DESC;",
}
VIEW_SCHEMAS = {view: "".join(VIEWS[name] if name == view else TABLES[name] for name in TABLES) for view in VIEWS}


@pytest.mark.parametrize("view", sorted(VIEW_SCHEMAS))
def test_a_recursive_view_is_never_queried(run_dir, audit, view):
    """The issue's 12 KB mlflow.db whose runs or metrics is a recursive VIEW grew 3.8 GB in 30 s."""
    connection = sqlite3.connect(run_dir / "mlflow.db")
    connection.executescript(VIEW_SCHEMAS[view])
    if view != "runs":
        connection.execute("INSERT INTO runs VALUES ('r1', 'r1')")
    connection.commit()
    connection.close()
    outcome = audit(run_dir)
    (refused,) = outcome.findings
    assert refused["code"] == "QD906" and f"'{view}' is a view, not a table" in refused["message"]
    assert outcome.seconds < 10


def test_a_value_sqlite_would_build_a_gigabyte_for_is_refused(run_dir, audit):
    schema = MLFLOW_SCHEMA.replace("value REAL", "value AS (zeroblob(1000000000))")
    connection = sqlite3.connect(run_dir / "mlflow.db")
    connection.executescript(schema)
    connection.execute("INSERT INTO runs VALUES ('r1', 'r1')")
    connection.execute("INSERT INTO metrics (key, timestamp, run_uuid, step, is_nan) VALUES ('loss', 1, 'r1', 1, 0)")
    connection.commit()
    connection.close()
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD911"} and "longer than 1,048,576 bytes" in outcome.out["full"]


def test_a_query_past_its_budget_is_stopped_and_reported(run_dir, audit, monkeypatch):
    rows = [("loss", 0.5, step, step, 0) for step in range(20_000)]
    mlflow_db(run_dir / "mlflow.db", rows).close()
    monkeypatch.setattr(mlflow_reader, "MAX_INSTRUCTIONS", 200_000)  # the forked audit inherits it
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD911"} and "took more than 200,000 sqlite steps" in outcome.out["full"]


def test_a_nan_only_in_the_write_ahead_log_is_found_and_nothing_is_written(run_dir, tmp_path, audit):
    """The database as a killed writer leaves it: the NaN loss is only in mlflow.db-wal."""
    writing = tmp_path / "writer"
    connection = mlflow_db(writing / "mlflow.db", [("loss", 0.5, 1, 1, 0)])
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA wal_autocheckpoint = 0")
    connection.execute("INSERT INTO metrics VALUES ('loss', 0.0, 2, 'r1', 2, 1)")
    connection.commit()
    for name in ("mlflow.db", "mlflow.db-wal"):
        shutil.copyfile(writing / name, run_dir / name)  # while the writer still holds them: not checkpointed
    connection.close()
    assert (run_dir / "mlflow.db-wal").stat().st_size > 0
    outcome = audit(run_dir)  # checks that the run dir's bytes and mtimes are unchanged
    (nan,) = outcome.findings
    assert (nan["code"], nan["step"]) == ("QD205", 2)
    assert sorted(path.name for path in run_dir.iterdir()) == ["mlflow.db", "mlflow.db-wal"]


def nested(top, name, depth):
    for _ in range(depth):  # not mkdir(parents=True): it recurses
        top = top / name
        top.mkdir()
    return top


def test_directories_nested_far_past_the_walk_depth(run_dir, audit, request):
    """The issue: 1,500 nested folders raised RecursionError (test_big.py has those; here 200, past the 64
    levels the walk goes down)."""
    request.addfinalizer(lambda: remove_tree(run_dir / "d"))
    trainer_state(nested(run_dir, "d", 200), [{"loss": float("nan"), "step": 1}])
    trainer_state(nested(run_dir, "s", 40), [{"loss": float("nan"), "step": 1}])
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD911", "QD205"}  # the shallow one is read, the deep one said so
    (nan,) = [item for item in outcome.findings if item["code"] == "QD205"]
    assert "/s/" in nan["source"]


def test_an_mlflow_run_of_300_metrics_opens_one_file_at_a_time(run_dir, audit):
    """The issue: every metric file was open at once ('Too many open files' at 1024); the audit here runs
    with at most 64 open files."""
    metrics = {f"m{index:04d}": "".join(f"{step} 0.5 {step}\n" for step in range(3)) for index in range(300)}
    metrics["loss"] = "5 nan 5\n"
    mlflow_file_run(run_dir / "mlruns" / "0" / "r1", metrics)
    assert audit(run_dir).codes_found == {"QD205"}


def test_10k_distinct_misnamed_keys_give_bounded_output(run_dir, audit):
    """Scaled down from the issue's 2M keys in 115 MB (3.7 GB RSS, 4M lines): see test_big.py. One cause (the
    val_ prefix), one finding, every occurrence counted, the keys listed up to a bound."""
    rows = [{f"val_k{index}": 0.5, "eval_loss": 0.1, "step": index} for index in range(10_000)]
    trainer_state(run_dir, rows)
    outcome = audit(run_dir)
    (misnamed,) = [item for item in outcome.findings if item["code"] == "QD102"]
    assert misnamed["count"] == 10_000
    assert misnamed["evidence"]["covers"]["keys"] == [f"val_k{index}" for index in range(MAX_KEYS_PER_CODE)]
    assert len(outcome.out["full"].splitlines()) < 10


def test_200_empty_wandb_files_give_bounded_output(run_dir, audit):
    """Scaled down from the issue's 50k empty .wandb files (150k lines): see test_big.py."""
    for index in range(200):
        folder = run_dir / "wandb" / f"offline-run-{index:05d}"
        folder.mkdir(parents=True)
        (folder / f"run-{index:05d}.wandb").write_bytes(b"")
    outcome = audit(run_dir)
    (empty,) = [item for item in outcome.findings if item["code"] == "QD907"]  # one kind of damage, one finding
    assert empty["count"] == 200 and len(empty["evidence"]["covers"]["sources"]) == MAX_COVERED
    assert len(outcome.out["full"].splitlines()) < 10


def test_a_key_of_two_megabytes_is_shown_cut(run_dir, audit):
    trainer_state(run_dir, [{"val_" + "k" * (2 << 20): 0.5, "eval_loss": 0.1, "step": 1}])
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD102"}
    assert len(outcome.out["json"]) < 100_000 and "more characters]" in outcome.out["full"]


def test_tensorboard_garbage_is_resynced_in_linear_time(run_dir, audit):
    """Garbage where every 8 bytes look like a record length: the issue's 16 MB took 11 s (see test_big.py
    for 16 MB); 4 MB here."""
    garbage = b"\x01" + struct.pack("<Q", 1) * (1 << 19)
    first = event(1, "train/loss", 0.5)
    path = tensorboard_file(run_dir, [first, event(2, "train/loss", float("nan"))], garbage=garbage)
    start = time.perf_counter()
    with open(path, "rb") as handle:
        found = resync(handle, len(tfrecord(first)) + 1)
    assert time.perf_counter() - start < 1.0
    assert found == len(tfrecord(first)) + len(garbage)  # the second event, past 4 MB of look-alike lengths
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD903", "QD205"}


def test_a_wandb_record_of_continuation_bytes(run_dir, audit):
    """A varint that never ends (a megabyte of 0x80) is not one growing number."""
    writer = WandbLogWriter()
    writer.add(b"\x08" + b"\x80" * 60_000 + b"\x01")
    path = run_dir / "run-x.wandb"
    path.write_bytes(WANDB_HEADER + bytes(writer.data)[len(WANDB_HEADER):])
    outcome = audit(run_dir)
    assert outcome.seconds < 5 and outcome.codes_found <= {"QD906", "QD903"}


def test_an_output_dir_setting_of_100k_parts(run_dir, audit):
    trainer_state(run_dir / "out", [{"loss": 0.5, "step": 1}])
    wandb_run(run_dir / "wandb" / "offline-run-1", [{"train/loss": "0.5", "train/global_step": "1"}],
              config={"output_dir": '"' + "/a" * 100_000 + '/out"'})
    outcome = audit(run_dir)
    assert outcome.codes_found == set() and outcome.seconds < 5
