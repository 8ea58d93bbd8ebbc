"""``qadiag train``: QA or sentence-pair training with the HF Trainer, done the right way.

Arguments are parsed with ``HfArgumentParser`` (so every ``TrainingArguments`` flag works as in the
HF example scripts) plus the ``TaskArguments`` below. With no arguments it trains the tiny QA model
on the bundled fixtures, offline. Everything the task decides (data, model, preprocessing, trainer)
comes from the task (:mod:`qadiag.tasks`); every check comes from the registry (:mod:`qadiag.checks`)
and runs through :mod:`qadiag.api`. Input is validated before anything is written.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag import compat, distributed
from qadiag.checks import Kind, checks_of, probe_names
from qadiag.errors import InputError
from qadiag.probes.sinks import SAMPLES_FILE
from qadiag.tasks import TASK_NAMES, get_task
from qadiag.tasks.base import FeatureSizes, Task, TrainingPieces

PROBE_REPORT = "qadiag_report.json"
# Examples whose every feature the alignment check verifies before training.
ALIGNMENT_EXAMPLES = 1000


@dataclass
class TaskArguments:
    task: str = field(default="qa", metadata={"help": "what to train", "choices": TASK_NAMES})
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "local HF model directory (from_pretrained); default: the bundled tiny BERT, trained from scratch"
        },
    )
    train_file: str | None = field(
        default=None, metadata={"help": "JSON/JSONL training examples (default: bundled fixtures)"}
    )
    validation_file: str | None = field(default=None, metadata={"help": "JSON/JSONL validation examples"})
    max_seq_length: int = field(default=128, metadata={"help": "tokens per feature (question + context window)"})
    doc_stride: int = field(default=32, metadata={"help": "overlap between context windows (QA)"})
    n_best_size: int = field(default=20, metadata={"help": "start/end candidates per feature (QA)"})
    max_answer_length: int = field(default=30, metadata={"help": "longest answer span in tokens (QA)"})
    version_2_with_negative: bool = field(default=False, metadata={"help": "allow null answers (SQuAD v2)"})
    probes: str = field(
        default="all",
        metadata={"help": f"probes to attach: 'all', 'none', or a comma-separated list of {','.join(probe_names())}"},
    )
    experiments: str = field(
        default="auto",
        metadata={
            "help": "run the experiment checks (gradient-accumulation invariance, overfit: a few extra short "
            "trainings) before training: 'auto' (for the bundled tiny model only), 'on' or 'off'",
            "choices": ("auto", "on", "off"),
        },
    )
    capture_every: int | None = field(
        default=None,
        metadata={"help": "output-capture: decode samples every N steps (default: about 10 captures per run)"},
    )
    samples: int = field(default=4, metadata={"help": "output-capture: samples decoded per capture"})

    @property
    def sizes(self) -> FeatureSizes:
        return FeatureSizes(max_seq_length=self.max_seq_length, doc_stride=self.doc_stride)

    def task_options(self) -> dict[str, Any]:
        return {
            "n_best_size": self.n_best_size,
            "max_answer_length": self.max_answer_length,
            "version_2_with_negative": self.version_2_with_negative,
        }


def parse_arguments(argv: Sequence[str]) -> tuple[TaskArguments, Any]:
    """Task and training arguments; an unknown flag is argparse's usage line and exit 2."""
    from transformers import HfArgumentParser, TrainingArguments

    argv, report_to = _split_report_to(argv)
    parser = HfArgumentParser((TaskArguments, TrainingArguments), prog="qadiag train")
    task_args, _ = parser.parse_known_args(list(argv))
    explicit = _explicit_flags(argv)
    if task_args.model_name_or_path is None:
        defaults = get_task(task_args.task).tiny_training_defaults
        parser.set_defaults(**{k: v for k, v in defaults.items() if k not in explicit})
    parser.set_defaults(output_dir=_default_output_dir(task_args.task))
    if "use_cpu" not in explicit and _launched_on_cpu_only():
        # Without use_cpu, transformers leaves torchrun's CPU processes undistributed: each would train
        # alone on all the data (the process group is up, the Trainer ignores it).
        parser.set_defaults(use_cpu=True)
    if "dataloader_pin_memory" not in explicit and not _has_accelerator():
        parser.set_defaults(dataloader_pin_memory=False)  # pinning without a GPU only warns, every epoch
    *parsed, unknown = parser.parse_args_into_dataclasses(args=list(argv), return_remaining_strings=True)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    task_args, training_args = parsed
    # The timestamped default differs between processes started a second apart: rank 0's wins.
    training_args.output_dir = distributed.from_main(training_args.output_dir)
    if not {"do_train", "do_eval", "do_predict"} & explicit:
        training_args.do_train = training_args.do_eval = True
    training_args.report_to = _report_targets(report_to)
    return task_args, training_args


