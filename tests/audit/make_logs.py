"""Run directories with chosen cross-source problems, written by the real loggers (in a subprocess).

    python -m tests.audit.make_logs ROOT

W&B rows come from real ``wandb.log`` calls (offline), TensorBoard events from tensorboard's own
``EventFileWriter``, MLflow from ``mlflow`` (file store; ``mlflow.db`` too when sqlalchemy is
installed). ``trainer_state.json`` is written the way ``TrainerState.save_to_json`` writes it. Keys are
logged the way the Trainer's callbacks log them (``rewrite_logs``, which ``qadiag.namespaces.logger_key``
mirrors and its tests check, and ``train/global_step``), so that
each scenario differs from a healthy run only by the problem it is named after.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from qadiag.namespaces import logger_key

Row = dict[str, Any]


def train_row(step: int, loss: float) -> Row:
    return {"loss": loss, "grad_norm": 0.5, "learning_rate": 1e-3, "epoch": step / 10, "step": step}


def eval_row(step: int, **metrics: float) -> Row:
    return {**{f"eval_{k}": v for k, v in metrics.items()}, "epoch": step / 10, "step": step}


def healthy_history(steps: int = 6, eval_every: int = 2) -> list[Row]:
    rows: list[Row] = []
    for step in range(1, steps + 1):
        rows.append(train_row(step, 1.0 / step))
        if step % eval_every == 0:
            rows.append(eval_row(step, loss=0.9 / step, accuracy=0.5 + step / 100))
    return rows


def write_trainer_state(out: Path, history: list[Row]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = {"global_step": max(row["step"] for row in history), "log_history": history, "best_metric": None}
    (out / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def write_wandb(
    home: Path, out: Path, history: list[Row], settings: dict[str, Any], last: Row | None = None
) -> None:
    import wandb

    run = wandb.init(dir=str(home), project="qadiag-audit-tests", config={"output_dir": str(out), **settings})
    for row in history:
        logged = {logger_key(k): v for k, v in row.items() if k != "step"}
        run.log({**logged, "train/global_step": row["step"]})
    if last is not None:
        run.log({**last, "train/global_step": history[-1]["step"]})
    run.finish()


def write_tensorboard(log_dir: Path, out: Path, history: list[Row], settings: dict[str, Any]) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(log_dir))
    args = json.dumps({"output_dir": str(out), **settings}).encode()
    text = summary_pb2.Summary.Value(
        tag="args/text_summary",
        metadata=summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
        ),
        tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[args]),
    )
    writer.add_event(event_pb2.Event(step=0, summary=summary_pb2.Summary(value=[text])))
    for row in history:
        for key, value in row.items():
            if key != "step":
                value = summary_pb2.Summary.Value(tag=logger_key(key), simple_value=value)
                writer.add_event(
                    event_pb2.Event(step=row["step"], summary=summary_pb2.Summary(value=[value]))
                )
    writer.close()


def write_run(home: Path, history: list[Row], *, wandb_history=None, tb_history=None, settings=None) -> None:
    out = home / "out"
    settings = settings or {}
    write_trainer_state(out, history)
    write_wandb(home, out, wandb_history or history, settings)
    write_tensorboard(out / "runs" / "Jan01_00-00-00_host", out, tb_history or history, settings)


def nan_hidden(root: Path) -> None:
    """The trainer_state shows a filtered loss where W&B and TensorBoard got the NaN."""
    history = healthy_history()
    raw = [dict(row, loss=math.nan) if row["step"] == 3 and "loss" in row else row for row in history]
    write_run(root / "nan_hidden", history, wandb_history=raw, tb_history=raw)


def diverged(root: Path) -> None:
    history = healthy_history()
    other = [dict(row, loss=9.0) if row["step"] == 4 and "loss" in row else row for row in history]
    write_run(root / "diverged", history, wandb_history=other)


def eval_gaps(root: Path) -> None:
    """W&B misses the evaluation at step 4; metric_for_best_model names a metric never logged."""
    history = healthy_history()
    fewer = [row for row in history if not (row["step"] == 4 and "eval_loss" in row)]
    write_run(root / "eval_gaps", history, wandb_history=fewer, settings={"metric_for_best_model": "f1"})


def no_eval_loss(root: Path) -> None:
    history = [{k: v for k, v in row.items() if k != "eval_loss"} for row in healthy_history()]
    write_run(root / "no_eval_loss", history)


def restart(root: Path) -> None:
    """A second TensorBoard file in the same directory starts again from step 3."""
    history = healthy_history()
    write_run(root / "restart", history)
    log_dir = root / "restart" / "out" / "runs" / "Jan01_00-00-00_host"
    write_tensorboard(log_dir, root / "restart" / "out", [row for row in history if row["step"] >= 3], {})


def long_wandb(root: Path, rows: int = 600) -> None:
    """A W&B run several 32 KiB blocks long, for damage in the middle of a file; it ends with a table of
    sample predictions logged under train/ on purpose (media, not a metric)."""
    import wandb

    history = [train_row(step, 1.0 / step) for step in range(1, rows + 1)]
    table = wandb.Table(columns=["text"], data=[["a prediction"]])
    write_wandb(root / "long_wandb", root / "long_wandb" / "out", history, {}, last={"train/samples": table})


def mlflow_stores(root: Path) -> None:
    """The healthy history in an MLflow file store, and in mlflow.db when sqlalchemy is installed."""
    import importlib.util

    import mlflow

    uris = [f"file:{root / 'mlflow_files' / 'mlruns'}"]
    if importlib.util.find_spec("sqlalchemy") and importlib.util.find_spec("alembic"):
        (root / "mlflow_db").mkdir()
        uris.append(f"sqlite:///{root / 'mlflow_db' / 'mlflow.db'}")
    for uri in uris:
        mlflow.set_tracking_uri(uri)
        with mlflow.start_run():
            mlflow.log_params({"output_dir": "out", "metric_for_best_model": "accuracy"})
            for row in healthy_history():
                mlflow.log_metrics({k: v for k, v in row.items() if k != "step"}, step=row["step"])
                time.sleep(0.002)  # one log_metrics call per millisecond timestamp, as in a real run
            mlflow.log_metrics({"loss": math.nan, "epoch": 0.7}, step=7)


SCENARIOS = (nan_hidden, diverged, eval_gaps, no_eval_loss, restart, long_wandb)


def main(root: str) -> None:
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", MLFLOW_ALLOW_FILE_STORE="true")
    for scenario in SCENARIOS:
        scenario(Path(root))
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return
    mlflow_stores(Path(root))


if __name__ == "__main__":
    main(sys.argv[1])
