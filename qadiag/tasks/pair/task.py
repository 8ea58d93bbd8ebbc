"""The sentence-pair classification task (MRPC style, seed 004)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from qadiag import compat
from qadiag.outputs import output_field
from qadiag.tasks.base import FeatureSizes, Prepare, Task, TrainingPieces


class PairClassificationTask(Task):
    name = "pair-classification"
    summary = "sentence-pair classification (MRPC style: sentence1, sentence2, label)"
    data_dir = "pair"
    tiny_config_file = "tiny-bert-pair.json"
    label_columns = ("labels",)
    tiny_training_defaults: ClassVar[dict[str, Any]] = {
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
    }

    def validate_record(self, record: Mapping[str, Any], path: Path, where: str, *, num_labels: int | None) -> None:
        from qadiag.tasks.pair.records import validate_pair_record

        validate_pair_record(record, path, where, num_labels=num_labels)

    def model_class(self) -> type:
        from transformers import BertForSequenceClassification

        return BertForSequenceClassification

    def auto_model_class(self) -> type:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def num_labels(self, model: Any) -> int | None:
        return int(getattr(model.config, "num_labels", 2))

    def prepare_train(self, tokenizer: Any, sizes: FeatureSizes) -> Prepare:
        from qadiag.tasks.pair.features import prepare_pair_features

        return functools.partial(prepare_pair_features, tokenizer=tokenizer, max_seq_length=sizes.max_seq_length)

    def prepare_validation(self, tokenizer: Any, sizes: FeatureSizes, *, with_labels: bool = True) -> Prepare:
        return self.prepare_train(tokenizer, sizes)  # GLUE validation sets carry their labels

    def compute_metrics(self) -> Callable[[Any], dict[str, float]]:
        from qadiag.tasks.pair.features import compute_metrics

        return compute_metrics

    def build_trainer(self, pieces: TrainingPieces, **options: Any) -> Any:
        from transformers import Trainer

        compat.declare_mean_loss(pieces.model)
        return Trainer(**pieces.trainer_arguments(), compute_metrics=self.compute_metrics())

    def recognises(self, outputs: Any) -> bool:
        return output_field(outputs, "logits") is not None

    def decode(self, outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[dict[str, Any]]:
        from qadiag.tasks.pair.decode import decode_pair

        return decode_pair(outputs, inputs, tokenizer, limit)


TASK = PairClassificationTask()
