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
import traceback
from dataclasses import dataclass, replace
from typing import Any


@functools.cache
def package_version(package: str) -> tuple[int, int]:
    """``(major, minor)`` of an installed package; ``(0, 0)`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = version(package).split(".")[:2]
    except (PackageNotFoundError, ValueError):
        return 0, 0
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def transformers_version() -> tuple[int, int]:
    return package_version("transformers")


def log_takes_start_time() -> bool:
    return transformers_version() >= (4, 47)


def prediction_step_passes_num_items() -> bool:
    """``prediction_step`` calls ``compute_loss(..., num_items_in_batch=...)`` from 4.57 on (4.46-4.56: not)."""
    return transformers_version() >= (4, 57)


def accumulation_scaling_can_drift(trainer: Any, columns: Any) -> bool:
    """Whether the Trainer may skip dividing the loss by the accumulation steps: on 5.x, when it trusts
    the loss to be normalised already, i.e. for batches with a ``labels`` key (``num_items_in_batch`` is
    counted from it, and a model taking ``**kwargs`` is trusted) or with a ``compute_loss_func``. Otherwise
    (QA batches carry start/end positions; 4.46-4.57 always divide) the gradient-accumulation check is moot."""
    normalised_elsewhere = "labels" in columns or getattr(trainer, "compute_loss_func", None) is not None
    return transformers_version() >= (5, 0) and normalised_elsewhere


def declare_mean_loss(model: Any) -> None:
    """Tell the Trainer that ``model`` returns a plain mean loss, so it scales it for gradient accumulation.

    Transformers 5.x assumes that a model whose ``forward`` takes ``**kwargs`` normalises its loss by
    ``num_items_in_batch`` itself and then skips the division by ``gradient_accumulation_steps``; BERT's
    classification head takes ``**kwargs`` but returns a plain mean, so the logged loss and the gradients
    grow with the accumulation steps (x4 at 4 steps, DESIGN.md bug class 6). 4.46-4.57 look for a
    ``loss_kwargs`` parameter instead and are not affected; the attribute is read by both.
    """
    model.accepts_loss_kwargs = False


def checkpoint_rng_loading() -> Any:
    """A context in which ``Trainer.train(resume_from_checkpoint=...)`` can read the checkpoint's
    ``rng_state.pth`` under torch >= 2.6, where ``torch.load`` defaults to ``weights_only=True``.

    The file holds numpy's RNG state; 4.57+ allow the numpy types it needs around that load
    (``transformers.trainer.safe_globals``), 4.46 calls a bare ``torch.load`` and fails with "Weights only
    load failed". The same allowlist, not ``weights_only=False``: nothing else becomes loadable.
    """
    import contextlib

    import torch
    from transformers import trainer as trainer_module

    if hasattr(trainer_module, "safe_globals") or not hasattr(torch.serialization, "safe_globals"):
        return contextlib.nullcontext()
    import numpy as np

    numpy_core = getattr(np, "_core", None) or np.core
    allowed = [numpy_core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    return torch.serialization.safe_globals(allowed)


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
    """An API of transformers (or datasets) that was removed or changed between the supported lines.

    Versions were read off the released wheels (4.46.3 to 5.24): ``changed_in`` is the first release
    without the API, or with the new signature.
    """

    api: str  # as users write it: "Trainer(tokenizer=...)"
    kind: str  # "keyword" (a constructor argument), "attribute", "import", "override"
    owner: str  # "Trainer", "TrainingArguments", "transformers", "datasets"
    name: str
    changed_in: str
    replacement: str
    deprecated_in: str | None = None
    parameter: str | None = None  # override: the parameter the newer Trainer passes
    failed_inside: bool = False  # the crash is inside this (still present) API, not a call to a missing one

    @property
    def package(self) -> str:
        return "datasets" if self.owner == "datasets" else "transformers"

    def removed_on(self, version: tuple[int, int]) -> bool:
        major, minor = (int(part) for part in self.changed_in.split(".")[:2])
        return version >= (major, minor)

    def explanation(self, version: tuple[int, int], *, read_statically: bool = False) -> str:
        """What changed, for a message. For an override there are two ways to break: a newer Trainer calls
        the user's override with a parameter it lacks (said when reading the code, or on a newer line),
        or the user's override passes that parameter on to an older Trainer that lacks it."""
        since = f" (deprecated since {self.deprecated_in})" if self.deprecated_in else ""
        if self.failed_inside:
            return f"it failed inside {self.api}, a legacy path that {self.package} {self.changed_in} removed"
        if self.kind != "override":
            return f"{self.api} was removed in {self.package} {self.changed_in}{since}"
        if read_statically or self.removed_on(version):
            return f"transformers {self.changed_in} and later call {self.owner}.{self.name} with {self.parameter!r}"
        return (
            f"{self.owner}.{self.name} takes {self.parameter!r} only from transformers {self.changed_in} on, and "
            f"you run {'.'.join(map(str, version))}"
        )

    def fix(self) -> str:
        return f"use {self.replacement}"


def _removed(api: str, owner: str, name: str, changed_in: str, replacement: str, **more: Any) -> ApiChange:
    kind = "import" if owner in ("transformers", "datasets") else "keyword" if api.endswith("=...)") else "attribute"
    return ApiChange(api, kind, owner, name, changed_in, replacement, **more)


def _override(name: str, parameter: str, changed_in: str, replacement: str) -> ApiChange:
    return ApiChange(f"Trainer.{name}", "override", "Trainer", name, changed_in, replacement, parameter=parameter)


