"""``output-capture``: decoded sample predictions next to the ground truth, every N steps (seed 000).

Seed 000 rewrote ``train()``, ``training_step()`` and ``compute_loss()`` to print predictions, and took
the end index from ``start_logits``. This probe needs none of that: it decodes the outputs of the
training batch the model just ran (captured by the observer's forward hook; no extra forward pass)
with the reference decoding in ``qadiag.probes.decode`` and writes them to ``samples.jsonl`` (append
only, one line per sample, flushed and fsynced per capture), the console, a W&B Table and
TensorBoard text when those loggers are active.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qadiag import compat, distributed
from qadiag.errors import NoLogitsError
from qadiag.findings import finding
from qadiag.probes.base import Probe
from qadiag.probes.decode import decode_pair, decode_qa, task_of
from qadiag.probes.observe import MicroBatch
from qadiag.usercode import callable_location

SAMPLES_FILE = "samples.jsonl"
_CONSOLE_WIDTH = 60


class OutputCaptureProbe(Probe):
    name = "output-capture"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.samples: list[dict[str, Any]] = []  # on rank 0: those of every rank
        self.captured_here = 0
        self.tokenizer: Any = None

    @property
    def samples_path(self) -> Path | None:
        return Path(self.options.output_dir) / SAMPLES_FILE if self.options.output_dir else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.tokenizer = compat.callback_tokenizer(kwargs) or getattr(self.trainer, "processing_class", None)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        every = max(1, int(self.options.capture_every))
        if state.global_step % every != 0 or self.observer is None:
            return
        batch = self.observer.last_training
        decodable = batch is not None and batch.outputs is not None
        local = self._decode(batch, state.global_step) if decodable else []
        self.captured_here += len(local)
        # Every rank reaches this gather on the same steps; rank 0 writes what all of them captured.
        gathered = distributed.gather_to_main(local)
        if gathered is None:
            return
        records = distributed.flatten_rank_records(gathered)
        if not records:
            return
        self.samples.extend(records)
        self._write_jsonl(records)
        self._to_loggers(args, state, records)
        if self.options.console:
            print(format_console(records), flush=True)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.captured_here and state.global_step > 0:
            self.record(finding(
                "QD404",
                f"no samples were captured in {state.global_step} steps (capture every "
                f"{self.options.capture_every} steps)",
                "lower capture_every below the number of training steps",
                step=state.global_step,
                source="output-capture",
            ))

    # -- decoding ------------------------------------------------------------------------------
    def _decode(self, batch: MicroBatch, step: int) -> list[dict[str, Any]]:
        if self.tokenizer is None:
            return []
        try:
            task = task_of(batch.outputs)
        except NoLogitsError as error:
            self.record(finding(
                "QD401",
                f"cannot decode samples at step {step}: {error}",
                "return a ModelOutput (or dict) with start_logits and end_logits for QA, logits for "
                "classification; a bare tuple loses the names",
                step=step,
                source=type(self.trainer.model).__name__ + ".forward",
            ))
            return []
        limit = max(0, int(self.options.samples))
        if task == "qa":
            decoded = decode_qa(batch.outputs, batch.inputs, self.tokenizer, limit)
            records = [{"step": step, "sample": i, **sample.as_record()} for i, sample in enumerate(decoded)]
            self._check_gold(records, batch)
            self._check_user_decoder(records, batch, step)
        else:
            decoded = decode_pair(batch.outputs, batch.inputs, self.tokenizer, limit)
            records = [{"step": step, "sample": i, **sample.as_record()} for i, sample in enumerate(decoded)]
        return records

    def _check_gold(self, records: list[dict[str, Any]], batch: MicroBatch) -> None:
        lookup = self.options.answer_lookup
        if lookup is None:
            return
        for record in records:
            answer = lookup(batch.inputs["input_ids"][record["sample"]])
            if answer is None:
                continue
            record["answer"] = answer
            if record["gold"] and squash(record["gold"]) != squash(answer):
                self.record(finding(
                    "QD402",
                    f"the gold span of sample {record['sample']} at step {record['step']} decodes to "
                    f"{record['gold']!r} (tokens {record['gold_start']}-{record['gold_end']}) but the example's "
                    f"answer is {answer!r}",
                    "compute start/end positions from the offset mapping of the context tokens (see "
                    "qadiag.tasks.qa.features.answer_token_span); run the alignment probe for every feature",
                    step=record["step"],
                    source="train features",
                ))

    def _check_user_decoder(self, records: list[dict[str, Any]], batch: MicroBatch, step: int) -> None:
        """QD405: the user's sample decoder must give the span the logits point at: the reference
        decoding, or at least the textbook one (argmax of start_logits to argmax of end_logits)."""
        decode = self.options.decode
        if decode is None:
            return
        theirs = list(decode(batch.outputs, batch.inputs, self.tokenizer))[: len(records)]
        textbook = textbook_spans(batch.outputs, batch.inputs, self.tokenizer, len(theirs))
        for record, their_prediction, (acceptable, from_start_only) in zip(records, theirs, textbook):
            text = their_prediction.get("prediction", "") if isinstance(their_prediction, dict) else their_prediction
            record["user_prediction"] = text
            if squash(text) in {squash(record["prediction"]), squash(acceptable)}:
                continue
            cause = (
                "it is the start token alone: the end index was taken from start_logits (seed 000)"
                if squash(text) == squash(from_start_only)
                else f"the logits point at {acceptable!r} (argmax start to argmax end)"
            )
            self.record(finding(
                "QD405",
                f"your decoder gives {text!r} for sample {record['sample']} at step {step}, the reference decoding "
                f"gives {record['prediction']!r}; {cause}",
                "take the start index from start_logits and the end index from end_logits, only among context "
                "tokens, with end >= start and a maximum answer length; skip special and padding tokens",
                step=step,
                source=callable_location(decode),
            ))

    # -- outputs ---------------------------------------------------------------------------------
    def _write_jsonl(self, records: list[dict[str, Any]]) -> None:
        path = self.samples_path
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
            handle.flush()
            os.fsync(handle.fileno())

    def _to_loggers(self, args: Any, state: Any, records: list[dict[str, Any]]) -> None:
        report_to = set(args.report_to or [])
        columns = list(records[0])
        if "wandb" in report_to:
            import wandb

            if wandb.run is not None:
                table = wandb.Table(columns=columns, data=[[_cell(r.get(c)) for c in columns] for r in records])
                # commit=False: ride on the Trainer's next history row instead of adding a step of our own
                wandb.log({"samples/predictions": table}, commit=False)
        if "tensorboard" in report_to:
            writer = _tensorboard_writer(self.trainer)
            if writer is not None:
                writer.add_text("samples/predictions", markdown_table(columns, records), state.global_step)


def textbook_spans(outputs: Any, inputs: Any, tokenizer: Any, limit: int) -> list[tuple[str, str]]:
    """Per sample: the argmax-start..argmax-end decoding ("" when end < start), and the start token alone."""
    start_logits, end_logits = outputs["start_logits"], outputs["end_logits"]
    spans = []
    for i in range(limit):
        ids = [int(token) for token in inputs["input_ids"][i]]
        start, end = int(start_logits[i].argmax()), int(end_logits[i].argmax())
        full = tokenizer.decode(ids[start : end + 1], skip_special_tokens=True) if end >= start else ""
        spans.append((full, tokenizer.decode(ids[start : start + 1], skip_special_tokens=True)))
    return spans


def _tensorboard_writer(trainer: Any) -> Any:
    for callback in trainer.callback_handler.callbacks:
        if type(callback).__name__ == "TensorBoardCallback":
            return getattr(callback, "tb_writer", None)
    return None


def _cell(value: Any) -> Any:
    return "" if value is None else value


def squash(text: str) -> str:
    """Compare decoded text with source text: case, whitespace and WordPiece spacing ignored."""
    return re.sub(r"\s+", "", text).lower()


def shorten(text: str, width: int = _CONSOLE_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_console(records: list[dict[str, Any]]) -> str:
    lines = []
    for record in records:
        if "question" in record:
            mark = "✓" if squash(record["prediction"]) == squash(record["gold"]) else "✗"
            lines.append(
                f"[{_label(record)}] {mark} Q: {shorten(record['question'])} | "
                f"pred: {shorten(record['prediction'], 30)!r} | gold: {shorten(record['gold'], 30)!r}"
            )
        else:
            mark = "✓" if record["prediction"] == record["gold"] else "✗"
            lines.append(
                f"[{_label(record)}] {mark} {shorten(record['text'])} | "
                f"pred: {record['prediction']} | gold: {record['gold']}"
            )
    return "\n".join(lines)


def _label(record: dict[str, Any]) -> str:
    rank = f" rank {record['rank']}" if "rank" in record else ""
    return f"qadiag step {record['step']}{rank} #{record['sample']}"


def markdown_table(columns: list[str], records: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return shorten(_cell(value), 80).replace("|", "\\|")

    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    rows = ["| " + " | ".join(cell(record.get(c)) for c in columns) + " |" for record in records]
    return "\n".join([header, *rows])


def answer_lookup_from(features: Any, examples: Any, pad_token_id: int | None) -> Callable[[Any], str | None]:
    """Map a batch row's ``input_ids`` back to its example's first answer text.

    Needs an ``example_id`` column in the training features (``prepare_train_features`` adds one
    when the examples have ``id``); returns a lookup that answers None otherwise.
    """
    if "example_id" not in getattr(features, "column_names", []):
        return lambda input_ids: None
    answers = {
        example_id: ans["text"][0] if ans["text"] else ""
        for example_id, ans in zip(examples["id"], examples["answers"])
    }
    by_ids = {
        _key(ids, pad_token_id): answers.get(example_id)
        for ids, example_id in zip(features["input_ids"], features["example_id"])
    }
    return lambda input_ids: by_ids.get(_key(input_ids, pad_token_id))


def _key(input_ids: Any, pad_token_id: int | None) -> tuple[int, ...]:
    ids = [int(token) for token in input_ids]
    while ids and pad_token_id is not None and ids[-1] == pad_token_id:
        ids.pop()
    return tuple(ids)
