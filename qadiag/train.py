"""``qadiag train``: QA or sentence-pair training with the HF Trainer, done the right way.

Arguments are parsed with ``HfArgumentParser`` (so every ``TrainingArguments`` flag works as in the
HF example scripts) plus the ``TaskArguments`` below. With no arguments it trains the tiny QA model
on the bundled fixtures, offline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag import distributed
from qadiag.errors import QadiagError

TASKS = ("qa", "pair-classification")

# Tuned for the tiny from-scratch models on the bundled data (a couple of minutes on 2 CPU cores);
# applied only when no --model_name_or_path is given and the flag was not passed explicitly.
TINY_TRAINING_DEFAULTS: dict[str, dict[str, Any]] = {
    "qa": {
        "learning_rate": 1e-3,
        "num_train_epochs": 20,
        "per_device_train_batch_size": 32,
        "per_device_eval_batch_size": 64,
        "warmup_steps": 30,
        "weight_decay": 0.01,
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "save_total_limit": 2,
        "logging_steps": 20,
    },
    "pair-classification": {
        "learning_rate": 1e-3,
        "num_train_epochs": 30,
        "per_device_train_batch_size": 32,
        "per_device_eval_batch_size": 64,
        "warmup_steps": 50,
        "weight_decay": 0.01,
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "save_total_limit": 2,
        "logging_steps": 10,
    },
}


@dataclass
class TaskArguments:
    task: str = field(default="qa", metadata={"help": "what to train", "choices": TASKS})
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
        metadata={
            "help": "probes to attach: 'all', 'none', or a comma-separated list of "
            "output-capture,loss-swap,log-keys,eval-loss,alignment"
        },
    )
    capture_every: int = field(default=50, metadata={"help": "output-capture: decode samples every N steps"})
    samples: int = field(default=4, metadata={"help": "output-capture: samples decoded per capture"})


def parse_arguments(argv: Sequence[str]) -> tuple[TaskArguments, Any]:
    from transformers import HfArgumentParser, TrainingArguments

    argv, report_to = _split_report_to(argv)
    parser = HfArgumentParser((TaskArguments, TrainingArguments), prog="qadiag train")
    task_args, _ = parser.parse_known_args(list(argv))
    explicit = _explicit_flags(argv)
    if task_args.model_name_or_path is None:
        parser.set_defaults(**{k: v for k, v in TINY_TRAINING_DEFAULTS[task_args.task].items() if k not in explicit})
    parser.set_defaults(output_dir=_default_output_dir(task_args.task))
    if "use_cpu" not in explicit and _launched_on_cpu_only():
        # Without use_cpu, transformers leaves torchrun's CPU processes undistributed: each would train
        # alone on all the data (the process group is up, the Trainer ignores it).
        parser.set_defaults(use_cpu=True)
    task_args, training_args = parser.parse_args_into_dataclasses(args=list(argv))
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


def _launched_on_cpu_only() -> bool:
    import torch

    return distributed.launched_processes() > 1 and not torch.cuda.is_available()


def _explicit_flags(argv: Sequence[str]) -> set[str]:
    return {arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")}


def _default_output_dir(task: str) -> str:
    return str(Path("qadiag-runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}")


@dataclass
class Data:
    train_examples: Any
    eval_examples: Any


def load_examples(task_args: TaskArguments) -> Data:
    """Validate and load the example files before anything is written to the output dir."""
    from qadiag import data, tiny

    bundled = tiny.qa_data_files() if task_args.task == "qa" else tiny.pair_data_files()
    load = data.load_qa_file if task_args.task == "qa" else data.load_pair_file
    train_file = task_args.train_file or bundled["train"]
    validation_file = task_args.validation_file or bundled["validation"]
    return Data(train_examples=load(train_file), eval_examples=load(validation_file))


def load_model_and_tokenizer(task_args: TaskArguments, seed: int) -> tuple[Any, Any]:
    from qadiag import tiny

    if task_args.model_name_or_path is None:
        tokenizer = tiny.load_tokenizer()
        model = tiny.tiny_qa_model(seed) if task_args.task == "qa" else tiny.tiny_pair_model(seed)
        return model, tokenizer
    from transformers import AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoTokenizer

    auto_model = AutoModelForQuestionAnswering if task_args.task == "qa" else AutoModelForSequenceClassification
    path = task_args.model_name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = auto_model.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise QadiagError(
            f"cannot load a model from {path!r}: {str(error).splitlines()[0]}",
            source=path,
            fix="pass a local directory written by save_pretrained()",
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise QadiagError(
            "the tokenizer is not a fast (Rust) tokenizer; QA needs its offset mapping",
            source=path,
            fix="save a tokenizer.json next to the model (PreTrainedTokenizerFast)",
        )
    return model, tokenizer


def build_trainer(task_args: TaskArguments, training_args: Any, data: Data, model: Any, tokenizer: Any) -> Any:
    from transformers import DataCollatorWithPadding

    collator = DataCollatorWithPadding(tokenizer)
    common = {"model": model, "args": training_args, "data_collator": collator, "processing_class": tokenizer}
    if task_args.task == "qa":
        from qadiag.tasks.qa.features import build_features
        from qadiag.tasks.qa.metrics import compute_metrics
        from qadiag.tasks.qa.postprocess import make_post_process_function
        from qadiag.tasks.qa.trainer import QuestionAnsweringTrainer

        sizes = {"max_seq_length": task_args.max_seq_length, "doc_stride": task_args.doc_stride}
        return QuestionAnsweringTrainer(
            **common,
            train_dataset=build_features(data.train_examples, tokenizer, train=True, **sizes),
            eval_dataset=build_features(data.eval_examples, tokenizer, train=False, **sizes),
            eval_examples=data.eval_examples,
            post_process_function=make_post_process_function(
                n_best_size=task_args.n_best_size,
                max_answer_length=task_args.max_answer_length,
                version_2_with_negative=task_args.version_2_with_negative,
                output_dir=training_args.output_dir,
            ),
            compute_metrics=compute_metrics,
        )
    from transformers import Trainer

    from qadiag.tasks.pair import build_pair_features, compute_metrics

    return Trainer(
        **common,
        train_dataset=build_pair_features(data.train_examples, tokenizer, max_seq_length=task_args.max_seq_length),
        eval_dataset=build_pair_features(data.eval_examples, tokenizer, max_seq_length=task_args.max_seq_length),
        compute_metrics=compute_metrics,
    )


@dataclass
class Outcome:
    results: dict[str, Any]
    report: Any = None  # qadiag.api.ProbeReport when probes were attached


def attach_probes(task_args: TaskArguments, names: list[str], trainer: Any, data: Data, tokenizer: Any) -> Any:
    from qadiag.api import attach

    if not names:
        return None
    lookup = None
    if task_args.task == "qa":
        from qadiag.probes.output_capture import answer_lookup_from

        lookup = answer_lookup_from(trainer.train_dataset, data.train_examples, tokenizer.pad_token_id)
    return attach(
        trainer,
        names,
        capture_every=task_args.capture_every,
        samples=task_args.samples,
        answer_lookup=lookup,
        console=trainer.is_world_process_zero(),
    )


def check_training_alignment(task_args: TaskArguments, names: list[str], data: Data, tokenizer: Any) -> list[Any]:
    if task_args.task != "qa" or "alignment" not in names:
        return []
    import functools

    from qadiag.probes.alignment import check_alignment
    from qadiag.tasks.qa.features import prepare_train_features

    prepare = functools.partial(
        prepare_train_features,
        tokenizer=tokenizer,
        max_seq_length=task_args.max_seq_length,
        doc_stride=task_args.doc_stride,
    )
    return check_alignment(data.train_examples, prepare, tokenizer, source="qadiag prepare_train_features").findings


def run(task_args: TaskArguments, training_args: Any) -> Outcome:
    """Train and/or evaluate with the probes attached; metrics also go to ``all_results.json``."""
    from qadiag.probes import resolve_probe_names

    names = resolve_probe_names(task_args.probes)
    data = load_examples(task_args)
    model, tokenizer = load_model_and_tokenizer(task_args, training_args.seed)
    trainer = build_trainer(task_args, training_args, data, model, tokenizer)
    alignment = check_training_alignment(task_args, names, data, tokenizer)
    probes = attach_probes(task_args, names, trainer, data, tokenizer)
    results: dict[str, Any] = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        trainer.save_state()
        trainer.save_metrics("train", train_result.metrics)
        results.update(train_result.metrics)
    if training_args.do_eval:
        metrics = trainer.evaluate()
        trainer.save_metrics("eval", metrics)
        results.update(metrics)
    report = None
    if probes is not None:
        report = probes.finish()
        report.findings[:0] = alignment
        if "alignment" in names:
            report.probes.append("alignment")
    if trainer.is_world_process_zero():
        trainer.save_metrics("all", results, combined=False)
        if report is not None:
            write_probe_report(Path(training_args.output_dir) / PROBE_REPORT, report)
    return Outcome(results, report)


PROBE_REPORT = "qadiag_report.json"


def write_probe_report(path: Path, report: Any) -> None:
    payload = {"probes": report.probes, "findings": [item.to_dict() for item in report.findings]}
    path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")


def summary(training_args: Any, outcome: Outcome) -> str:
    output_dir = Path(training_args.output_dir)
    shown = {
        k: round(float(v), 4)
        for k, v in outcome.results.items()
        if k.startswith("eval_") and not k.endswith(("_per_second", "runtime"))
    }
    lines = [f"run directory: {output_dir}"]
    if (output_dir / "trainer_state.json").exists():
        lines.append(f"trainer state: {output_dir / 'trainer_state.json'}")
    lines.append(f"results:       {output_dir / 'all_results.json'}")
    if (output_dir / "samples.jsonl").exists():
        lines.append(f"sample log:    {output_dir / 'samples.jsonl'}")
    if outcome.report is not None:
        lines.append(f"probe report:  {output_dir / PROBE_REPORT}")
    if shown:
        lines.append("eval metrics:  " + json.dumps(shown))
    if outcome.report is not None:
        lines.append("")
        lines.append(outcome.report.text())
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    task_args, training_args = parse_arguments(argv)
    outcome = run(task_args, training_args)
    if training_args.process_index == 0:
        print(summary(training_args, outcome))
    distributed.shut_down()
    return 0
