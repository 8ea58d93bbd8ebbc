"""``output-capture``: decoded sample predictions next to the ground truth, every N steps (seed 000).

Seed 000 rewrote ``train()``, ``training_step()`` and ``compute_loss()`` to print predictions, and took
the end index from ``start_logits``. This probe needs none of that: it decodes the outputs of the
training batch the model just ran (captured by the observer's forward hook; no extra forward pass)
with the task's reference decoding and hands the records to the sinks (``samples.jsonl``, the
console, W&B, TensorBoard). It also checks the gold spans against the examples' answers (QD402) and
the user's own decoder against the logits (QD405).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qadiag import compat, distributed
from qadiag.findings import finding
from qadiag.outputs import output_keys
from qadiag.probes.base import Probe
from qadiag.probes.decoding_code import check_decoding_code
from qadiag.probes.observe import MicroBatch
from qadiag.probes.sinks import SAMPLES_FILE, ConsoleSink, JsonlSink, TensorBoardSink, WandbSink
from qadiag.tasks import task_for_outputs
from qadiag.usercode import callable_location

# Automatic interval: about this many captures per run, and at least one every MAX_INTERVAL steps.
CAPTURES_PER_RUN = 10
MAX_INTERVAL = 50


def capture_interval(max_steps: int, requested: int | None) -> int:
    """``requested`` when given, else one that gives about ``CAPTURES_PER_RUN`` captures in ``max_steps``."""
    if requested is not None:
        return max(1, int(requested))
    return max(1, min(MAX_INTERVAL, max_steps // CAPTURES_PER_RUN))


class OutputCaptureProbe(Probe):
    name = "output-capture"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.samples: list[dict[str, Any]] = []  # on rank 0: those of every rank
        self.captured_here = 0
        self.every = 1
        self.tokenizer: Any = None
        self.task = options.task
        self.sinks: list[Any] = []

    def install(self, trainer: Any, observer: Any) -> None:
        super().install(trainer, observer)
        for item in check_decoding_code(trainer):
            self.record(item)

    @property
    def samples_path(self) -> Path | None:
        return Path(self.options.output_dir) / SAMPLES_FILE if self.options.output_dir else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Decode with the trainer's tokenizer; older train.py files pass none, then with the one given.
        self.tokenizer = (
            compat.callback_tokenizer(kwargs)
            or getattr(self.trainer, "processing_class", None)
            or self.options.tokenizer
        )
        self.every = capture_interval(state.max_steps, self.options.capture_every)
        if distributed.is_main_process():
            self.sinks = self._sinks(args, state)

    def _sinks(self, args: Any, state: Any) -> list[Any]:
        sinks: list[Any] = []
        if self.samples_path is not None:
            jsonl = JsonlSink(self.samples_path)
            jsonl.start(state.global_step)
            sinks.append(jsonl)
        report_to = set(args.report_to or [])
        if "wandb" in report_to:
            sinks.append(WandbSink())
        if "tensorboard" in report_to:
            sinks.append(TensorBoardSink(self.trainer))
        if self.options.console:
            sinks.append(ConsoleSink())
        return sinks

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step % self.every != 0 or self.observer is None:
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
        for sink in self.sinks:
            sink.write(records)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.captured_here or state.global_step == 0:
            return
        if self.tokenizer is None:
            cause = "the trainer has no processing_class (tokenizer) to decode them with"
            fix = "pass processing_class=tokenizer to your Trainer, or tokenizer= to qadiag.attach()"
        else:
            cause = f"capture every {self.every} steps, and the run had {state.global_step}"
            fix = "lower capture_every below the number of training steps (or leave it unset: it adapts)"
        self.record(
            finding(
                "QD404",
                f"no samples were captured in {state.global_step} steps: {cause}",
                fix,
                step=state.global_step,
                source="output-capture",
            )
        )

    # -- decoding ------------------------------------------------------------------------------
    def _decode(self, batch: MicroBatch, step: int) -> list[dict[str, Any]]:
        if self.tokenizer is None:
            return []
        task = self.task or task_for_outputs(batch.outputs)
        if task is None:
            keys = ", ".join(output_keys(batch.outputs))
            self.record(
                finding(
                    "QD401",
                    f"cannot decode samples at step {step}: no start_logits/end_logits or logits in the model "
                    f"outputs (they hold: {keys})",
                    "return a ModelOutput (or dict) with start_logits and end_logits for QA, logits for "
                    "classification; a bare tuple loses the names",
                    step=step,
                    source=type(self.trainer.model).__name__ + ".forward",
                )
            )
            return []
        limit = max(0, int(self.options.samples))
        decoded = task.decode(batch.outputs, batch.inputs, self.tokenizer, limit)
        records = [{"step": step, "sample": i, **record} for i, record in enumerate(decoded)]
        self._check_gold(records, batch)
        self._check_user_decoder(records, batch, step)
        return records

    def _check_gold(self, records: list[dict[str, Any]], batch: MicroBatch) -> None:
        from qadiag.tasks.qa.decode import same_text

        lookup = self.options.answer_lookup
        if lookup is None:
            return
        for record in records:
            answer = lookup(batch.inputs["input_ids"][record["sample"]])
            if answer is None:
                continue
            record["answer"] = answer
            if record["gold"] and not same_text(record["gold"], answer):
                self.record(
                    finding(
                        "QD402",
                        f"the gold span of sample {record['sample']} at step {record['step']} decodes to "
                        f"{record['gold']!r} (tokens {record['gold_start']}-{record['gold_end']}) but the example's "
                        f"answer is {answer!r}",
                        "compute start/end positions from the offset mapping of the context tokens (see "
                        "qadiag.tasks.qa.features.answer_token_span); run the alignment probe for every feature",
                        step=record["step"],
                        source="train features",
                    )
                )

    def _check_user_decoder(self, records: list[dict[str, Any]], batch: MicroBatch, step: int) -> None:
        """QD405: the user's sample decoder must give the span the logits point at: the reference
        decoding, or at least the textbook one (argmax of start_logits to argmax of end_logits)."""
        from qadiag.tasks.qa.decode import same_text, textbook_spans

        decode = self.options.decode
        if decode is None or not records or "question" not in records[0]:
            return
        theirs = list(decode(batch.outputs, batch.inputs, self.tokenizer))[: len(records)]
        textbook = textbook_spans(batch.outputs, batch.inputs, self.tokenizer, len(theirs))
        for record, their_prediction, (acceptable, from_start_only) in zip(records, theirs, textbook):
            text = their_prediction.get("prediction", "") if isinstance(their_prediction, dict) else their_prediction
            record["user_prediction"] = text
            if same_text(text, record["prediction"]) or same_text(text, acceptable):
                continue
            cause = (
                "it is the start token alone: the end index was taken from start_logits (seed 000)"
                if same_text(text, from_start_only)
                else f"the logits point at {acceptable!r} (argmax start to argmax end)"
            )
            self.record(
                finding(
                    "QD405",
                    f"your decoder gives {text!r} for sample {record['sample']} at step {step}, the reference "
                    f"decoding gives {record['prediction']!r}; {cause}",
                    "take the start index from start_logits and the end index from end_logits, only among context "
                    "tokens, with end >= start and a maximum answer length; skip special and padding tokens",
                    step=step,
                    source=callable_location(decode),
                )
            )
