"""The tasks qadiag trains and diagnoses, one :class:`~qadiag.tasks.base.Task` each.

Everything that differs between extractive QA and sentence-pair classification lives in a task
(data files and validation, tiny model, preprocessing, metrics, post-processing, trainer, decoding of
samples); nothing outside ``qadiag/tasks/`` branches on the task. A new task is one package under
``qadiag/tasks/`` and one entry in :data:`TASKS`. Importing this module is cheap: a task's module
(and transformers) loads on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from qadiag.errors import ConfigError

if TYPE_CHECKING:
    from qadiag.tasks.base import Task

# task name -> "module:attribute" of its Task instance
TASKS: dict[str, str] = {
    "qa": "qadiag.tasks.qa.task:TASK",
    "pair-classification": "qadiag.tasks.pair.task:TASK",
}
TASK_NAMES = tuple(TASKS)


def get_task(name: str) -> Task:
    """The registered task called ``name``."""
    if name not in TASKS:
        raise ConfigError(f"task {name!r} is not supported", fix=f"use one of: {', '.join(TASK_NAMES)}")
    module, attribute = TASKS[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def all_tasks() -> Iterator[Task]:
    for name in TASKS:
        yield get_task(name)


def task_for_outputs(outputs: Any) -> Task | None:
    """The task whose model outputs these are (by their logits), for probes attached without a task."""
    return next((task for task in all_tasks() if task.recognises(outputs)), None)
