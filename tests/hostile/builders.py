"""Writers for hostile run directories: real formats (protobuf records in the real framings, sqlite files,
JSON as the Trainer writes it), carrying whatever names, keys and values a test chooses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.audit.framing import WandbLogWriter, tfrecord


def trainer_state(out: Path, history: Iterable[Mapping[str, Any]] | str) -> Path:
    """``out/trainer_state.json`` with ``history`` as ``log_history`` (or raw text for the whole file)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "trainer_state.json"
    if isinstance(history, str):
        path.write_text(history)
    else:
        path.write_text(json.dumps({"global_step": 1, "log_history": list(history)}, indent=2))
    return path


def wandb_run(run_dir: Path, rows: Iterable[Mapping[str, str]], config: Mapping[str, str] | None = None,
              run_id: str = "hostile") -> Path:
    """``run-<id>.wandb`` with one history record per row: ``{logger key: value_json text}``, and a
    config record when given (``{name: value_json text}``)."""
    from wandb.proto import wandb_internal_pb2 as pb

    writer = WandbLogWriter()
    number = 0
    if config is not None:
        record = pb.Record(num=number)
        for key, value in config.items():
            record.config.update.add(key=key, value_json=value)
        writer.add(record.SerializeToString())
    for step, row in enumerate(rows):
        number += 1
        record = pb.Record(num=number)
        for key, value in row.items():
            record.history.item.add(nested_key=[key], value_json=value)
        record.history.step.num = step
        writer.add(record.SerializeToString())
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"run-{run_id}.wandb"
    path.write_bytes(bytes(writer.data))
    return path


def event(step: int, tag: str, value: float | None = None, text: bytes | None = None, wall_time: float = 0.0) -> bytes:
    """One TensorBoard Event: a scalar, or a text summary (``args``) when ``text`` is given; the writers
    also set ``wall_time``."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

    if text is None:
        summary_value = summary_pb2.Summary.Value(tag=tag, simple_value=value)
    else:
        summary_value = summary_pb2.Summary.Value(
            tag=tag, tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text])
        )
    summary = summary_pb2.Summary(value=[summary_value])
    return event_pb2.Event(step=step, wall_time=wall_time, summary=summary).SerializeToString()


def tensorboard_file(log_dir: Path, payloads: Iterable[bytes], *, garbage: bytes = b"", name: str = "1.host") -> Path:
    """An event file of these events, with ``garbage`` after the first one."""
    records = [tfrecord(payload) for payload in payloads]
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"events.out.tfevents.{name}"
    path.write_bytes(b"".join(records[:1]) + garbage + b"".join(records[1:]))
    return path


def mlflow_file_run(run_dir: Path, metrics: Mapping[str, str], params: Mapping[str, str] | None = None) -> Path:
    """A file-store run: ``metrics/<key>`` with the given text, ``params/<name>``."""
    (run_dir / "metrics").mkdir(parents=True, exist_ok=True)
    (run_dir / "params").mkdir(exist_ok=True)
    (run_dir / "meta.yaml").write_text("run_id: hostile\n")
    for key, text in metrics.items():
        path = run_dir / "metrics" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name, text in (params or {}).items():
        (run_dir / "params" / name).write_text(text)
    return run_dir


MLFLOW_SCHEMA = (
    "CREATE TABLE runs (run_uuid TEXT, name TEXT);"
    "CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);"
    "CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT, step INTEGER, is_nan INTEGER);"
)


def mlflow_db(path: Path, rows: Iterable[tuple], *, schema: str = MLFLOW_SCHEMA, run: str = "r1") -> sqlite3.Connection:
    """``mlflow.db`` with MLflow's columns and ``rows`` of ``(key, value, timestamp, step, is_nan)``;
    the connection is returned open (close it, or keep it to leave a write-ahead log behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.executescript(schema)
    connection.execute("INSERT INTO runs VALUES (?, ?)", (run, run))
    connection.executemany(
        f"INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, '{run}')", rows
    )
    connection.commit()
    return connection
