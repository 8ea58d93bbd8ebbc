"""A corpus of trainer code written the way public repositories write it, and what a correct diagnosis says.

Each module (or package) under ``cases/`` is one user project in miniature, written after studying
public code (the repository and path are in its ``CASE``): the trainer class(es) in that code's style
and era, a ``build_trainer`` factory that builds *their* class the way *their* ``train.py`` does, and
their own preprocessing, losses and decoders where their code depends on them. ``CASE`` says what the
project imitates, the bug in one sentence, and the findings a correct diagnosis gives on each
transformers line: the truth about the bug, not what qadiag prints today (``test_real_world.py``
compares the two).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The item that reports setup findings (QD0xx: a crash of the factory, the preprocessing or the module
# itself, and APIs a newer line removed). qadiag's contract: "setup crashes by a qadiag::setup item or the
# first item"; the harness maps this name to the item that exists (see test_real_world.setup_item).
SETUP = "setup"

# A diagnosis no registered code expresses yet (issue 11 asks for it). Such an expectation cannot be met
# until qadiag registers a code for it and the case names that code instead.
UNREGISTERED = "unregistered: "

LINES = ("4.46", "4.57", "5")


@dataclass(frozen=True)
class Expect:
    """What a correct diagnosis reports on one transformers line.

    ``findings``: probe -> the codes of its error and warning findings (a set: how many findings carry a
    code is judged separately, in the report). ``stopped_by``: when the user's code crashes and stops
    the run, the item that reports the crash; every other item that needs the trainer is then "not run".
    ``mentions``: code -> words its findings must say between them (message and fix, any case): the cause
    and the fix a correct diagnosis names, e.g. the removed API and its replacement.
    """

    findings: Mapping[str, frozenset[str]] = field(default_factory=dict)
    stopped_by: str | None = None
    mentions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def expect(
    stopped_by: str | None = None, mentions: Mapping[str, tuple[str, ...]] | None = None, **findings: set[str]
) -> Expect:
    """``expect(log_keys={"QD101"}, setup={"QD003"})``: probe names with ``-`` written as ``_``."""
    codes = {probe.replace("_", "-"): frozenset(wanted) for probe, wanted in findings.items()}
    return Expect(codes, stopped_by, dict(mentions or {}))


CLEAN = Expect()


@dataclass(frozen=True)
class Case:
    name: str
    imitates: tuple[str, ...]  # "owner/repo: path" of the public files studied
    task: str  # "qa" or "pair-classification"
    written_for: str  # the transformers line the code was written for, e.g. "4.1x", "4.46", "5.x"
    bug: str  # one sentence, or "correct"
    expected: Mapping[str, Expect]  # "4.46" and "5"; "4.57" where that line differs from 4.46
    factory: str = "build_trainer"  # a callable of the case module, or "module:callable" (see qualified)
    config: Mapping[str, str | int] = field(default_factory=dict)  # [tool.qadiag] keys; callables as for factory
    module: str = ""  # set by the registry: the dotted name of the case module

    def expected_on(self, line: str) -> Expect:
        if line == "4.57" and "4.57" not in self.expected:
            return self.expected["4.46"]
        return self.expected[line]

    def qualified(self, spec: str) -> str:
        """``module:callable`` for ``"name"`` (in the case module) or ``"module:name"`` (a module of the cases
        package: shared code such as ``_utils_qa``, or a file of a case package such as ``project.train``)."""
        module, _, name = spec.rpartition(":")
        package = self.module.rpartition(".")[0]
        return f"{package}.{module}:{name}" if module else f"{self.module}:{name}"

    def plugin_settings(self) -> dict[str, str | int]:
        """The ``[tool.qadiag]`` table this project would have."""
        settings: dict[str, str | int] = {"trainer_factory": self.qualified(self.factory), "task": self.task}
        for key, value in self.config.items():
            settings[key] = self.qualified(value) if isinstance(value, str) else value
        return settings
