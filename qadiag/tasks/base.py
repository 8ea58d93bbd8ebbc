"""What a task provides: the one place where QA and pair classification differ.

``qadiag train``, the pytest plugin, the probes and the checks ask the task; none of them asks which
task it is. A task is a stateless object (one instance, registered in :data:`qadiag.tasks.TASKS`).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from qadiag import data, tiny

Batch = Mapping[str, Sequence[Any]]
Prepare = Callable[[Batch], Mapping[str, Sequence[Any]]]


@dataclass(frozen=True)
class FeatureSizes:
    """How raw examples become features: tokens per feature, window overlap (QA)."""

    max_seq_length: int = 128
    doc_stride: int = 32


@dataclass(frozen=True)
class TrainingPieces:
    """What a task's trainer is built from (``qadiag train`` and the experiment checks)."""

    model: Any
    args: Any
    tokenizer: Any
    train_features: Any
    eval_features: Any
    eval_examples: Any
    output_dir: str | None = None

    def trainer_arguments(self) -> dict[str, Any]:
        """What every task's Trainer is built with (the task adds its own)."""
        from transformers import DataCollatorWithPadding

        return {
            "model": self.model,
            "args": self.args,
            "data_collator": DataCollatorWithPadding(self.tokenizer),
            "processing_class": self.tokenizer,
            "train_dataset": self.train_features,
            "eval_dataset": self.eval_features,
        }


class Task(abc.ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    data_dir: ClassVar[str]  # bundled data under fixtures/
    tiny_config_file: ClassVar[str]  # under fixtures/configs/
    label_columns: ClassVar[tuple[str, ...]]
    # TrainingArguments defaults tuned for the tiny model on the bundled data (qadiag train)
    tiny_training_defaults: ClassVar[dict[str, Any]]
    duplicate_field: ClassVar[str | None] = None

    # -- data -------------------------------------------------------------------------------------
    def bundled_files(self) -> dict[str, str]:
        """The bundled JSON Lines files, by split."""
        directory = tiny.fixtures_dir() / self.data_dir
        return {"train": str(directory / "train.jsonl"), "validation": str(directory / "validation.jsonl")}

    @abc.abstractmethod
    def validate_record(self, record: Mapping[str, Any], path: Path, where: str, *, num_labels: int | None) -> None:
        """Raise :class:`~qadiag.errors.InputError` naming ``path`` and ``where`` for a bad record."""

    def load_examples(self, path: str | Path, *, num_labels: int | None = None) -> Any:
        """Validate every record of ``path``, then load it as a ``datasets.Dataset``."""
        validate = functools.partial(self.validate_record, num_labels=num_labels)
        return data.load_examples(path, validate, duplicate_field=self.duplicate_field)

    # -- model ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def model_class(self) -> type:
        """The transformers class of the tiny model."""

    @abc.abstractmethod
    def auto_model_class(self) -> type:
        """The ``AutoModelFor...`` class that loads a user's checkpoint for this task."""

    def tiny_config(self) -> Any:
        return tiny.load_config(self.tiny_config_file)

    def tiny_model(self, seed: int = 0) -> Any:
        """A freshly initialised tiny model; the same weights for the same seed."""
        return tiny.seeded_model(self.model_class(), self.tiny_config(), seed)

    def save_tiny_model(self, directory: str | Path, seed: int = 0) -> Path:
        """A tiny model and its tokenizer in ``directory``, loadable with ``from_pretrained`` (so the real
        loading path can be tested offline)."""
        directory = Path(directory)
        self.tiny_model(seed).save_pretrained(directory)
        tiny.load_tokenizer().save_pretrained(directory)
        return directory

    def num_labels(self, model: Any) -> int | None:
        """How many classes the model predicts (None when the task has no class labels)."""
        return None

    # -- features ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def prepare_train(self, tokenizer: Any, sizes: FeatureSizes) -> Prepare:
        """``batch of raw examples -> training features`` (for ``Dataset.map(batched=True)``)."""

    @abc.abstractmethod
    def prepare_validation(self, tokenizer: Any, sizes: FeatureSizes, *, with_labels: bool = True) -> Prepare:
        """``batch of raw examples -> validation features``; without labels as the task's reference
        scripts make them (``run_qa.py``) when ``with_labels`` is False."""

    def features(self, examples: Any, prepare: Prepare, description: str, *, in_memory: bool = False) -> Any:
        """``prepare`` mapped over ``examples``. ``in_memory``: no cache file, and no fingerprint of
        ``prepare`` (datasets hashes a function with everything it reaches through its globals, which for a
        closure over a user's function can take minutes): for small datasets built for a session."""
        if not in_memory:
            return examples.map(prepare, batched=True, remove_columns=examples.column_names, desc=description)
        import uuid

        return examples.map(
            prepare,
            batched=True,
            remove_columns=examples.column_names,
            desc=description,
            keep_in_memory=True,
            load_from_cache_file=False,
            new_fingerprint=uuid.uuid4().hex,
        )

    # -- training ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def compute_metrics(self) -> Callable[[Any], dict[str, float]]:
        """``compute_metrics`` as the task's trainer expects it."""

    def post_process_function(self, output_dir: str | None = None, **options: Any) -> Callable[..., Any] | None:
        """``post_process_function(examples, features, predictions, stage)`` (QA), else None."""
        return None

    @abc.abstractmethod
    def build_trainer(self, pieces: TrainingPieces, **options: Any) -> Any:
        """The task's Trainer, done right (prefixed metrics, eval loss kept, accumulation-safe loss)."""

    # -- probes and checks ------------------------------------------------------------------------
    @abc.abstractmethod
    def recognises(self, outputs: Any) -> bool:
        """True for model outputs of this task (by the logits they carry)."""

    @abc.abstractmethod
    def decode(self, outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[dict[str, Any]]:
        """Sample records (prediction next to gold, ``correct``) from a batch the model already ran."""

    def labels(self, inputs: Mapping[str, Any]) -> Any:
        """What a ``compute_loss_func``-style loss takes as ``labels`` for this batch, None without labels."""
        if all(inputs.get(name) is not None for name in self.label_columns):
            values = tuple(inputs[name] for name in self.label_columns)
            return values[0] if len(values) == 1 else values
        return None

    def answer_lookup(self, features: Any, examples: Any, tokenizer: Any) -> Callable[[Any], str | None] | None:
        """``input_ids -> the example's answer text``, so captured gold spans can be checked; None when
        the task has no answer text."""
        return None

    def loss_signature_hint(self) -> str:
        """How a declared loss receives ``labels`` for this task (shown in loss-swap's fixes)."""
        names = ", ".join(self.label_columns)
        return f"labels = {names}" if len(self.label_columns) == 1 else f"labels = ({names})"
