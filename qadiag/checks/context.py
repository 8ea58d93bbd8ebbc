"""What dataset and experiment checks work on: the task, the data, the preprocessing, and a way to
build a fresh trainer of the setup being diagnosed.

``qadiag train`` and ``pytest --qadiag`` each build one :class:`CheckContext`; the checks never ask
where it came from.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.tasks.base import Prepare, Task

# (train_dataset, eval_dataset=None, **TrainingArguments overrides) -> a Trainer on a fresh copy of the
# model being diagnosed
TrainerBuilder = Callable[..., Any]


@dataclass(frozen=True)
class Validation:
    """The validation data of the diagnosed run: its examples, the features it evaluates on, and the same
    examples made into features that carry the task's labels (what eval loss needs)."""

    examples: Any
    features: Any
    labelled_features: Callable[[], Any]


@dataclass(frozen=True)
class CheckSettings:
    alignment_examples: int = 30  # bundled/user examples whose every feature is checked
    alignment_generated: int = 30  # generated examples (qadiag.tasks.qa.synthetic) when those all pass
    overfit_steps: int = 30
    accumulation_steps: int = 2


@dataclass
class CheckContext:
    task: Task
    tokenizer: Any
    train_examples: Any
    prepare_train: Prepare
    prepare_source: str  # where the preprocessing is defined, for findings
    workdir: Path
    build_trainer: TrainerBuilder | None = None
    settings: CheckSettings = field(default_factory=CheckSettings)
    validation: Validation | None = None
    loss: Callable[..., Any] | None = None  # the loss the user declared they optimise
    features: Any = None  # the training features when already built; else built on first use
    build_features: Callable[[], Any] | None = None  # how to build them, when not the task's way

    def train_features(self) -> Any:
        if self.features is None:
            self.features = (
                self.build_features()
                if self.build_features is not None
                else self.task.features(self.train_examples, self.prepare_train, "qadiag train features")
            )
        return self.features

    def trainer_with(self, train_dataset: Any, eval_dataset: Any = None, **overrides: Any) -> Any:
        """A fresh trainer built on ``train_dataset`` with these training arguments; None when there is no way
        to build one, or the factory ignored what it was handed (it builds its own TrainingArguments or
        datasets): an experiment run on anything else would prove nothing."""
        if self.build_trainer is None:
            return None
        trainer = self.build_trainer(train_dataset, eval_dataset, **overrides)
        ignored = [name for name, value in overrides.items() if getattr(trainer.args, name, value) != value]
        if ignored or trainer.train_dataset is not train_dataset:
            return None
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        for quiet in (PrinterCallback, ProgressCallback):  # an experiment's logs are nobody's business
            trainer.remove_callback(quiet)
        return trainer

    def subset(self, size: int) -> Any:
        features = self.train_features()
        return features.select(range(min(size, len(features))))


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run an experiment without moving the random state the diagnosed training will draw from."""
    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
