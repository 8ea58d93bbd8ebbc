"""The extractive question-answering task (SQuAD format, KLUE-MRC style)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from qadiag.outputs import output_field
from qadiag.tasks.base import FeatureSizes, Prepare, Task, TrainingPieces


class QuestionAnsweringTask(Task):
    name = "qa"
    summary = "extractive question answering (SQuAD format: id, question, context, answers)"
    data_dir = "qa"
    tiny_config_file = "tiny-bert-qa.json"
    label_columns = ("start_positions", "end_positions")
    duplicate_field = "id"
    tiny_training_defaults: ClassVar[dict[str, Any]] = {
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
    }

    def validate_record(self, record: Mapping[str, Any], path: Path, where: str, *, num_labels: int | None) -> None:
        from qadiag.tasks.qa.records import validate_qa_record

        validate_qa_record(record, path, where)

    def model_class(self) -> type:
        from transformers import BertForQuestionAnswering

        return BertForQuestionAnswering

    def auto_model_class(self) -> type:
        from transformers import AutoModelForQuestionAnswering

        return AutoModelForQuestionAnswering

    def prepare_train(self, tokenizer: Any, sizes: FeatureSizes) -> Prepare:
        from qadiag.tasks.qa.features import prepare_train_features

        return functools.partial(
            prepare_train_features,
            tokenizer=tokenizer,
            max_seq_length=sizes.max_seq_length,
            doc_stride=sizes.doc_stride,
        )

    def prepare_validation(self, tokenizer: Any, sizes: FeatureSizes, *, with_labels: bool = True) -> Prepare:
        from qadiag.tasks.qa.features import prepare_validation_features

        return functools.partial(
            prepare_validation_features,
            tokenizer=tokenizer,
            max_seq_length=sizes.max_seq_length,
            doc_stride=sizes.doc_stride,
            with_labels=with_labels,
        )

    def compute_metrics(self) -> Callable[[Any], dict[str, float]]:
        from qadiag.tasks.qa.metrics import compute_metrics

        return compute_metrics

    def post_process_function(self, output_dir: str | None = None, **options: Any) -> Callable[..., Any]:
        from qadiag.tasks.qa.postprocess import make_post_process_function

        return make_post_process_function(output_dir=output_dir, **options)

    def build_trainer(self, pieces: TrainingPieces, **options: Any) -> Any:
        from qadiag.tasks.qa.trainer import QuestionAnsweringTrainer

        return QuestionAnsweringTrainer(
            **pieces.trainer_arguments(),
            eval_examples=pieces.eval_examples,
            post_process_function=self.post_process_function(output_dir=pieces.output_dir, **options),
            compute_metrics=self.compute_metrics(),
        )

    def recognises(self, outputs: Any) -> bool:
        return output_field(outputs, "start_logits") is not None and output_field(outputs, "end_logits") is not None

    def decode(self, outputs: Any, inputs: Mapping[str, Any], tokenizer: Any, limit: int) -> list[dict[str, Any]]:
        from qadiag.tasks.qa.decode import decode_qa

        return decode_qa(outputs, inputs, tokenizer, limit)

    def answer_lookup(self, features: Any, examples: Any, tokenizer: Any) -> Callable[[Any], str | None]:
        from qadiag.tasks.qa.answers import answer_lookup_from

        return answer_lookup_from(features, examples, tokenizer.pad_token_id)


TASK = QuestionAnsweringTask()
