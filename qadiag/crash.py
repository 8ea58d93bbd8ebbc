"""A crash in the user's code, as one finding: what raised, at which line of theirs, which probe it
concerns, and how to fix it.

Used wherever qadiag runs user code (the trainer factory, preprocessing, ``train()``, ``evaluate()``):
the location is always the user's innermost frame (``file:line``), never a frame of qadiag or of a
library; the evidence carries the user frames as a short traceback and the full traceback for the
report file; a crash that matches a transformers API removed or renamed between the supported lines
says which API, since which version, and what replaces it.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qadiag import checks, compat
from qadiag.findings import Finding, finding
from qadiag.usercode import (
    callable_location,
    frame_location,
    full_traceback,
    short_traceback,
    user_frames,
)


@dataclass(frozen=True)
class Stage:
    """Where in the session user code was running."""

    name: str
    doing: str  # for messages: "building the trainer", ...
    code: str  # the finding code for a crash here, when nothing more specific matches
    probe: str  # the probe a crash here belongs to, when its frames say nothing more specific


IMPORT = Stage("import", "importing your module", "QD001", "setup")
PREPROCESSING = Stage("preprocessing", "building the datasets with your preprocessing", "QD002", "setup")
FACTORY = Stage("factory", "building the trainer with your factory", "QD001", "setup")
TRAINING = Stage("training", "training", "QD308", "loss-swap")
EVALUATION = Stage("evaluation", "evaluating", "QD308", "eval-loss")
EVALUATION_WITH_LABELS = Stage(
    "evaluation-with-labels",
    "evaluating on validation features that carry the labels eval loss needs (without them the run did not "
    "crash: your pipeline hits this the moment you add them)",
    "QD308",
    "eval-loss",
)


SIGNATURE_CODES = ("QD304", "QD305")


def _override_named_in(error: BaseException, trainer: Any) -> Any:
    """``MyTrainer.compute_loss`` for "MyTrainer.compute_loss() got an unexpected keyword argument ..."."""
    name = str(error).split("(", 1)[0].rsplit(".", 1)[-1]
    return getattr(type(trainer), name, None) if trainer is not None and name.isidentifier() else None


def _innermost_transformers_frame(error: BaseException) -> str | None:
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if "transformers" in Path(frame.filename).parts
    ]
    return frames[-1].name if frames else None


def _specific_code(error: BaseException, trainer: Any, training_step_returns: Iterable[str]) -> tuple[str, str] | None:
    """``(code, fix)`` for crashes qadiag knows the cause of."""
    text = str(error)
    if isinstance(error, TypeError) and "num_items_in_batch" in text:
        return "QD304", "add `num_items_in_batch=None` to the override's signature and pass it on to super()"
    if isinstance(error, TypeError) and "start_time" in text:
        return "QD305", "declare `def log(self, logs, start_time=None)` and call `super().log(logs, start_time)`"
    loss_func = getattr(trainer, "compute_loss_func", None)
    code = getattr(loss_func, "__code__", None)
    frames = user_frames(error)
    if code is not None and any(f.name == code.co_name and f.filename == code.co_filename for f in frames):
        return "QD301", compat.COMPUTE_LOSS_FUNC_QA_FIX
    if set(training_step_returns) - {"Tensor"}:
        return "QD306", "return only the detached loss tensor from training_step"
    return None


def crash_finding(
    error: BaseException,
    stage: Stage,
    *,
    trainer: Any = None,
    user_callable: Any = None,
    training_step_returns: Iterable[str] = (),
) -> Finding:
    """The finding for ``error``, raised while ``stage`` ran user code.

    ``user_callable`` (the factory, the preprocessing function) locates the crash when no frame of the
    traceback is the user's (e.g. a keyword transformers rejects in ``Trainer.__init__`` called from a
    lambda).
    """
    frames = user_frames(error)
    innermost = frames[-1] if frames else None
    method = next((frame.name for frame in reversed(frames) if checks.owner_of_crash(frame.name)), None)
    probe = checks.owner_of_crash(method) or stage.probe
    location = frame_location(innermost) if innermost else (callable_location(user_callable) if user_callable else None)
    change = compat.api_change_for(error)
    specific = _specific_code(error, trainer, training_step_returns) if stage.code == "QD308" else None
    code, fix = specific or (stage.code, "fix the exception at the location shown (your frames are in the traceback)")
    message = f"{stage.doing} crashed" + (f" in {method}()" if method else "") + f": {type(error).__name__}: {error}"
    if code in SIGNATURE_CODES:
        # An override the Trainer cannot call: loss-swap's area, located at the override's definition, and
        # the library frame that called it says when (training_step in train(), prediction_step in evaluate()).
        probe = "loss-swap"
        override = _override_named_in(error, trainer)
        location = callable_location(override) if override is not None else location
        caller = _innermost_transformers_frame(error)
        if caller:
            message += f" (transformers' {caller}() passes it)"
    if change is not None:
        message += f"; {change.explanation(compat.transformers_version())}"
        fix = change.fix()
    evidence = {
        "stage": stage.name,
        "traceback": short_traceback(error, frames),
        "full_traceback": full_traceback(error),
    }
    if change is not None:
        evidence["api_change"] = change.api
    # The code's area says what kind of bug it is; the probe that reports it is the one whose area
    # the crash is in (a QD308 in evaluate() is eval-loss's).
    return replace(finding(code, message, fix, source=location, evidence=evidence), probe=probe)
