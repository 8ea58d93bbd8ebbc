"""Where captured samples go: ``samples.jsonl``, the console, a W&B table, TensorBoard text.

Each sink takes the records of one capture (on rank 0 in a distributed run: those of every rank).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SAMPLES_FILE = "samples.jsonl"
CONSOLE_WIDTH = 60


class JsonlSink:
    """Append-only ``samples.jsonl``, flushed and fsynced per capture.

    When training starts at step N (a resumed run, or a new run in an old output dir), records after
    step N are dropped first, so each (step, sample) is in the file once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def start(self, step: int) -> None:
        if not self.path.is_file():
            return
        kept = []
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut by a kill: the resumed run writes that step again
                if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
                    kept.append(line if line.endswith("\n") else line + "\n")
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(kept), encoding="utf-8")
        temporary.replace(self.path)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
            handle.flush()
            os.fsync(handle.fileno())


def shorten(text: Any, width: int = CONSOLE_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(record: dict[str, Any]) -> str:
    rank = f" rank {record['rank']}" if "rank" in record else ""
    return f"qadiag step {record['step']}{rank} #{record['sample']}"


def console_line(record: dict[str, Any]) -> str:
    mark = "✓" if record.get("correct") else "✗"
    if "question" in record:
        gold = shorten(record["gold"], 30) if record["gold"] or not record.get("note") else "(not in this window)"
        return (
            f"[{_label(record)}] {mark} Q: {shorten(record['question'])} | "
            f"pred: {shorten(record['prediction'], 30)!r} | gold: {gold!r}"
        )
    return (
        f"[{_label(record)}] {mark} {shorten(record['text'])} | pred: {record['prediction']} | gold: {record['gold']}"
    )


def format_console(records: Sequence[dict[str, Any]]) -> str:
    return "\n".join(console_line(record) for record in records)


class ConsoleSink:
    """Sample lines printed above the Trainer's progress bar (``tqdm.write``), not glued onto it."""

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        from tqdm.auto import tqdm

        tqdm.write(format_console(records))


def _cell(value: Any) -> Any:
    return "" if value is None else value


def markdown_table(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return shorten(_cell(value), 80).replace("|", "\\|")

    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    rows = ["| " + " | ".join(cell(record.get(c)) for c in columns) + " |" for record in records]
    return "\n".join([header, *rows])


class WandbSink:
    """One ``samples/predictions`` W&B table with every capture, its rows at the step they were captured at.

    The Trainer's W&B callback plots everything against ``train/global_step`` (``define_metric``): the
    table is logged with that step, so step-150 samples sit on step 150, not on the next logged row. An
    incremental table (wandb >= 0.19) sends only the new rows each time; older wandb gets the whole table.
    """

    def __init__(self) -> None:
        self.table: Any = None
        self.columns: list[str] | None = None

    def _new_table(self, wandb: Any) -> Any:
        try:
            return wandb.Table(columns=self.columns, log_mode="INCREMENTAL")
        except TypeError:  # wandb < 0.19: no incremental tables
            return wandb.Table(columns=self.columns)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        import wandb

        if wandb.run is None:
            return
        if self.table is None:
            keys = {key for record in records for key in record}
            # a table's columns are fixed at its first capture: a note or answer may come later
            later = {"note", "answer"} if "question" in keys else set()
            self.columns = [*dict.fromkeys([*(key for record in records for key in record), *sorted(later - keys)])]
            self.table = self._new_table(wandb)
        for record in records:
            self.table.add_data(*[_cell(record.get(column)) for column in self.columns])
        wandb.log({"samples/predictions": self.table, "train/global_step": records[0]["step"]})


class TensorBoardSink:
    """A ``samples/predictions`` text summary (a Markdown table) at the capture's step."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        writer = next(
            (
                getattr(callback, "tb_writer", None)
                for callback in self.trainer.callback_handler.callbacks
                if type(callback).__name__ == "TensorBoardCallback"
            ),
            None,
        )
        if writer is not None:
            columns = list(dict.fromkeys(key for record in records for key in record))
            writer.add_text("samples/predictions", markdown_table(columns, records), records[0]["step"])
