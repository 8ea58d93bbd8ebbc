"""One ``pytest --qadiag`` session: the user's factory built once, one shared tiny run observed by every
callback probe, the dataset and experiment checks, and who reports a crash.

Each item asks :meth:`PluginSession.outcome` for its probe. Everything is computed once and cached,
crashes included: a factory that raises is called once, and its crash is one finding, reported by one
item (the owner); the other items that needed what crashed are "not run" (skipped), and nothing that
is only a consequence of the crash is reported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.api import Result, attach, run_check
from qadiag.checks import Kind, checks_of
from qadiag.crash import EVALUATION, FACTORY, IMPORT, PREPROCESSING, TRAINING, Stage, crash_finding
from qadiag.errors import QadiagError, UserCodeCrashed
from qadiag.findings import Finding, finding
from qadiag.plugin.config import CALLABLE_KEYS, PluginConfig
from qadiag.plugin.setup import PREPARE_KEYS, TinySetup
from qadiag.usercode import callable_location


@dataclass
class Outcome:
    """What one item reports: its findings, or why it did not run."""

    findings: list[Finding] = field(default_factory=list)
    not_run: str | None = None


@contextlib.contextmanager
def tiny_run_conditions() -> Iterator[None]:
    """The tiny runs on one torch thread, with the objects that exist before them frozen out of the garbage
    collector. A tiny model gains nothing from a second thread, and on a 2-core CI runner shared with
    other processes the threads fight for the cores (3-5x slower measured). Every ``Trainer.train()``
    starts with a full ``gc.collect()`` (accelerate's ``free_memory``), which walks every object torch and
    transformers imported: 0.15 s a run, a quarter of an experiment check; frozen, it walks the new ones.
    A heap the user froze already is left as it is."""
    import gc

    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        torch.set_num_threads(before)


def _same_place(fact: Finding, crash: Finding) -> bool:
    """A fact read in the setup that is what crashed: the same removed API, or the same line."""
    api = crash.evidence.get("api_change")
    return bool(api and fact.evidence.get("api") == api) or (crash.source is not None and fact.source == crash.source)


@contextlib.contextmanager
def user_code(stage: Stage, user_callable: Any = None, **context: Any) -> Iterator[None]:
    """Turn an exception raised by user code during ``stage`` into :class:`UserCodeCrashed`."""
    try:
        yield
    except UserCodeCrashed:
        raise
    except QadiagError as error:  # qadiag's own verdict on what the user code did (e.g. not a Trainer)
        source = error.source or (callable_location(user_callable) if user_callable else None)
        verdict = finding(stage.code, error.message, error.fix or "see the message", source=source)
        raise UserCodeCrashed(verdict) from None
    except Exception as error:
        raise UserCodeCrashed(crash_finding(error, stage, user_callable=user_callable, **context)) from None


class PluginSession:
    def __init__(self, config: PluginConfig, rootdir: Path, workdir: Path, report_dir: Path | None = None) -> None:
        self.config = config
        self.setup = TinySetup(config, rootdir, workdir)
        self.report_dir = report_dir or workdir / "run"
        self.selected: list[str] = list(config.probes)
        self._cache: dict[str, Any] = {}
        self.outcomes: dict[str, Outcome] = {}

    def _once(self, key: str, compute: Any) -> Any:
        """``compute()`` once; an exception it raises is cached and raised again."""
        if key not in self._cache:
            try:
                self._cache[key] = ("value", compute())
            except UserCodeCrashed as crash:
                self._cache[key] = ("crash", crash)
        kind, value = self._cache[key]
        if kind == "crash":
            raise value
        return value

    # -- what the items need ----------------------------------------------------------------------
    def user_callables(self) -> dict[str, Any]:
        """Every configured callable, imported (a module that crashes on import is a finding)."""

        def load() -> dict[str, Any]:
            with user_code(IMPORT):
                return {key: self.setup.callable(key) for key in CALLABLE_KEYS}

        return self._once("callables", load)

    def datasets(self) -> None:
        """The tiny datasets, built with the user's preprocessing when configured."""

        def build() -> None:
            callables = self.user_callables()
            for split, key in PREPARE_KEYS.items():
                with user_code(PREPROCESSING, callables[key]):
                    self.setup.features(split)

        self._once("datasets", build)

    def trainer(self) -> Any:
        """The trainer the user's factory builds on the tiny setup (built once)."""

        def build() -> Any:
            self.datasets()
            with user_code(FACTORY, self.user_callables()["trainer_factory"]):
                return self.setup.build_trainer()

        return self._once("trainer", build)

    def shared_run(self) -> Result:
        """The factory's trainer trained and evaluated once, with every selected callback probe attached."""
        with tiny_run_conditions():
            return self._once("run", self._run)

    def _run(self) -> Result:
        trainer = self.trainer()
        setup = self.setup
        probes = attach(
            trainer,
            [check.probe for check in checks_of(self.selected, kind=Kind.CALLBACK, task=setup.task.name)],
            loss=setup.callable("loss"),
            decode=setup.callable("decode"),
            capture_every=self.config.capture_every,
            samples=self.config.samples,
            console=False,
            task=setup.task,
            tokenizer=setup.tokenizer(),
            answer_lookup=setup.task.answer_lookup(setup.features("train"), setup.examples("train"), setup.tokenizer()),
            output_dir=self.report_dir,
            user_code=[function for key in CALLABLE_KEYS if (function := setup.callable(key)) is not None],
            eval_without_labels=setup.callable("prepare_validation_features") is None,
            handed_compute_metrics=setup.factory_takes("compute_metrics"),
        )
        crash = None
        stage = TRAINING
        try:
            trainer.train()
            stage = EVALUATION
            trainer.evaluate()
        except Exception as error:
            if any(call.crashed for call in probes.observer.evaluations):
                stage = EVALUATION  # an evaluation the Trainer ran during train()
            crash = crash_finding(
                error, stage, trainer=trainer, training_step_returns=probes.observer.training_step_returns
            )
        result = probes.finish()
        result.crash = crash
        result.output_dir = self.report_dir
        return result

    # -- outcomes ---------------------------------------------------------------------------------
    def outcome(self, probe: str) -> Outcome:
        if probe not in self.outcomes:
            with tiny_run_conditions():
                self.outcomes[probe] = self._outcome(probe)
        return self.outcomes[probe]

    def _needs_trainer(self, probe: str) -> bool:
        return bool(
            checks_of([probe], kind=Kind.CALLBACK, task=self.setup.task.name)
            + checks_of([probe], kind=Kind.EXPERIMENT, task=self.setup.task.name)
        )

    def owner(self, crash: Finding) -> str:
        """The selected item that reports ``crash``: the probe whose area it is, else the first that needed
        what crashed."""
        if crash.probe in self.selected and self._needs_trainer(crash.probe):
            return crash.probe
        return next(name for name in self.selected if self._needs_trainer(name))

    def _outcome(self, probe: str) -> Outcome:
        task = self.setup.task.name
        if not checks_of([probe], task=task):
            tasks = sorted({name for check in checks_of([probe]) for name in check.tasks})
            checked = " and ".join(tasks)
            return Outcome(not_run=f"qadiag::{probe} not run: it checks {checked} training, the task is {task}")
        findings = [
            item
            for check in checks_of([probe], kind=Kind.DATASET, task=task)
            for item in run_check(check, self.setup.check_context())
        ]
        if not self._needs_trainer(probe):
            return Outcome(findings)
        try:
            result = self.shared_run()
        except UserCodeCrashed as crashed:
            return self._crashed(probe, crashed.finding, None, findings)
        if result.crash is not None:
            return self._crashed(probe, result.crash, result, findings)
        findings += result.for_probe(probe)
        for check in checks_of([probe], kind=Kind.EXPERIMENT, task=task):
            findings += run_check(check, self.setup.check_context())
        return Outcome(findings)

    def _crash_findings(self, crash: Finding, result: Result | None) -> list[Finding]:
        """What the owner of ``crash`` reports: the crash, and what its probe saw before it that can be a
        cause (facts of the setup: override signatures, label names, dataset columns); everything else
        the probes saw may be a consequence. A setup fact with the crash's own code is the same cause:
        it is reported instead of the crash, with the crash's traceback."""
        observed = result.for_probe(self.owner(crash)) if result is not None else []
        facts = [item for item in observed if item.evidence.get("setup_fact")]
        same_cause = next((item for item in facts if item.code == crash.code or _same_place(item, crash)), None)
        if same_cause is None:
            return [*facts, crash]
        others = [item for item in facts if item is not same_cause]
        return [*others, same_cause.with_evidence(traceback=crash.evidence.get("traceback"))]

    def _crashed(self, probe: str, crash: Finding, result: Result | None, findings: list[Finding]) -> Outcome:
        owner = self.owner(crash)
        reported = self._crash_findings(crash, result)
        if probe == owner:
            return Outcome(findings + reported)
        # What this probe read in the setup before the run (e.g. a decoder taking the end index from the
        # start logits) stands whatever stopped the run; what it observed during the run may not.
        facts = [
            item
            for item in (result.for_probe(probe) if result else [])
            if item.evidence.get("setup_fact") and not _same_place(item, crash)
        ]
        lead = reported[-1]
        where = f" at {lead.source}" if lead.source else ""
        return Outcome(
            findings + facts,
            not_run=f"qadiag::{probe} not run: {lead.code}{where} stopped the run (reported by qadiag::{owner})",
        )

    def crash(self) -> Finding | None:
        """The crash of this session, if any (for the report)."""
        for kind, value in self._cache.values():
            if kind == "crash":
                return value.finding
            if isinstance(value, Result) and value.crash is not None:
                return value.crash
        return None

    def shared_result(self) -> Result | None:
        """The shared run's result when it ran (crashed or not), without running anything."""
        kind, value = self._cache.get("run", (None, None))
        return value if kind == "value" else None

    def write_reports(self) -> list[Path]:
        """What the items found, in the report dir: ``qadiag_report.json`` (with full tracebacks), the shared
        run's ``trainer_state.json`` (for the curves), ``report.html`` and ``report.md``; their paths."""
        from qadiag.report import write_report
        from qadiag.report.probe_report import PROBE_REPORT_FILE, probe_report_payload, write_probe_report

        findings = [item for outcome in self.outcomes.values() for item in outcome.findings]
        result = self.shared_result()
        trainer_kind, trainer = self._cache.get("trainer", (None, None))
        payload = probe_report_payload(
            generated_by="pytest --qadiag",
            task=self.setup.task.name,
            run_dir=str(self.report_dir),
            probes=list(self.outcomes),
            findings=findings,
            crash=self.crash(),
            outputs={"samples": "samples.jsonl" if (self.report_dir / "samples.jsonl").is_file() else None},
            args=trainer.args if trainer_kind == "value" else None,
        )
        written = [write_probe_report(self.report_dir / PROBE_REPORT_FILE, payload)]
        if result is not None and trainer_kind == "value":
            trainer.state.save_to_json(str(self.report_dir / "trainer_state.json"))
        paths = write_report(self.report_dir, step_summary=True)
        return [*written, paths.html, paths.markdown]
