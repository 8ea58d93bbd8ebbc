"""The real-world projects: every module or package here not starting with ``_`` is one project and
defines ``CASE``. Modules starting with ``_`` are code several projects share, the way every KLUE-MRC
repository carries the same copy of ``utils_qa.py``.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from tests.real_world import Case


def load_cases() -> list[Case]:
    cases = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.append(dataclasses.replace(module.CASE, module=module.__name__))
    return cases
