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
