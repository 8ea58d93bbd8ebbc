"""Everything that differs between the transformers lines qadiag supports (4.46 to 5.x), in one place.

Facts, checked against the installed sources of 4.46.3, 4.57.x and 5.24:
- ``Trainer.log(logs, start_time=None)`` since 4.47; the Trainer calls ``self.log(logs, start_time)``.
- ``compute_loss(..., num_items_in_batch=None)`` and ``training_step(..., num_items_in_batch=None)`` since
  4.46, and the Trainer passes ``num_items_in_batch`` to both.
- ``processing_class=`` replaces ``tokenizer=`` (deprecated in 4.46-4.57, a TypeError in 5.x).
- 4.x: ``accelerator.backward`` divides by gradient_accumulation_steps itself; 5.x: the Trainer divides
  before calling it, unless it believes the loss is already scaled (model forward takes ``**kwargs``).
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def transformers_version() -> tuple[int, int]:
    import transformers

    major, minor = transformers.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def log_takes_start_time() -> bool:
    return transformers_version() >= (4, 47)


def trainer_scales_loss_before_backward() -> bool:
    """5.x divides by the accumulation steps in ``training_step``; 4.x leaves it to accelerate."""
    return transformers_version() >= (5, 0)


def trainer_kwargs(tokenizer: Any) -> dict[str, Any]:
    """How to hand a tokenizer to ``Trainer(...)`` on this version."""
    return {"processing_class": tokenizer}


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