API_CHANGES: tuple[ApiChange, ...] = (
    _removed("Trainer(tokenizer=...)", "Trainer", "tokenizer", "5.0",
             "Trainer(processing_class=tokenizer) (accepted since 4.46)", deprecated_in="4.46"),
    _removed("Trainer.tokenizer", "Trainer", "tokenizer", "5.0", "self.processing_class", deprecated_in="4.46"),
    _removed("Trainer.prediction_loop", "Trainer", "prediction_loop", "5.0",
             "self.evaluation_loop(...) with the same arguments (it returns an EvalLoopOutput with .predictions, "
             ".label_ids, .metrics and .num_samples)"),
    _removed("TrainingArguments(use_legacy_prediction_loop=...)", "TrainingArguments", "use_legacy_prediction_loop",
             "5.0", "nothing: drop it and call self.evaluation_loop (the only loop in 5.x)"),
    _removed("TrainingArguments(tpu_metrics_debug=...)", "TrainingArguments", "tpu_metrics_debug", "5.0",
             "nothing: drop it (TrainingArguments(debug='tpu_metrics_debug') on TPUs)"),
    _removed("TrainingArguments(evaluation_strategy=...)", "TrainingArguments", "evaluation_strategy", "4.51",
             "TrainingArguments(eval_strategy=...)", deprecated_in="4.41"),
    _removed("TrainingArguments(evaluate_during_training=...)", "TrainingArguments", "evaluate_during_training",
             "4.0", "TrainingArguments(eval_strategy='steps') (evaluation_strategy= before 4.41)"),
    _removed("TrainingArguments(no_cuda=...)", "TrainingArguments", "no_cuda", "5.0",
             "TrainingArguments(use_cpu=True)", deprecated_in="4.34"),
    _removed("TrainingArguments(logging_dir=...)", "TrainingArguments", "logging_dir", "5.0",
             "the TENSORBOARD_LOGGING_DIR environment variable (default: output_dir/runs/...)"),
    _removed("TrainingArguments(overwrite_output_dir=...)", "TrainingArguments", "overwrite_output_dir", "5.0",
             "nothing: drop it (the Trainer never deletes the output dir)"),
    _removed("TrainingArguments(per_gpu_train_batch_size=...)", "TrainingArguments", "per_gpu_train_batch_size",
             "5.0", "TrainingArguments(per_device_train_batch_size=...)"),
    _removed("TrainingArguments(per_gpu_eval_batch_size=...)", "TrainingArguments", "per_gpu_eval_batch_size",
             "5.0", "TrainingArguments(per_device_eval_batch_size=...)"),
    _removed("TrainingArguments(warmup_ratio=...)", "TrainingArguments", "warmup_ratio", "5.0",
             "TrainingArguments(warmup_steps=...) (a float below 1 is a ratio of the total steps)"),
    _removed("TrainingArguments(group_by_length=...)", "TrainingArguments", "group_by_length", "5.0",
             "TrainingArguments(train_sampling_strategy='group_by_length')"),
    _removed("TrainingArguments(include_inputs_for_metrics=...)", "TrainingArguments", "include_inputs_for_metrics",
             "5.0", "TrainingArguments(include_for_metrics=['inputs'])"),
    _removed("TrainingArguments(save_safetensors=...)", "TrainingArguments", "save_safetensors", "5.0",
             "nothing: drop it (checkpoints are always safetensors)"),
    _removed("from transformers import AdamW", "transformers", "AdamW", "4.50",
             "torch.optim.AdamW (or let the Trainer build it: TrainingArguments(optim='adamw_torch'))"),
    _removed("from transformers import is_torch_tpu_available", "transformers", "is_torch_tpu_available", "4.51",
             "transformers.utils.is_torch_xla_available"),
    _removed("from datasets import load_metric", "datasets", "load_metric", "3.0",
             "evaluate.load(...) (pip install evaluate), or compute the metric yourself "
             "(qadiag.tasks.qa.metrics.squad_scores gives SQuAD EM/F1)"),
    _override("compute_loss", "num_items_in_batch", "4.46",
              "def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None)"),
    _override("training_step", "num_items_in_batch", "4.46",
              "def training_step(self, model, inputs, num_items_in_batch=None)"),
    _override("log", "start_time", "4.47",
              "def log(self, logs, start_time=None), calling super().log(logs, start_time) only when start_time "
              "is not None (4.46 neither passes nor accepts it)"),
    _override("_maybe_log_save_evaluate", "start_time", "4.47",
              "def _maybe_log_save_evaluate(self, tr_loss, grad_norm, model, trial, epoch, ignore_keys_for_eval, "
              "start_time, learning_rate=None) (or, better, a TrainerCallback with on_log/on_evaluate)"),
    _override("_get_train_sampler", "train_dataset", "4.52", "def _get_train_sampler(self, train_dataset=None)"),
    _override("get_batch_samples", "device", "4.50",
              "def get_batch_samples(self, epoch_iterator, num_batches, device)"),
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
    if not candidates:  # a removed method that still ran and failed inside (4.46's legacy prediction_loop)
        frames = {frame.name for frame in traceback.extract_tb(error.__traceback__) if "transformers" in frame.filename}
        candidates = [replace(c, failed_inside=True) for c in API_CHANGES if c.kind == "attribute" and c.name in frames]
    return candidates[0] if candidates else None
