"""Everything that differs between the transformers lines qadiag supports (4.46 to 5.x), in one place.

Facts, checked against the installed sources of 4.46.3, 4.57.x and 5.24:
- ``Trainer.log(logs, start_time=None)`` since 4.47; the Trainer calls ``self.log(logs, start_time)``.
- ``compute_loss(..., num_items_in_batch=None)`` and ``training_step(..., num_items_in_batch=None)`` since
  4.46, and the Trainer passes ``num_items_in_batch`` to both.
- ``processing_class=`` replaces ``tokenizer=`` (deprecated in 4.46-4.57, a TypeError in 5.x).
- 4.x: ``accelerator.backward`` divides by gradient_accumulation_steps itself; 5.x: the Trainer divides
  before calling it, unless it believes the loss is already scaled (model forward takes ``**kwargs``,
  unless the model says ``accepts_loss_kwargs = False``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any


@functools.cache
def transformers_version() -> tuple[int, int]:
    import transformers

    major, minor = transformers.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def log_takes_start_time() -> bool:
    return transformers_version() >= (4, 47)


def declare_mean_loss(model: Any) -> None:
    """Tell the Trainer that ``model`` returns a plain mean loss, so it scales it for gradient accumulation.

    Transformers 5.x assumes that a model whose ``forward`` takes ``**kwargs`` normalises its loss by
    ``num_items_in_batch`` itself and then skips the division by ``gradient_accumulation_steps``; BERT's
    classification head takes ``**kwargs`` but returns a plain mean, so the logged loss and the gradients
    grow with the accumulation steps (x4 at 4 steps, DESIGN.md bug class 6). 4.46-4.57 look for a
    ``loss_kwargs`` parameter instead and are not affected; the attribute is read by both.
    """
    model.accepts_loss_kwargs = False


def callback_tokenizer(kwargs: dict[str, Any]) -> Any:
    """The tokenizer a callback receives: ``processing_class`` (``tokenizer`` on older 4.x)."""
    return kwargs.get("processing_class") or kwargs.get("tokenizer")


def loss_scale_across_devices(trainer: Any, num_items_in_batch: Any) -> int:
    """The factor ``Trainer.compute_loss`` may multiply a batch's loss by under data parallelism.

    With ``average_tokens_across_devices`` (default False in 4.46, True from 4.5x on) and a
    ``num_items_in_batch``, that count is summed over all ranks, and compute_loss multiplies the loss
    by the number of processes to undo DDP's averaging of gradients. 4.46 does it when the model takes
    loss kwargs, later lines also for a ``compute_loss_func``; callers accept the loss with or without it.
    """
    args = trainer.args
    if num_items_in_batch is None or not getattr(args, "average_tokens_across_devices", False):
        return 1
    if getattr(args, "n_gpu", 1) > 1:
        return int(args.n_gpu)
    accelerator = getattr(trainer, "accelerator", None)
    return int(getattr(accelerator, "num_processes", 1) or 1)


def tokenizer_vocab_argument(tokenizer_class: Any) -> str:
    """The keyword a fast tokenizer takes its vocab file under: ``vocab`` on 5.x (which silently
    ignores ``vocab_file``), ``vocab_file`` on 4.x."""
    import inspect

    return "vocab_file" if "vocab_file" in inspect.signature(tokenizer_class.__init__).parameters else "vocab"


# How compute_loss_func meets QA batches, which carry start/end positions and no 'labels' key.
COMPUTE_LOSS_FUNC_QA_FIX = (
    "transformers calls compute_loss_func only for batches with a 'labels' key (4.x) and with labels=None for "
    "QA batches (5.x): override compute_loss and call your loss with (start_positions, end_positions) yourself"
)


# -- the Trainer API history real code still runs into ---------------------------------------------


@dataclass(frozen=True)
class ApiChange:
    """An API of transformers (or datasets) that was removed or renamed between the supported lines."""

    api: str  # as users write it: "Trainer(tokenizer=...)"
    kind: str  # "keyword" (a constructor argument), "attribute", "import", "override"
    owner: str  # "Trainer", "TrainingArguments", "transformers", "datasets"
    name: str
    changed_in: str  # the first release without it (or with the new signature)
    replacement: str
    deprecated_in: str | None = None

    def explanation(self) -> str:
        since = f" (deprecated since {self.deprecated_in})" if self.deprecated_in else ""
        verb = "changed its signature" if self.kind == "override" else "was removed"
        return f"{self.api} {verb} in {self.owner_package} {self.changed_in}{since}"

    def fix(self) -> str:
        return f"use {self.replacement}"

    @property
    def owner_package(self) -> str:
        return "datasets" if self.owner == "datasets" else "transformers"

    def removed_on(self, version: tuple[int, int]) -> bool:
        major, minor = (int(part) for part in self.changed_in.split(".")[:2])
        return version >= (major, minor)


API_CHANGES: tuple[ApiChange, ...] = (
    ApiChange(
        "Trainer(tokenizer=...)",
        "keyword",
        "Trainer",
        "tokenizer",
        "5.0",
        "Trainer(processing_class=tokenizer) (a keyword argument since 4.46)",
        deprecated_in="4.46",
    ),
    ApiChange(
        "Trainer.tokenizer",
        "attribute",
        "Trainer",
        "tokenizer",
        "5.0",
        "self.processing_class",
        deprecated_in="4.46",
    ),
    ApiChange(
        "Trainer.prediction_loop",
        "attribute",
        "Trainer",
        "prediction_loop",
        "5.0",
        "self.evaluation_loop(...) with the same arguments (it returns an EvalLoopOutput with .predictions, "
        ".label_ids, .metrics and .num_samples)",
    ),
    ApiChange(
        "TrainingArguments(use_legacy_prediction_loop=...)",
        "keyword",
        "TrainingArguments",
        "use_legacy_prediction_loop",
        "5.0",
        "nothing: drop it; evaluation_loop is the only loop",
    ),
    ApiChange(
        "TrainingArguments(tpu_metrics_debug=...)",
        "keyword",
        "TrainingArguments",
        "tpu_metrics_debug",
        "5.0",
        "nothing: drop it (TrainingArguments(debug='tpu_metrics_debug') on TPUs)",
    ),
    ApiChange(
        "TrainingArguments(evaluation_strategy=...)",
        "keyword",
        "TrainingArguments",
        "evaluation_strategy",
        "4.47",
        "TrainingArguments(eval_strategy=...)",
        deprecated_in="4.41",
    ),
    ApiChange(
        "TrainingArguments(no_cuda=...)",
        "keyword",
        "TrainingArguments",
        "no_cuda",
        "5.0",
        "TrainingArguments(use_cpu=True)",
        deprecated_in="4.34",
    ),
    ApiChange(
        "TrainingArguments(logging_dir=...)",
        "keyword",
        "TrainingArguments",
        "logging_dir",
        "5.0",
        "the TENSORBOARD_LOGGING_DIR environment variable (default: output_dir/runs/...)",
    ),
    ApiChange(
        "TrainingArguments(overwrite_output_dir=...)",
        "keyword",
        "TrainingArguments",
        "overwrite_output_dir",
        "5.0",
        "nothing: drop it (the Trainer never deletes the output dir)",
    ),
    ApiChange(
        "TrainingArguments(per_gpu_train_batch_size=...)",
        "keyword",
        "TrainingArguments",
        "per_gpu_train_batch_size",
        "5.0",
        "TrainingArguments(per_device_train_batch_size=...)",
    ),
    ApiChange(
        "TrainingArguments(per_gpu_eval_batch_size=...)",
        "keyword",
        "TrainingArguments",
        "per_gpu_eval_batch_size",
        "5.0",
        "TrainingArguments(per_device_eval_batch_size=...)",
    ),
    ApiChange(
        "TrainingArguments(warmup_ratio=...)",
        "keyword",
        "TrainingArguments",
        "warmup_ratio",
        "5.0",
        "TrainingArguments(warmup_steps=...) (a float below 1 is a ratio of the total steps)",
    ),
    ApiChange(
        "TrainingArguments(group_by_length=...)",
        "keyword",
        "TrainingArguments",
        "group_by_length",
        "5.0",
        "TrainingArguments(train_sampling_strategy='group_by_length')",
    ),
    ApiChange(
        "TrainingArguments(include_inputs_for_metrics=...)",
        "keyword",
        "TrainingArguments",
        "include_inputs_for_metrics",
        "5.0",
        "TrainingArguments(include_for_metrics=['inputs'])",
    ),
    ApiChange(
        "TrainingArguments(save_safetensors=...)",
        "keyword",
        "TrainingArguments",
        "save_safetensors",
        "5.0",
        "nothing: drop it (checkpoints are always safetensors)",
    ),
    ApiChange(
        "from transformers import AdamW",
        "import",
        "transformers",
        "AdamW",
        "4.47",
        "torch.optim.AdamW (or let the Trainer create the optimizer: TrainingArguments(optim='adamw_torch'))",
    ),
    ApiChange(
        "transformers.is_torch_tpu_available",
        "import",
        "transformers",
        "is_torch_tpu_available",
        "4.47",
        "transformers.utils.is_torch_xla_available",
    ),
    ApiChange(
        "datasets.load_metric",
        "import",
        "datasets",
        "load_metric",
        "3.0",
        "evaluate.load(...) (pip install evaluate), or compute the metric yourself "
        "(qadiag.tasks.qa.metrics.squad_scores for EM/F1)",
    ),
    ApiChange(
        "Trainer.compute_loss(self, model, inputs, return_outputs=False)",
        "override",
        "Trainer",
        "compute_loss",
        "4.46",
        "def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None)",
    ),
    ApiChange(
        "Trainer.training_step(self, model, inputs)",
        "override",
        "Trainer",
        "training_step",
        "4.46",
        "def training_step(self, model, inputs, num_items_in_batch=None)",
    ),
    ApiChange(
        "Trainer.log(self, logs)",
        "override",
        "Trainer",
        "log",
        "4.47",
        "def log(self, logs, start_time=None), passing start_time on to super().log",
    ),
    ApiChange(
        "Trainer._maybe_log_save_evaluate(self, tr_loss, grad_norm, model, trial, epoch, ignore_keys_for_eval)",
        "override",
        "Trainer",
        "_maybe_log_save_evaluate",
        "4.47",
        "def _maybe_log_save_evaluate(self, tr_loss, grad_norm, model, trial, epoch, ignore_keys_for_eval, "
        "start_time, learning_rate=None) (better: a TrainerCallback with on_log/on_evaluate)",
    ),
    ApiChange(
        "Trainer._save_checkpoint(self, model, trial, metrics=None)",
        "override",
        "Trainer",
        "_save_checkpoint",
        "4.47",
        "def _save_checkpoint(self, model, trial) (the Trainer no longer passes metrics)",
    ),
    ApiChange(
        "Trainer._get_train_sampler(self)",
        "override",
        "Trainer",
        "_get_train_sampler",
        "4.52",
        "def _get_train_sampler(self, train_dataset=None)",
    ),
    ApiChange(
        "Trainer.get_batch_samples(self, epoch_iterator, num_batches)",
        "override",
        "Trainer",
        "get_batch_samples",
        "4.48",
        "def get_batch_samples(self, epoch_iterator, num_batches, device)",
    ),
    ApiChange(
        "Trainer.create_optimizer(self)",
        "override",
        "Trainer",
        "create_optimizer",
        "5.0",
        "def create_optimizer(self, model=None)",
    ),
)

_UNEXPECTED_KEYWORD = re.compile(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'")
_NO_ATTRIBUTE = re.compile(r"'(\w+)' object has no attribute '(\w+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '(\w+)")
_CALLED_WITH = re.compile(r"(\w+)\(\) (?:takes|got|missing)")


def api_change_for(error: BaseException) -> ApiChange | None:
    """The API change a crash is about, judged from the exception type and message."""
    text = str(error)
    candidates: list[ApiChange] = []
    if isinstance(error, TypeError) and (match := _UNEXPECTED_KEYWORD.search(text)):
        candidates = [c for c in API_CHANGES if c.kind == "keyword" and c.name == match[2]]
    elif isinstance(error, AttributeError) and (match := _NO_ATTRIBUTE.search(text)):
        candidates = [c for c in API_CHANGES if c.kind == "attribute" and c.name == match[2]]
        candidates += [
            c for c in API_CHANGES if c.kind == "keyword" and c.name == match[2] and match[1].endswith("Arguments")
        ]
    elif isinstance(error, ImportError) and (match := _CANNOT_IMPORT.search(text)):
        candidates = [c for c in API_CHANGES if c.kind == "import" and c.name == match[1]]
    elif isinstance(error, TypeError) and (match := _CALLED_WITH.search(text)):
        candidates = [c for c in API_CHANGES if c.kind == "override" and c.name == match[1]]
    return candidates[0] if candidates else None
