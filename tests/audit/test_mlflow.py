"""The MLflow readers: the file store a Trainer run wrote, mlflow.db, and damaged stores."""

import json
import math
import sqlite3

import pytest

from qadiag.audit.readers.base import Problems
from qadiag.audit.readers.mlflow import list_runs
from qadiag.audit.records import SourceKind
from tests.audit.helpers import read_all

MLFLOW = SourceKind.MLFLOW

pytest.importorskip("mlflow", reason="the HF runs report to MLflow only when mlflow is installed")


def run_dir(home):
    (path,) = [meta.parent for meta in (home / "mlruns").glob("*/*/meta.yaml")]
    return path


def test_a_trainer_file_store_run_matches_the_trainer_state(hf_runs):
    result = read_all(MLFLOW, run_dir(hf_runs / "unprefixed"))
    assert result.findings == []
    state = json.loads((hf_runs / "unprefixed" / "out" / "trainer_state.json").read_text())["log_history"]
    assert [(row.step, row.values) for row in result.rows] == [
        (row["step"], {k: v for k, v in row.items() if k != "step"}) for row in state
    ]
    assert {s.name: s.value for s in result.settings} == {
        "output_dir": str(hf_runs / "unprefixed" / "out"),
        "metric_for_best_model": None,
        "logging_nan_inf_filter": True,
    }


def test_a_file_store_keeps_nan_and_skips_bad_lines(logger_runs, copy_of):
    run = copy_of(run_dir(logger_runs / "mlflow_files"))
    loss = run / "metrics" / "loss"
    loss.write_bytes(loss.read_bytes().replace(b"\n", b"\nnot a metric line\n", 1) + b"x" * 5000 + b"\n")
    result = read_all(MLFLOW, run)
    assert result.codes == ["QD903", "QD903"]
    assert {f.source for f in result.findings} == {str(loss)}
    values = result.values("loss")
    assert len(values) == 7 and values[-1][0] == 7 and math.isnan(values[-1][1])


def test_mlflow_db_runs_read_like_the_file_store(logger_runs):
    database = logger_runs / "mlflow_db" / "mlflow.db"
    if not database.exists():
        pytest.skip(
            "mlflow.db needs sqlalchemy and alembic (full mlflow); mlflow-skinny writes only file stores"
        )
    problems = Problems(str(database))
    ((run_id, _),) = list_runs(database, problems)
    assert problems.findings() == []
    from_db = read_all(MLFLOW, database, table_key=run_id)
    from_files = read_all(MLFLOW, run_dir(logger_runs / "mlflow_files"))
    assert from_db.findings == []
    assert [(r.step, sorted(r.values)) for r in from_db.rows] == [
        (r.step, sorted(r.values)) for r in from_files.rows
    ]
    assert math.isnan(from_db.values("loss")[-1][1])
    assert {s.name: s.value for s in from_db.settings}["metric_for_best_model"] == "accuracy"


def minimal_database(path, rows):
    """The columns of MLflow's schema the reader relies on (documented in the reader)."""
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE runs (run_uuid TEXT, name TEXT);"
        "CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);"
        "CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT, step INTEGER, "
        "is_nan INTEGER);"
        "INSERT INTO runs VALUES ('r1', 'first');"
    )
    connection.executemany("INSERT INTO metrics VALUES (?, ?, ?, 'r1', ?, ?)", rows)
    connection.commit()
    connection.close()


def test_stored_non_finite_values_come_back(tmp_path):
    path = tmp_path / "mlflow.db"
    maximum = 1.7976931348623157e308
    minimal_database(
        path, [("loss", 0.0, 1, 1, 1), ("loss", maximum, 2, 2, 0), ("eval_loss", -maximum, 3, 3, 0)]
    )
    result = read_all(MLFLOW, path, table_key="r1")
    values = [value for row in result.rows for value in row.values.values()]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
    assert not list(tmp_path.glob("mlflow.db-*")), "the reader wrote a journal next to the database"


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"SQLite format 3\x00" + bytes(200), "QD903"), (b"\x00garbage" * 100, "QD908")],
    ids=["damaged-sqlite", "not-sqlite"],
)
def test_a_database_that_cannot_be_listed_is_a_finding(tmp_path, content, code):
    path = tmp_path / "mlflow.db"
    path.write_bytes(content)
    problems = Problems(str(path))
    assert list_runs(path, problems) == []
    assert [f.code for f in problems.findings()] == [code]


def test_a_sqlite_file_without_mlflow_tables_is_unsupported(tmp_path):
    path = tmp_path / "mlflow.db"
    sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.commit()
    problems = Problems(str(path))
    assert list_runs(path, problems) == []
    assert [f.code for f in problems.findings()] == ["QD906"]


def test_databases_from_before_the_is_nan_column_are_read(tmp_path):
    path = tmp_path / "mlflow.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE runs (run_uuid TEXT, name TEXT);"
        "CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);"
        "CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT, step INTEGER);"
        "INSERT INTO runs VALUES ('r', 'r'); INSERT INTO metrics VALUES ('loss', 0.5, 1, 'r', 1);"
    )
    connection.commit()
    connection.close()
    assert read_all(MLFLOW, path, table_key="r").values("loss") == [(1, 0.5)]
