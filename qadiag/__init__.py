"""qadiag: diagnostics for Hugging Face Trainer code.

Importing this package is cheap: torch and transformers load only when a probe, the trainer
entrypoint or a tiny-model builder is used.
"""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    # `qadiag.attach(...)` without importing transformers at `import qadiag` time.
    if name == "attach":
        from qadiag.api import attach

        return attach
    raise AttributeError(f"module 'qadiag' has no attribute {name!r}")