def _split_report_to(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take ``--report_to a b`` (or ``a,b``) out of argv: transformers 5.x parses only one value there."""
    rest, targets, taking = [], [], False
    for arg in argv:
        if arg.startswith("--report_to") or arg.startswith("--report-to"):
            taking = "=" not in arg
            targets += arg.split("=", 1)[1].split(",") if not taking else []
        elif taking and not arg.startswith("--"):
            targets += arg.split(",")
        else:
            taking = False
            rest.append(arg)
    return rest, [target for target in targets if target]


def _report_targets(targets: list[str]) -> list[str]:
    # Nothing given means no reporting (4.x meant "all" by default: never report silently).
    if targets in ([], ["none"]):
        return []
    if targets == ["all"]:
        from transformers.integrations import get_available_reporting_integrations

        return list(get_available_reporting_integrations())
    return targets


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def _launched_on_cpu_only() -> bool:
    return distributed.launched_processes() > 1 and not _has_accelerator()


def _explicit_flags(argv: Sequence[str]) -> set[str]:
    return {arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")}


def _default_output_dir(task: str) -> str:
    return str(Path("qadiag-runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}")


# -- validation before anything is written ----------------------------------------------------------


def load_model_and_tokenizer(task: Task, task_args: TaskArguments, seed: int) -> tuple[Any, Any]:
    from qadiag import tiny

    if task_args.model_name_or_path is None:
        return task.tiny_model(seed), tiny.load_tokenizer()
    from transformers import AutoTokenizer

    path = task_args.model_name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = task.auto_model_class().from_pretrained(path)
    except (OSError, ValueError) as error:
        raise InputError(
            f"cannot load a model from {path!r}: {str(error).splitlines()[0]}",
            source=path,
            fix="pass a local directory written by save_pretrained()",
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(
            "the tokenizer is not a fast (Rust) tokenizer; QA needs its offset mapping",
            source=path,
            fix="save a tokenizer.json next to the model (PreTrainedTokenizerFast)",
        )
    return model, tokenizer


@dataclass
class Examples:
    train: Any
    validation: Any


def load_examples(task: Task, task_args: TaskArguments, num_labels: int | None) -> Examples:
    bundled = task.bundled_files()
    return Examples(
        train=task.load_examples(task_args.train_file or bundled["train"], num_labels=num_labels),
        validation=task.load_examples(task_args.validation_file or bundled["validation"], num_labels=num_labels),
    )


def check_output_dir(training_args: Any) -> None:
    path = Path(training_args.output_dir)
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            raise InputError(
                f"{str(candidate)!r} is a file, so the output dir {str(path)!r} cannot be created there",
                source=str(path),
                fix="pass --output_dir a directory path (new or existing)",
            )


def resolve_resume_checkpoint(training_args: Any) -> None:
    """``--resume_from_checkpoint latest`` -> the output dir's last checkpoint; any other value must be a
    checkpoint directory (with ``trainer_state.json``)."""
    from transformers.trainer_utils import get_last_checkpoint

    wanted = training_args.resume_from_checkpoint
    if not wanted:
        return
    output_dir = Path(training_args.output_dir)
    if wanted == "latest":
        last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last is None:
            raise InputError(
                f"--resume_from_checkpoint latest: {str(output_dir)!r} has no checkpoint-*/ directory",
                source=str(output_dir),
                fix="train without --resume_from_checkpoint first, or point --output_dir at the earlier run",
            )
        training_args.resume_from_checkpoint = last
        return
    checkpoint = Path(wanted)
    if not (checkpoint / "trainer_state.json").is_file():
        raise InputError(
            f"--resume_from_checkpoint {wanted!r} is not a checkpoint directory (no trainer_state.json in it)",
            source=wanted,
            fix="pass a checkpoint-<step>/ directory of an earlier run, or 'latest'",
        )
    training_args.resume_from_checkpoint = str(checkpoint)


# -- the run ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    results: dict[str, Any]
    result: Any = None  # qadiag.api.Result when probes were attached
    reports: list[Path] = field(default_factory=list)  # qadiag_report.json, report.html, report.md
    loggers: dict[str, str] = field(default_factory=dict)  # where W&B / TensorBoard wrote
    log_history: list[dict[str, Any]] = field(default_factory=list)


def check_context(
    task: Task,
    task_args: TaskArguments,
    training_args: Any,
    model: Any,
    tokenizer: Any,
    examples: Examples,
    train_features: Any,
    workdir: Path,
) -> Any:
    """What the dataset and experiment checks run on: this setup, with fresh copies of the model."""
    from qadiag.checks.context import CheckContext, CheckSettings

    pristine = copy.deepcopy(model)

    def build_trainer(train_dataset: Any, eval_dataset: Any = None, **overrides: Any) -> Any:
        args = dataclasses.replace(training_args, **overrides)
        pieces = TrainingPieces(
            copy.deepcopy(pristine), args, tokenizer, train_dataset, eval_dataset, examples.validation
        )
        return task.build_trainer(pieces, **task_args.task_options())

    return CheckContext(
        task=task,
        tokenizer=tokenizer,
        train_examples=examples.train,
        prepare_train=task.prepare_train(tokenizer, task_args.sizes),
        prepare_source=f"qadiag prepare_train_features ({task.name})",
        workdir=workdir,
        build_trainer=build_trainer,
        settings=CheckSettings(alignment_examples=ALIGNMENT_EXAMPLES),
        features=train_features,
    )


def run_checks(names: list[str], kind: Kind, task: Task, context: Any) -> list[Any]:
    from qadiag.api import run_check

    return [item for check in checks_of(names, kind=kind, task=task.name) for item in run_check(check, context)]


def wants_experiments(task_args: TaskArguments) -> bool:
    if distributed.launched_processes() > 1:
        return False  # they are short single-process trainings: not under a launcher
    if task_args.experiments == "auto":
        return task_args.model_name_or_path is None
    return task_args.experiments == "on"


def run(task_args: TaskArguments, training_args: Any) -> Outcome:
    """Train and/or evaluate with the checks and probes; metrics also go to ``all_results.json``."""
    from qadiag.api import attach
    from qadiag.checks import resolve

    task = get_task(task_args.task)
    names = resolve(task_args.probes)
    check_output_dir(training_args)
    resolve_resume_checkpoint(training_args)
    model, tokenizer = load_model_and_tokenizer(task, task_args, training_args.seed)
    examples = load_examples(task, task_args, task.num_labels(model))
    train_features = task.features(examples.train, task.prepare_train(tokenizer, task_args.sizes), "train features")
    eval_features = task.features(
        examples.validation, task.prepare_validation(tokenizer, task_args.sizes), "validation features"
    )
    findings: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="qadiag-checks-") as workdir:
        context = check_context(
            task, task_args, training_args, model, tokenizer, examples, train_features, Path(workdir)
        )
        findings += run_checks(names, Kind.DATASET, task, context)
        if wants_experiments(task_args):
            findings += run_checks(names, Kind.EXPERIMENT, task, context)
    pieces = TrainingPieces(
        model, training_args, tokenizer, train_features, eval_features, examples.validation, training_args.output_dir
    )
    trainer = task.build_trainer(pieces, **task_args.task_options())
    probes = None
    if names:
        probes = attach(
            trainer,
            names,
            task=task,
            tokenizer=tokenizer,
            capture_every=task_args.capture_every,
            samples=task_args.samples,
            answer_lookup=task.answer_lookup(train_features, examples.train, tokenizer),
            console=trainer.is_world_process_zero(),
        )
    results: dict[str, Any] = {}
    if training_args.do_train:
        with compat.checkpoint_rng_loading():
            train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        trainer.save_state()
        trainer.save_metrics("train", train_result.metrics)
        results.update(train_result.metrics)
    if training_args.do_eval:
        metrics = trainer.evaluate()
        trainer.save_metrics("eval", metrics)
        results.update(metrics)
    result = None
    if probes is not None:
        result = probes.finish()
        result.findings[:0] = findings
        result.probes = [name for name in names if checks_of([name], task=task.name)]
    reports: list[Path] = []
    if trainer.is_world_process_zero():
        trainer.save_metrics("all", results, combined=False)
        if result is not None:
            reports = write_reports(task, training_args, trainer, result)
    return Outcome(results, result, reports, logger_locations(trainer), list(trainer.state.log_history))


def logger_locations(trainer: Any) -> dict[str, str]:
    """Where W&B and TensorBoard wrote this run (W&B's ``./wandb`` is outside the output dir)."""
    found = {}
    for callback in trainer.callback_handler.callbacks:
        name = type(callback).__name__
        if name == "TensorBoardCallback" and getattr(callback, "tb_writer", None) is not None:
            writer = callback.tb_writer
            found["tensorboard"] = str(writer.get_logdir() if hasattr(writer, "get_logdir") else writer.log_dir)
        elif name == "WandbCallback":
            run = getattr(getattr(callback, "_wandb", None), "run", None)
            if run is not None and getattr(run, "dir", None):
                found["wandb"] = str(Path(run.dir).parent)
    return found


def run_outputs(output_dir: Path, trainer: Any) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "samples": SAMPLES_FILE if (output_dir / SAMPLES_FILE).is_file() else None,
        "predictions": sorted(path.name for path in output_dir.glob("*_predictions.json")),
    }
    return {**outputs, **logger_locations(trainer)}


def write_reports(task: Task, training_args: Any, trainer: Any, result: Any) -> list[Path]:
    """``qadiag_report.json``, ``report.html`` and ``report.md`` in the output dir; their paths."""
    from qadiag.report import write_report
    from qadiag.report.probe_report import probe_report_payload, write_probe_report

    output_dir = Path(training_args.output_dir)
    payload = probe_report_payload(
        generated_by="qadiag train",
        task=task.name,
        run_dir=str(output_dir),
        probes=result.probes,
        findings=result.findings,
        outputs=run_outputs(output_dir, trainer),
        args=training_args,
    )
    written = [write_probe_report(output_dir / PROBE_REPORT, payload)]
    paths = write_report(output_dir)
    return [*written, paths.html, paths.markdown]


def best_eval_loss(log_history: list[dict[str, Any]]) -> str | None:
    """"eval_loss was lowest at step 750 (0.675); the last evaluation, at step 1000, gave 0.834"."""
    evaluations = [row for row in log_history if isinstance(row.get("eval_loss"), (int, float)) and "step" in row]
    # a final evaluate() after training repeats the last step: count it once
    rows = list({row["step"]: row for row in evaluations}.values())
    if len(rows) < 2:
        return None
    best, last = min(rows, key=lambda row: row["eval_loss"]), rows[-1]
    if best["step"] == last["step"]:
        return f"eval_loss was lowest at the last evaluation, step {last['step']} ({last['eval_loss']:.4g})"
    return (
        f"eval_loss was lowest at step {best['step']} ({best['eval_loss']:.4g}); the last evaluation, at step "
        f"{last['step']}, gave {last['eval_loss']:.4g} (see report.html for the curves)"
    )


def summary(training_args: Any, outcome: Outcome) -> str:
    output_dir = Path(training_args.output_dir)
    shown = {
        k: round(float(v), 4)
        for k, v in outcome.results.items()
        if k.startswith("eval_") and not k.endswith(("_per_second", "runtime"))
    }
    lines = [f"run directory: {output_dir}"]
    files = [
        ("trainer state", output_dir / "trainer_state.json"),
        ("results", output_dir / "all_results.json"),
        ("samples", output_dir / SAMPLES_FILE),
        *(("predictions", path) for path in sorted(output_dir.glob("*_predictions.json"))),
    ]
    lines += [f"  {label + ':':<15}{path}" for label, path in files if path.exists()]
    labels = {"wandb": "W&B", "tensorboard": "TensorBoard"}
    lines += [f"  {labels[name] + ':':<15}{where}" for name, where in outcome.loggers.items()]
    if outcome.reports:
        lines.append(f"  {'reports:':<15}{', '.join(str(path) for path in outcome.reports)}")
    if shown:
        lines.append("final eval:    " + json.dumps(shown))
    best = best_eval_loss(outcome.log_history)
    if best:
        lines.append(f"best eval:     {best}")
    if outcome.result is not None:
        lines.append("")
        lines.append(outcome.result.text())
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    task_args, training_args = parse_arguments(argv)
    outcome = run(task_args, training_args)
    if training_args.process_index == 0:
        print(summary(training_args, outcome))
    distributed.shut_down()
    return 0
