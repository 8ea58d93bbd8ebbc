"""Sample-decoding code in the user's trainer that takes the end index from the start logits (seed 000).

Public QA code prints samples inline: in a ``train()`` copied from an old transformers, in
``prediction_step``, or in a ``TrainerCallback``. This reads that code (the user's Trainer subclasses
and the callbacks they add) and flags an assignment to an *end* index whose value is an argmax over
*start* logits, e.g. ``end_idx = torch.argmax(outputs.start_logits, dim=-1)``: the decoded "span" is
then the start token alone. Found by reading, it is reported even when the run crashes before a single
sample is printed (QD405, output-capture).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qadiag.findings import Finding, finding
from qadiag.usercode import parsed_source, user_trainer_classes

ARGMAX_CALLS = frozenset({"argmax", "max", "topk", "argsort"})


@dataclass(frozen=True)
class EndFromStart:
    file: str
    line: int
    owner: str  # "QATrainer.train", "PrintSampleCallback.on_step_end"
    code: str  # the assignment, as written


def _names(node: ast.AST) -> set[str]:
    """Identifiers, attribute names and string subscripts in ``node`` (``outputs["start_logits"]`` included)."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.add(child.value)
    return {name.lower() for name in found}


def _argmax_over_start(value: ast.AST) -> bool:
    calls = [node for node in ast.walk(value) if isinstance(node, ast.Call)]
    if not any(isinstance(c.func, ast.Attribute | ast.Name) and _call_name(c) in ARGMAX_CALLS for c in calls):
        return False
    names = _names(value)
    return any("start" in name for name in names) and not any("end" in name for name in names)


def _call_name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _target_values(node: ast.Assign) -> Iterator[tuple[ast.AST, ast.AST]]:
    for target in node.targets:
        if (
            isinstance(target, ast.Tuple)
            and isinstance(node.value, ast.Tuple)
            and len(target.elts) == len(node.value.elts)
        ):
            yield from zip(target.elts, node.value.elts)
        else:
            yield target, node.value


def _is_end_index(target: ast.AST) -> bool:
    name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
    return "end" in name.lower()


def end_from_start(tree: ast.AST, file: str, first_line: int, class_name: str, source: str) -> Iterator[EndFromStart]:
    lines = source.splitlines()
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
        for node in ast.walk(function):
            if not isinstance(node, ast.Assign):
                continue
            for target, value in _target_values(node):
                if _is_end_index(target) and _argmax_over_start(value):
                    yield EndFromStart(
                        file,
                        first_line + node.lineno - 1,
                        f"{class_name}.{function.name}",
                        lines[node.lineno - 1].strip() if node.lineno <= len(lines) else "",
                    )


def _decoding_classes(trainer: Any) -> list[type]:
    callbacks = [type(callback) for callback in trainer.callback_handler.callbacks]
    return [*user_trainer_classes(type(trainer)), *callbacks]


def check_decoding_code(trainer: Any) -> list[Finding]:
    """QD405 for each place in the user's trainer classes and callbacks that decodes an end index from the
    start logits."""
    found = []
    for klass in dict.fromkeys(_decoding_classes(trainer)):
        parsed = parsed_source(klass)
        if parsed is None:
            continue
        file, first, tree, source = parsed
        for place in end_from_start(tree, file, first, klass.__name__, source):
            found.append(
                finding(
                    "QD405",
                    f"{place.owner} takes an end index from the start logits: `{place.code}` (seed 000); the "
                    "samples it decodes are the start token alone, whatever the model predicts",
                    "take the end index from end_logits (argmax of end_logits, only among context tokens, with "
                    "end >= start); or drop the printer: qadiag's output-capture probe decodes samples for you",
                    source=f"{place.file}:{place.line}",
                    key=place.owner,
                    evidence={"setup_fact": True},
                )
            )
    return found
