"""Which transformers (and datasets) APIs the user's trainer code uses that a supported line removed
(QD311, reported by loss-swap with the override signatures).

The user's code is read, not run: the source of every user-defined class in the trainer's MRO and of
the user functions given (the trainer factory, a training script's functions) is parsed, and each use
of an API in :data:`qadiag.compat.API_CHANGES` is one finding per API, at the first line that uses it,
with the others counted. On the line that removed it, the use will fail when reached (an error); on
an older line it still works, and the finding plans the upgrade (a warning).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from qadiag import compat
from qadiag.compat import API_CHANGES, ApiChange
from qadiag.findings import Finding, Severity, finding
from qadiag.usercode import parsed_source, user_trainer_classes

TRAINING_ARGUMENTS = frozenset({"TrainingArguments", "Seq2SeqTrainingArguments"})
# Overrides whose drift has a code of its own (QD304, QD305).
OWN_CODES = frozenset({"compute_loss", "training_step", "log"})


@dataclass(frozen=True)
class Use:
    change: ApiChange
    file: str
    line: int


def _call_name(node: ast.Call) -> str:
    function = node.func
    return (
        function.attr if isinstance(function, ast.Attribute) else function.id if isinstance(function, ast.Name) else ""
    )


def _is_args(node: ast.AST) -> bool:
    """``args``, ``training_args``, ``self.args``: a TrainingArguments by the name users give it."""
    if isinstance(node, ast.Name):
        return node.id.endswith("args")
    return isinstance(node, ast.Attribute) and node.attr == "args"


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _changes(kind: str, owner: str | None = None) -> dict[str, ApiChange]:
    return {c.name: c for c in API_CHANGES if c.kind == kind and (owner is None or c.owner == owner)}


def _assigned_on_self(tree: ast.AST) -> set[str]:
    """Attributes the code sets on ``self`` itself (a trainer keeping its own ``self.tokenizer``)."""
    return {
        target.attr
        for node in ast.walk(tree)
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
    }


def uses_in(tree: ast.AST, *, in_trainer: bool) -> Iterator[tuple[ApiChange, int]]:
    """``(change, line)`` for each use of a changed API in ``tree``; ``self.<attribute>`` counts only inside
    a trainer class, where ``self`` is the Trainer (unless the class sets that attribute itself)."""
    trainer_keywords = _changes("keyword", "Trainer")
    argument_fields = _changes("keyword", "TrainingArguments")
    own = _assigned_on_self(tree)
    attributes = {name: change for name, change in _changes("attribute", "Trainer").items() if name not in own}
    imports = {**_changes("import", "transformers"), **_changes("import", "datasets")}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            table = (
                argument_fields if name in TRAINING_ARGUMENTS else trainer_keywords if name.endswith("Trainer") else {}
            )
            for keyword in node.keywords:
                if keyword.arg in table:
                    yield table[keyword.arg], node.lineno
        elif isinstance(node, ast.Attribute):
            if node.attr in argument_fields and _is_args(node.value):
                yield argument_fields[node.attr], node.lineno
            elif in_trainer and node.attr in attributes and _is_self(node.value):
                yield attributes[node.attr], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            package = node.module.split(".")[0]
            for alias in node.names:
                change = imports.get(alias.name)
                if change is not None and change.package == package:
                    yield change, node.lineno


def _override_uses(klass: type, file: str, first: int) -> Iterator[Use]:
    for change in _changes("override").values():
        if change.name in OWN_CODES or change.name not in vars(klass):
            continue
        try:
            parameters = inspect.signature(vars(klass)[change.name]).parameters
        except (TypeError, ValueError):
            continue
        if change.parameter not in parameters and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            code = getattr(vars(klass)[change.name], "__code__", None)
            yield Use(change, file, code.co_firstlineno if code is not None else first)


def api_uses(trainer_class: type, functions: Iterable[Callable[..., Any]] = ()) -> list[Use]:
    """Every use of a changed API in the user's trainer classes and in the modules of ``functions``."""
    uses: list[Use] = []
    for klass in user_trainer_classes(trainer_class):
        parsed = parsed_source(klass)
        if parsed is None:
            continue
        file, first, tree, _ = parsed
        uses += [Use(change, file, first + line - 1) for change, line in uses_in(tree, in_trainer=True)]
        uses += _override_uses(klass, file, first)
    # Modules too: imports (a removed name fails the whole module) and train.py-style code live there.
    owners = [*functions, *user_trainer_classes(trainer_class)]
    modules = {module.__name__: module for owner in owners if (module := inspect.getmodule(owner))}
    for module in modules.values():
        parsed = parsed_source(module)
        if parsed is not None:
            file, first, tree, _ = parsed
            uses += [Use(change, file, first + line - 1) for change, line in uses_in(tree, in_trainer=False)]
    return uses


def check_api_history(trainer_class: type, functions: Iterable[Callable[..., Any]] = ()) -> list[Finding]:
    """QD311: one finding per changed API the user's code uses (error where the installed line removed it)."""
    by_api: dict[str, list[Use]] = {}
    for use in dict.fromkeys(api_uses(trainer_class, functions)):  # a class is read again with its module
        by_api.setdefault(use.change.api, []).append(use)
    found = []
    for api, uses in by_api.items():
        change, first = uses[0].change, uses[0]
        removed = change.removed_on(compat.package_version(change.package))
        verdict = (
            "it fails on the transformers you run when this line is reached"
            if removed
            else f"it works on the transformers you run but not from {change.package} {change.changed_in} on"
        )
        others = f" (and {len(uses) - 1} more place(s))" if len(uses) > 1 else ""
        what = change.explanation(compat.transformers_version(), read_statically=True)
        found.append(
            finding(
                "QD311",
                f"your code uses {api}{others}: {what}; {verdict}",
                change.fix(),
                severity=Severity.ERROR if removed else Severity.WARNING,
                source=f"{first.file}:{first.line}",
                key=api,
                evidence={
                    "setup_fact": True,
                    "api": api,
                    "uses": [f"{use.file}:{use.line}" for use in uses[:5]],
                },
            )
        )
    return found
