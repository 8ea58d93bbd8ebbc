"""qadiag: diagnostics for Hugging Face Trainer code.

    import qadiag
    run = qadiag.attach(trainer)          # the probes, on any Trainer
    trainer.train(); trainer.evaluate()
    print(run.finish().text())

Importing this package is cheap: torch and transformers load only when a probe, the trainer
entrypoint or a tiny-model builder is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_EXPORTS = {
    "attach": "qadiag.api",
    "run_check": "qadiag.api",
    "Result": "qadiag.api",
    "ProbeRun": "qadiag.api",
    "check_alignment": "qadiag.checks.alignment",
    "check_alignment_property": "qadiag.checks.alignment",
    "CHECKS": "qadiag.checks",
    "Check": "qadiag.checks",
    "Finding": "qadiag.findings",
    "Severity": "qadiag.findings",
    "QadiagError": "qadiag.errors",
    "QadiagWarning": "qadiag.errors",
    "get_task": "qadiag.tasks",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qadiag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
