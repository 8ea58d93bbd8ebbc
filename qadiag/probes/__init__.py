"""Probes: TrainerCallbacks (plus the smallest hooks they need) that diagnose a Trainer as it runs.

Use :func:`qadiag.attach` to put them on any Trainer. Importing this package imports transformers.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

# probe name -> "module:class"; alignment is a dataset check, run by qadiag.check_alignment.
PROBE_CLASSES = {
    "output-capture": "qadiag.probes.output_capture:OutputCaptureProbe",
    "loss-swap": "qadiag.probes.loss_swap:LossSwapProbe",
    "log-keys": "qadiag.probes.log_keys:LogKeysProbe",
    "eval-loss": "qadiag.probes.eval_loss:EvalLossProbe",
}
PROBE_NAMES = (*PROBE_CLASSES, "alignment")


def resolve_probe_names(probes: str | Sequence[str]) -> list[str]:
    """``"all"``, ``"none"``, a comma-separated string or a list -> validated probe names."""
    if isinstance(probes, str):
        probes = [name.strip() for name in probes.split(",") if name.strip()]
    if list(probes) == ["all"]:
        return list(PROBE_NAMES)
    if list(probes) in ([], ["none"]):
        return []
    unknown = [name for name in probes if name not in PROBE_NAMES]
    if unknown:
        from qadiag.errors import QadiagError

        raise QadiagError(
            f"unknown probe(s) {', '.join(map(repr, unknown))}",
            fix=f"choose from {', '.join(PROBE_NAMES)} (or 'all' / 'none')",
        )
    return list(dict.fromkeys(probes))


def probe_class(name: str) -> type:
    module_name, class_name = PROBE_CLASSES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)
