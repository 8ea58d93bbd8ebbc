"""The tiny run behind ``pytest --qadiag``: tiny model and data, the user's factory, probes attached.

One shared training run serves the output-capture, loss-swap, log-keys and eval-loss items; a few
small extra runs do what a passive probe cannot (the overfit sanity check, the gradient-accumulation
check), and the alignment item checks the preprocessing on bundled and generated examples. A crash
inside the user's code is turned into a finding on the probe it concerns.
"""

from __future__ import annotations

import functools
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qadiag import compat
from qadiag.errors import QadiagError
from qadiag.findings import Finding, finding
from qadiag.plugin.config import PluginConfig, resolve_callable
from qadiag.plugin.inject import call_with_injection

RUN_PROBES = ("output-capture", "loss-swap", "log-keys", "eval-loss")
TRAIN_EXAMPLES = 64
EVAL_EXAMPLES = 24


@dataclass
class Crash:
    """The shared run raised inside the user's code."""

    probe: str
    finding: Finding


@dataclass
class QadiagRun:
    """What the user's factory produced under the probes: what the ``qadiag_run`` fixture returns."""

    findings: list[Finding] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    crash: Crash | None = None
    output_dir: Path | None = None
    trainer: Any = None

    def for_probe(self, name: str) -> list[Finding]:
        return [item for item in self.findings if item.probe == name]


