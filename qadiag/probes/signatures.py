"""Override signatures the installed transformers cannot call (DESIGN.md bug class 4).

Checked statically on the Trainer subclass before training, so the user gets the fix instead of a
TypeError from deep inside ``train()``.
"""

from __future__ import annotations

import inspect
from typing import Any

from qadiag import compat
from qadiag.findings import Finding, Severity, finding
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


def _own_training_loop(trainer_class: type) -> bool:
    """A ``train()`` (or inner loop) of the user's own that never passes ``num_items_in_batch`` on: an old
    loop copied into the project, which calls ``training_step``/``compute_loss`` the old way."""
    for name in ("train", "_inner_training_loop"):
        method = _overridden(trainer_class, name)
        if method is None:
            continue
        try:
            source = inspect.getsource(method)
        except (OSError, TypeError):
            continue
        if "num_items_in_batch" not in source:
            return True
    return False


def _signature_finding(code: str, message: str, fix: str, method: Any, name: str, **more: Any) -> Finding:
    return finding(
        code, message, fix, source=callable_location(method), key=name, evidence={"setup_fact": True}, **more
    )


def check_overrides(trainer_class: type) -> list[Finding]:
    """QD304/QD305 for ``compute_loss``, ``training_step`` and ``log`` overrides the installed transformers
    cannot call; QD311 for one that only a newer supported line cannot call."""
    found = []
    version = ".".join(map(str, compat.transformers_version()))
    own_loop = _own_training_loop(trainer_class)
    fix = "add `num_items_in_batch=None` to the signature of {name} and pass it on to super() (or accept **kwargs)"
    for name in ("compute_loss", "training_step"):
        method = _overridden(trainer_class, name)
        if method is None or _accepts(method, "num_items_in_batch"):
            continue
        if not own_loop:
            message = (
                f"{trainer_class.__name__}.{name} does not accept num_items_in_batch, which transformers {version} "
                "passes on every training step: train() will raise TypeError"
            )
            found.append(_signature_finding("QD304", message, fix.format(name=name), method, name))
        elif name == "compute_loss" and compat.prediction_step_passes_num_items():
            message = (
                f"{trainer_class.__name__}.compute_loss does not accept num_items_in_batch: your own train() does "
                f"not pass it, but transformers {version}'s prediction_step does, so evaluate() will raise TypeError"
            )
            found.append(_signature_finding("QD304", message, fix.format(name=name), method, name))
        elif name == "compute_loss":
            message = (
                f"{trainer_class.__name__}.compute_loss does not accept num_items_in_batch: your own train() does "
                "not pass it and neither does this transformers' prediction_step, but from 4.57 on prediction_step "
                "does, and evaluate() will raise TypeError"
            )
            found.append(
                _signature_finding("QD311", message, fix.format(name=name), method, name, severity=Severity.WARNING)
            )
    log = _overridden(trainer_class, "log")
    if log is not None and compat.log_takes_start_time() and not _accepts(log, "start_time"):
        message = (
            f"{trainer_class.__name__}.log does not accept start_time, which transformers {version} passes when it "
            "logs training metrics: train() will raise TypeError at the first logging step"
        )
        fix = "declare `def log(self, logs, start_time=None)` and call `super().log(logs, start_time)`"
        found.append(_signature_finding("QD305", message, fix, log, "log"))
    return found
