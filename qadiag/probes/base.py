"""What every probe shares: options, the callback base class, finding bookkeeping, label access."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from transformers import TrainerCallback

from qadiag.errors import DeclaredLossError
from qadiag.findings import Finding, FindingGroups
from qadiag.probes.observe import Observer


@dataclass
class ProbeOptions:
    """Settings shared by the probes of one run (see ``qadiag.attach``)."""

    loss: Callable[..., Any] | None = None
    capture_every: int | None = None  # None: adapted to the run's length
    samples: int = 4
    output_dir: str | Path | None = None
    decode: Callable[..., Any] | None = None
    console: bool = True
    answer_lookup: Callable[[Any], str | None] | None = None
    task: Any = None  # qadiag.tasks.base.Task, when known; else recognised from the model outputs
    tokenizer: Any = None  # decodes samples when the trainer has no processing_class
    user_code: tuple[Callable[..., Any], ...] = ()  # functions whose modules are read for removed APIs
    # The validation features carry no labels by design (HF run_qa.py): no eval loss is expected from
    # this run's evaluations; the eval-loss-with-labels check judges eval loss instead.
    eval_without_labels: bool = False
    # The trainer was handed a compute_metrics (the plugin's factory asked for one): evaluations must report
    # its metrics even when the trainer lost it (a subclass __init__ that swallows the argument).
    handed_compute_metrics: bool = False


class Probe(TrainerCallback):
    """A TrainerCallback that records `Finding`s; ``install`` adds the hooks it needs, nothing else.

    A finding recorded again (the same code, source and key at every evaluation, every batch) is kept
    once, with a count and its first occurrences (:class:`~qadiag.findings.FindingGroups`).
    """

    name: ClassVar[str]

    def __init__(self, options: ProbeOptions) -> None:
        self.options = options
        self.trainer: Any = None
        self.observer: Observer | None = None
        self._found = FindingGroups()

    def install(self, trainer: Any, observer: Observer) -> None:
        self.trainer, self.observer = trainer, observer
        trainer.add_callback(self)

    def uninstall(self) -> None:
        if self.trainer is not None:
            self.trainer.remove_callback(self)

    def record(self, item: Finding) -> None:
        self._found.add(item)

    def _labels(self, batch: Any) -> Any:
        return batch_labels(batch.inputs, self.options.task)

    def method_location(self, name: str) -> str:
        """``file:line`` of the trainer's own ``<name>`` when the user wrote it, else ``Trainer.<name>``."""
        from qadiag.usercode import defining_class_location

        return defining_class_location(type(self.trainer), name) or f"Trainer.{name}"

    def override_source(self, name: str) -> str | None:
        """The source of the trainer's own override of ``Trainer.<name>``; None when it is not overridden
        (or its source cannot be read)."""
        import inspect

        from transformers import Trainer

        method = getattr(type(self.trainer), name, None)
        if method is None or method is getattr(Trainer, name, None):
            return None
        try:
            return inspect.getsource(method)
        except (OSError, TypeError):
            return None

    def finalize(self) -> None:
        """Checks that need the whole run; called once after training/evaluation."""

    def findings(self) -> list[Finding]:
        return self._found.findings()


def batch_labels(inputs: Mapping[str, Any], task: Any = None) -> Any:
    """The labels a ``compute_loss_func``-style loss takes for this batch (the task's, or the first
    registered task's that finds its label columns), None when the batch has none."""
    from qadiag.tasks import all_tasks

    for candidate in [task] if task is not None else all_tasks():
        labels = candidate.labels(inputs)
        if labels is not None:
            return labels
    return None


def recompute_declared_loss(
    loss: Callable[..., Any], outputs: Any, labels: Any, num_items_in_batch: Any = None
) -> float | None:
    """The declared loss on outputs the Trainer already computed (no forward pass, no autograd graph).

    Returns None when there are no labels (or outputs) to compute it from.
    """
    import torch

    if labels is None or outputs is None:
        return None
    try:
        with torch.no_grad():
            value = loss(outputs, labels, num_items_in_batch=num_items_in_batch)
    except Exception as error:
        raise DeclaredLossError(f"{type(error).__name__}: {error}") from error
    return to_float(value)


def to_float(value: Any) -> float | None:
    """A loss-like value (tensor of any shape: its mean; number) as a float; None when it is not one."""
    if value is None:
        return None
    try:
        return float(value.detach().float().mean()) if hasattr(value, "detach") else float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def same_loss(a: float, b: float) -> bool:
    import math

    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
