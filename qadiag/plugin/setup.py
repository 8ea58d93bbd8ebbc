"""The tiny setup ``pytest --qadiag`` hands to the user's trainer factory: tiny model, tokenizer, examples,
features (built with the user's preprocessing when configured), training arguments for a short run,
and everything else the factory can ask for by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qadiag.checks.context import CheckContext, CheckSettings, Validation
from qadiag.errors import ConfigError
from qadiag.plugin.config import PluginConfig, resolve_callable
from qadiag.plugin.inject import call_with_injection
from qadiag.tasks import get_task
from qadiag.tasks.base import FeatureSizes, Prepare
from qadiag.usercode import callable_location

TRAIN_EXAMPLES = 64
EVAL_EXAMPLES = 24
SIZES = FeatureSizes(max_seq_length=128, doc_stride=32)
PREPARE_KEYS = {"train": "prepare_train_features", "validation": "prepare_validation_features"}


class TinySetup:
    """Tiny model, tokenizer, examples and features for the configured task, built lazily and once."""

    def __init__(self, config: PluginConfig, rootdir: Path, workdir: Path) -> None:
        self.config = config
        self.rootdir = rootdir
        self.workdir = workdir
        self.task = get_task(config.task)
        self._cache: dict[str, Any] = {}

    def _once(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def callable(self, key: str) -> Callable[..., Any] | None:
        """The configured ``module:callable`` for ``key`` (``loss``, ``decode``, ...), or None."""
        spec = getattr(self.config, key)
        return resolve_callable(spec, key=key, rootdir=self.rootdir) if spec else None

    def tokenizer(self) -> Any:
        from qadiag import tiny

        return self._once("tokenizer", tiny.load_tokenizer)

    def model(self, seed: int = 0) -> Any:
        model = self.task.tiny_model(seed)
        if self.config.num_labels is not None and self.task.num_labels(model) != self.config.num_labels:
            from qadiag import tiny

            config = self.task.tiny_config()
            config.num_labels = self.config.num_labels
            model = tiny.seeded_model(self.task.model_class(), config, seed)
        return model

    def examples(self, split: str) -> Any:
        def build() -> Any:
            dataset = self.task.load_examples(self.task.bundled_files()[split])
            size = TRAIN_EXAMPLES if split == "train" else EVAL_EXAMPLES
            return dataset.select(range(min(size, len(dataset))))

        return self._once(f"examples-{split}", build)

    def prepare(self, split: str) -> Prepare:
        """The preprocessing in use, as ``batch -> features``: the user's when configured, else the task's
        in the convention of HF's example scripts (``run_qa.py``: validation features without labels)."""
        function = self.callable(PREPARE_KEYS[split])
        if function is None:
            if split == "train":
                return self.task.prepare_train(self.tokenizer(), SIZES)
            return self.task.prepare_validation(self.tokenizer(), SIZES, with_labels=False)
        sizes = {"tokenizer": self.tokenizer(), "max_seq_length": SIZES.max_seq_length, "doc_stride": SIZES.doc_stride}
        return lambda examples: call_with_injection(
            function, {}, role=PREPARE_KEYS[split], extra={"examples": examples, **sizes}
        )

    def prepare_source(self, split: str) -> str:
        function = self.callable(PREPARE_KEYS[split])
        return callable_location(function) if function is not None else f"qadiag {PREPARE_KEYS[split]}"

    def features(self, split: str) -> Any:
        return self._once(
            f"features-{split}",
            lambda: self.task.features(
                self.examples(split), self.prepare(split), f"qadiag {split} features", in_memory=True
            ),
        )

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
            "dataloader_pin_memory": False,
        }
        settings.update(overrides)
        if settings["eval_strategy"] == "no" and "eval_steps" not in overrides:
            settings.pop("eval_steps")  # it only counts with eval_strategy="steps"
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
            "compute_metrics": self.task.compute_metrics,
            "post_process_function": lambda: self.task.post_process_function(),
        }
        providers.update({name: (lambda value=value: value) for name, value in overrides.items()})
        return providers

    def factory_takes(self, name: str) -> bool:
        """Whether the user's factory has a parameter ``name`` (so qadiag hands it that value)."""
        import inspect

        try:
            return name in inspect.signature(self.callable("trainer_factory")).parameters
        except (TypeError, ValueError):
            return False

    def build_trainer(self, **overrides: Any) -> Any:
        """Call the user's factory with everything it asks for (``overrides`` replace provided values)."""
        from transformers import Trainer

        factory = self.callable("trainer_factory")
        trainer = call_with_injection(factory, self.providers(**overrides), role="trainer_factory")
        if not isinstance(trainer, Trainer):
            raise ConfigError(
                f"trainer_factory {callable_location(factory)} returned {type(trainer).__name__}, "
                "not a transformers.Trainer",
                fix="return the Trainer (or your Trainer subclass) instance you build",
            )
        return trainer

    def labelled_validation_features(self) -> Any:
        """The validation examples as features with the task's labels (qadiag's preprocessing)."""
        return self._once(
            "features-validation-labelled",
            lambda: self.task.features(
                self.examples("validation"),
                self.task.prepare_validation(self.tokenizer(), SIZES, with_labels=True),
                "qadiag labelled validation features",
                in_memory=True,
            ),
        )

    def build_fresh_trainer(self, train_dataset: Any, eval_dataset: Any = None, **arg_overrides: Any) -> Any:
        """A trainer from the user's factory on a freshly initialised tiny model (experiment checks)."""
        overrides = {"eval_dataset": eval_dataset} if eval_dataset is not None else {}
        return self.build_trainer(
            train_dataset=train_dataset, model=self.model(), args=self.args(**arg_overrides), **overrides
        )

    def check_context(self) -> CheckContext:
        return self._once(
            "check-context",
            lambda: CheckContext(
                task=self.task,
                tokenizer=self.tokenizer(),
                train_examples=self.examples("train"),
                prepare_train=self.prepare("train"),
                prepare_source=self.prepare_source("train"),
                workdir=self.workdir,
                build_features=lambda: self.features("train"),
                build_trainer=self.build_fresh_trainer,
                loss=self.callable("loss"),
                validation=Validation(
                    self.examples("validation"), self.features("validation"), self.labelled_validation_features
                ),
                settings=CheckSettings(
                    alignment_examples=self.config.alignment_examples,
                    overfit_steps=self.config.overfit_steps,
                ),
            ),
        )
