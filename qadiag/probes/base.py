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

QA_LABELS = ("start_positions", "end_positions")


@dataclass
class ProbeOptions:
    """Settings shared by the probes of one run (see ``qadiag.attach``)."""

    loss: Callable[..., Any] | None = None
    capture_every: int = 50
    samples: int = 4
    output_dir: str | Path | None = None
    decode: Callable[..., Any] | None = None
    console: bool = True
    answer_lookup: Callable[[Any], str | None] | None = None


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

    def finalize(self) -> None:
        """Checks that need the whole run; called once after training/evaluation."""

    def findings(self) -> list[Finding]:
        return self._found.findings()


def batch_labels(inputs: Mapping[str, Any]) -> Any:
    """The labels a ``compute_loss_func``-style loss expects: ``labels``, or the QA position pair."""
    if inputs.get("labels") is not None:
        return inputs["labels"]
    if all(inputs.get(name) is not None for name in QA_LABELS):
        return tuple(inputs[name] for name in QA_LABELS)
    return None


def output_field(outputs: Any, name: str) -> Any:
    """``outputs.name`` for ModelOutput/dict outputs, None otherwise."""
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


def output_keys(outputs: Any) -> list[str]:
    if isinstance(outputs, Mapping):
        return list(outputs.keys())
    if isinstance(outputs, (tuple, list)):
        return [f"[{i}]" for i in range(len(outputs))]
    return [type(outputs).__name__]


def recompute_declared_loss(
    loss: Callable[..., Any], outputs: Any, inputs: Mapping[str, Any], num_items_in_batch: Any = None
) -> float | None:
    """The declared loss on outputs the Trainer already computed (no forward pass, no autograd graph).

    Returns None when the batch carries no labels to compute it from.
    """
    import torch

    labels = batch_labels(inputs)
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


def structural_token_ids(tokenizer: Any) -> set[int]:
    """CLS/SEP/PAD/BOS/EOS: the tokens that frame sequences. ``[UNK]`` and ``[MASK]`` stand for text."""
    text_like = {tokenizer.unk_token_id, getattr(tokenizer, "mask_token_id", None)}
    return set(tokenizer.all_special_ids) - text_like
