"""Override signatures the installed transformers cannot call (DESIGN.md bug class 4).

Checked statically on the Trainer subclass before training, so the user gets the fix instead of a
TypeError from deep inside ``train()``.
"""

from __future__ import annotations

import inspect
from typing import Any

from qadiag import compat
from qadiag.findings import Finding, finding
from qadiag.usercode import callable_location


def _accepts(function: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _overridden(trainer_class: type, name: str) -> Any:
    from transformers import Trainer

    method = getattr(trainer_class, name, None)
    if method is None or method is getattr(Trainer, name, None):
        return None
    return method


def check_overrides(trainer_class: type) -> list[Finding]:
    """QD304/QD305 for ``compute_loss``, ``training_step`` and ``log`` overrides of ``trainer_class``."""
    found = []
    version = ".".join(map(str, compat.transformers_version()))
    for name, code in (("compute_loss", "QD304"), ("training_step", "QD304")):
        method = _overridden(trainer_class, name)
        if method is not None and not _accepts(method, "num_items_in_batch"):
            found.append(
                finding(
                    code,
                    f"{trainer_class.__name__}.{name} does not accept num_items_in_batch, which transformers "
                    f"{version} passes on every training step: train() will raise TypeError",
                    f"add `num_items_in_batch=None` to the signature of {name} and pass it on to super() "
                    "(or accept **kwargs)",
                    source=callable_location(method),
                    key=name,
                    evidence={"setup_fact": True},
                )
            )
    log = _overridden(trainer_class, "log")
    if log is not None and compat.log_takes_start_time() and not _accepts(log, "start_time"):
        found.append(
            finding(
                "QD305",
                f"{trainer_class.__name__}.log does not accept start_time, which transformers {version} passes "
                "when it logs training metrics: train() will raise TypeError at the first logging step",
                "declare `def log(self, logs, start_time=None)` and call `super().log(logs, start_time)`",
                source=callable_location(log),
                key="log",
                evidence={"setup_fact": True},
            )
        )
    return found