class TinySetup:
    """Tiny model, tokenizer, examples and features, built lazily and once."""

    def __init__(self, config: PluginConfig, rootdir: Path, workdir: Path) -> None:
        self.config = config
        self.rootdir = rootdir
        self.workdir = workdir
        self._cache: dict[str, Any] = {}

    def _once(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    @property
    def is_qa(self) -> bool:
        return self.config.task == "qa"

    def tokenizer(self) -> Any:
        from qadiag import tiny

        return self._once("tokenizer", tiny.load_tokenizer)

    def model(self, seed: int = 0) -> Any:
        from qadiag import tiny

        return tiny.tiny_qa_model(seed) if self.is_qa else tiny.tiny_pair_model(seed)

    def examples(self, split: str) -> Any:
        from qadiag import data, tiny

        def build() -> Any:
            files = tiny.qa_data_files() if self.is_qa else tiny.pair_data_files()
            load = data.load_qa_file if self.is_qa else data.load_pair_file
            dataset = load(files[split])
            size = TRAIN_EXAMPLES if split == "train" else EVAL_EXAMPLES
            return dataset.select(range(min(size, len(dataset))))

        return self._once(f"examples-{split}", build)

    def prepare(self, split: str) -> Callable[[dict[str, list]], Any]:
        """The preprocessing in use (the user's when configured), as ``batch -> features``."""
        key = "prepare_train_features" if split == "train" else "prepare_validation_features"
        spec = getattr(self.config, key)
        sizes = {"tokenizer": self.tokenizer(), "max_seq_length": 128, "doc_stride": 32}
        if spec is None:
            if self.is_qa:
                from qadiag.tasks.qa import features

                return functools.partial(getattr(features, key), **sizes)
            from qadiag.tasks.pair import prepare_pair_features

            return functools.partial(prepare_pair_features, tokenizer=sizes["tokenizer"], max_seq_length=128)
        function = resolve_callable(spec, key=key, rootdir=self.rootdir)
        return lambda examples: call_with_injection(function, {}, role=key, extra={"examples": examples, **sizes})

    def features(self, split: str) -> Any:
        def build() -> Any:
            examples = self.examples(split)
            return examples.map(
                self.prepare(split), batched=True, remove_columns=examples.column_names, desc=f"qadiag {split} features"
            )

        return self._once(f"features-{split}", build)

    def args(self, **overrides: Any) -> Any:
        from transformers import TrainingArguments

        settings = {
            "output_dir": str(self.workdir / "run"),
            "max_steps": self.config.steps,
            "per_device_train_batch_size": 8,
            "per_device_eval_batch_size": 16,
            "learning_rate": 3e-3,
            "logging_steps": 5,
            "eval_strategy": "steps",
            "eval_steps": max(1, self.config.steps // 2),
            "save_strategy": "no",
            "report_to": [],
            "use_cpu": True,
            "seed": 0,
            "disable_tqdm": True,
            "dataloader_num_workers": 0,
        }
        settings.update(overrides)
        return TrainingArguments(**settings)

    def providers(self, **overrides: Any) -> dict[str, Callable[[], Any]]:
        from transformers import DataCollatorWithPadding

        providers: dict[str, Callable[[], Any]] = {
            "model": self.model,
            "tokenizer": self.tokenizer,
            "processing_class": self.tokenizer,
            "args": self.args,
            "train_dataset": lambda: self.features("train"),
            "eval_dataset": lambda: self.features("validation"),
            "eval_examples": lambda: self.examples("validation"),
            "data_collator": lambda: DataCollatorWithPadding(self.tokenizer()),
            "output_dir": lambda: str(self.workdir / "run"),
        }
        if self.is_qa:
            from qadiag.tasks.qa.metrics import compute_metrics
            from qadiag.tasks.qa.postprocess import make_post_process_function

            providers["compute_metrics"] = lambda: compute_metrics
            providers["post_process_function"] = make_post_process_function
        else:
            from qadiag.tasks.pair import compute_metrics as pair_metrics

            providers["compute_metrics"] = lambda: pair_metrics
        providers.update({name: (lambda value=value: value) for name, value in overrides.items()})
        return providers


def build_trainer(setup: TinySetup, factory: Callable[..., Any], **overrides: Any) -> Any:
    from transformers import Trainer

    trainer = call_with_injection(factory, setup.providers(**overrides), role="trainer_factory")
    if not isinstance(trainer, Trainer):
        raise QadiagError(
            f"trainer_factory returned {type(trainer).__name__}, not a transformers.Trainer",
            fix="return the Trainer (or your Trainer subclass) instance you build",
        )
    return trainer


# Which probe a crash in a user method concerns.
_CRASH_OWNERS = {
    "compute_loss": "loss-swap",
    "training_step": "loss-swap",
    "forward": "loss-swap",
    "log": "log-keys",
    "evaluate": "eval-loss",
    "predict": "eval-loss",
    "prediction_step": "eval-loss",
    "evaluation_loop": "eval-loss",
}
_LIBRARY_PARTS = ("/transformers/", "/torch/", "/accelerate/", "/qadiag/", "/datasets/", "/site-packages/")


def _crashed_in(frames: list[Any], function: Any) -> bool:
    code = getattr(function, "__code__", None)
    return code is not None and any(f.name == code.co_name and f.filename == code.co_filename for f in frames)


def attribute_crash(error: BaseException, trainer: Any = None, observer_returns: set[str] | None = None) -> Crash:
    """The probe a training crash concerns, with the user's frame and a fix."""
    frames = traceback.extract_tb(error.__traceback__)
    user_frames = [f for f in frames if not any(part in f.filename.replace("\\", "/") for part in _LIBRARY_PARTS)]
    frame = user_frames[-1] if user_frames else (frames[-1] if frames else None)
    method = next((f.name for f in reversed(user_frames) if f.name in _CRASH_OWNERS), None)
    text = f"{type(error).__name__}: {error}"
    where = f"{frame.filename}:{frame.lineno}" if frame else None
    if isinstance(error, TypeError) and "num_items_in_batch" in str(error):
        code, probe, fix = "QD304", "loss-swap", "add `num_items_in_batch=None` to the override's signature"
    elif isinstance(error, TypeError) and "start_time" in str(error):
        code, probe, fix = "QD305", "loss-swap", "declare `def log(self, logs, start_time=None)`"
    elif _crashed_in(frames, getattr(trainer, "compute_loss_func", None)):
        code, probe = "QD301", "loss-swap"
        fix = compat.COMPUTE_LOSS_FUNC_QA_FIX
    elif observer_returns and observer_returns - {"Tensor"}:
        code, probe, fix = "QD306", "loss-swap", "return only the detached loss tensor from training_step"
    else:
        code, probe = "QD308", _CRASH_OWNERS.get(method or "", "loss-swap")
        fix = "fix the exception in your trainer code at the location shown (the traceback is in the evidence)"
    message = f"the tiny training run crashed{f' in {method}()' if method else ''}: {text}"
    item = finding(code, message, fix, source=where, evidence={"traceback": "".join(traceback.format_exception(error))})
    return Crash(probe=probe, finding=replace(item, probe=probe))


def run_shared(config: PluginConfig, rootdir: Path, workdir: Path | None = None) -> QadiagRun:
    """Build the tiny setup, run the user's factory under the probes, train and evaluate once."""
    from qadiag.api import attach

    workdir = workdir or Path(tempfile.mkdtemp(prefix="qadiag-"))
    setup = TinySetup(config, rootdir, workdir)
    factory = resolve_callable(config.trainer_factory, key="trainer_factory", rootdir=rootdir)
    loss = resolve_callable(config.loss, key="loss", rootdir=rootdir) if config.loss else None
    decode = resolve_callable(config.decode, key="decode", rootdir=rootdir) if config.decode else None
    trainer = build_trainer(setup, factory)
    names = [name for name in config.probes if name in RUN_PROBES]
    lookup = None
    if setup.is_qa:
        from qadiag.probes.output_capture import answer_lookup_from

        lookup = answer_lookup_from(setup.features("train"), setup.examples("train"), setup.tokenizer().pad_token_id)
    probes = attach(
        trainer,
        names,
        loss=loss,
        capture_every=config.capture_every,
        samples=config.samples,
        decode=decode,
        console=False,
        answer_lookup=lookup,
        output_dir=workdir / "run",
    )
    result = QadiagRun(output_dir=workdir / "run", trainer=trainer)
    try:
        trainer.train()
        trainer.evaluate()
    except Exception as error:
        result.crash = attribute_crash(error, trainer, probes.observer.training_step_returns)
    report = probes.finish()
    result.findings = report.findings + ([result.crash.finding] if result.crash else [])
    result.samples = report.samples
    result.log_history = report.log_history
    return result


def small_subset(setup: TinySetup, size: int = 8) -> Any:
    features = setup.features("train")
    return features.select(range(min(size, len(features))))


def gradient_accumulation_check(config: PluginConfig, rootdir: Path, setup: TinySetup) -> list[Finding]:
    """QD307 on the user's trainer: learning rate 0, GA=1 vs GA=2 over the same samples."""
    from qadiag.probes.loss_swap import gradient_accumulation_invariance

    factory = resolve_callable(config.trainer_factory, key="trainer_factory", rootdir=rootdir)
    subset = small_subset(setup, 4)

    def build(accumulation: int, batch_size: int) -> Any:
        args = setup.args(
            learning_rate=0.0,
            max_steps=1,
            gradient_accumulation_steps=accumulation,
            per_device_train_batch_size=batch_size,
            logging_steps=1,
            eval_strategy="no",
            output_dir=str(setup.workdir / f"ga{accumulation}"),
        )
        return build_trainer(setup, factory, train_dataset=subset, args=args)

    return gradient_accumulation_invariance(build, steps=2)


def without_dropout(model: Any) -> Any:
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


def span_accuracy(trainer: Any, dataset: Any, tokenizer: Any) -> float:
    """Share of features whose reference-decoded prediction is exactly the gold span (or label)."""
    import torch

    from qadiag.probes.decode import decode_pair, decode_qa, task_of

    model = trainer.model
    was_training = model.training
    model.eval()
    hits = total = 0
    try:
        with torch.no_grad():
            for batch in trainer.get_eval_dataloader(dataset):
                batch = trainer._prepare_inputs(batch)
                outputs = model(**batch)
                if task_of(outputs) == "qa":
                    for sample in decode_qa(outputs, batch, tokenizer, len(batch["input_ids"])):
                        hits += (sample.pred_start, sample.pred_end) == (sample.gold_start, sample.gold_end)
                        total += 1
                else:
                    for sample in decode_pair(outputs, batch, tokenizer, len(batch["input_ids"])):
                        hits += sample.prediction == sample.gold
                        total += 1
    finally:
        model.train(was_training)
    return hits / total if total else 0.0


def overfit_check(config: PluginConfig, rootdir: Path, setup: TinySetup) -> list[Finding]:
    """QD403: a few dozen steps on one small batch must raise the exact-match rate on that batch."""
    factory = resolve_callable(config.trainer_factory, key="trainer_factory", rootdir=rootdir)
    subset = small_subset(setup, 8)
    args = setup.args(
        max_steps=config.overfit_steps,
        learning_rate=5e-3,
        lr_scheduler_type="constant",
        per_device_train_batch_size=len(subset),
        eval_strategy="no",
        logging_steps=10,
        output_dir=str(setup.workdir / "overfit"),
    )
    trainer = build_trainer(setup, factory, train_dataset=subset, args=args)
    before = span_accuracy(trainer, subset, setup.tokenizer())
    trainer.train()
    after = span_accuracy(trainer, subset, setup.tokenizer())
    if after > before or after == 1.0:
        return []
    return [
        finding(
            "QD403",
            f"after {config.overfit_steps} steps on the same {len(subset)} training features, exact match on them "
            f"went from {before:.0%} to {after:.0%}: the model is not learning from this loss",
            "check that the loss being optimized is computed from the model outputs and the right labels "
            "(loss-swap), that the optimizer updates the model, and that labels point at the answers (alignment)",
            source="overfit check",
            evidence={"before": before, "after": after},
        )
    ]


def alignment_check(config: PluginConfig, setup: TinySetup) -> list[Finding]:
    """QD5xx on the bundled training examples and on hypothesis-generated ones."""
    if not setup.is_qa:
        return []
    from qadiag.probes.alignment import check_alignment, check_alignment_property

    prepare = setup.prepare("train")
    source = config.prepare_train_features or "qadiag prepare_train_features"
    examples = setup.examples("train")
    sample = [examples[i] for i in range(min(config.alignment_examples, len(examples)))]
    found = check_alignment(sample, prepare, setup.tokenizer(), source=source).findings
    if not found:
        found = check_alignment_property(prepare, setup.tokenizer(), source=source, max_examples=30)
    return found
