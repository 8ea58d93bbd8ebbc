"""The Python API: attach the probes to any Trainer, run it as usual, read the findings.

    run = qadiag.attach(trainer, loss=my_loss)
    trainer.train()
    trainer.evaluate()
    result = run.finish()
    print(result.text())

Dataset and experiment checks (see :mod:`qadiag.checks`) run on a
:class:`~qadiag.checks.context.CheckContext` with :func:`run_check`; ``qadiag train`` and
``pytest --qadiag`` use exactly these functions and the registry, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.checks import Kind, checks_of, resolve
from qadiag.distributed import gather_everywhere
from qadiag.findings import Finding, FindingGroups, is_failure

__all__ = ["ProbeRun", "Result", "attach", "run_check"]


@dataclass
class Result:
    """What a diagnosed run produced: the findings, captured samples, the log history, which probes ran,
    and the crash (a finding) when the run could not finish."""

    findings: list[Finding] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    crash: Finding | None = None
    output_dir: Path | None = None

    def for_probe(self, name: str) -> list[Finding]:
        return [item for item in self.findings if item.probe == name]

    def failed(self, strict: bool = False) -> bool:
        return any(is_failure(item, strict) for item in self.findings)

    def text(self) -> str:
        from qadiag.formats import format_text

        header = f"qadiag probes: {', '.join(self.probes) or 'none'}"
        return f"{header}\n{format_text(self.findings)}"


class ProbeRun:
    """Probes attached to one Trainer; ``finish()`` detaches them and returns the :class:`Result`.

    In a distributed run, attach on every rank (captures and ``finish()`` gather across ranks, which
    every rank must join); ``samples`` holds on rank 0 the samples of every rank (tagged ``rank``), and
    ``finish()`` returns the findings of every rank on each of them.
    """

    def __init__(self, trainer: Any, probes: list[Any], observer: Any, names: list[str]) -> None:
        self.trainer = trainer
        self.probes = probes
        self.observer = observer
        self.names = names
        self._result: Result | None = None

    @property
    def samples(self) -> list[dict[str, Any]]:
        return [sample for probe in self.probes for sample in getattr(probe, "samples", [])]

    def finish(self) -> Result:
        if self._result is None:
            for probe in self.probes:
                probe.finalize()
                probe.uninstall()
            self.observer.detach()
            local = [item for probe in self.probes for item in probe.findings()]
            # Under torchrun every rank must call finish(): each ends with the findings of all of them.
            per_rank = gather_everywhere(local)
            if len(per_rank) == 1:
                findings = local
            else:
                groups = FindingGroups(tag_name="ranks")
                for rank, items in enumerate(per_rank):
                    groups.extend(items, tag=rank)
                findings = groups.findings()
            self._result = Result(
                findings=findings,
                samples=self.samples,
                log_history=list(self.trainer.state.log_history),
                probes=self.names,
            )
        return self._result

    def __enter__(self) -> ProbeRun:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.finish()


def attach(
    trainer: Any,
    probes: str | Sequence[str] = "all",
    *,
    loss: Callable[..., Any] | None = None,
    capture_every: int | None = None,
    samples: int = 4,
    output_dir: str | Path | None = None,
    decode: Callable[..., Any] | None = None,
    console: bool = True,
    task: Any = None,
    tokenizer: Any = None,
    answer_lookup: Callable[[Any], str | None] | None = None,
    user_code: Sequence[Callable[..., Any]] = (),
    eval_without_labels: bool = False,
    handed_compute_metrics: bool = False,
) -> ProbeRun:
    """Attach the callback probes to ``trainer`` (any ``transformers.Trainer`` subclass) without changing
    what it does.

    ``loss`` is the loss you intend to optimise, with the ``compute_loss_func`` signature
    ``(outputs, labels, num_items_in_batch=None) -> Tensor`` (QA labels: ``(start_positions,
    end_positions)``). ``output_dir`` (default: ``trainer.args.output_dir``) receives ``samples.jsonl``.
    ``capture_every`` (default: about 10 captures per run, at most 50 steps apart) and ``samples`` set
    what output-capture decodes; ``decode`` is your own sample decoder, checked against the reference
    decoding; ``tokenizer`` decodes when the trainer has no ``processing_class``; the modules of
    ``user_code`` (your trainer factory, your training script's functions) are read, like your Trainer
    subclass, for transformers APIs a supported line removed. ``eval_without_labels`` says that the
    validation features carry no labels on purpose (HF's ``run_qa.py`` convention), so that no eval
    loss is expected from this run; ``handed_compute_metrics`` that the trainer was built with a
    ``compute_metrics``, so its evaluations must report task metrics. ``task`` (a name or a
    :class:`~qadiag.tasks.base.Task`) is recognised from the model outputs when not given. The dataset
    and experiment checks of the selected probes (alignment, overfit, gradient accumulation) need more
    than a trainer: see :func:`run_check` and :func:`qadiag.check_alignment`.
    """
    from qadiag.probes.base import ProbeOptions
    from qadiag.probes.observe import Observer
    from qadiag.tasks import get_task

    if isinstance(task, str):
        task = get_task(task)
    names = resolve(probes)
    options = ProbeOptions(
        loss=loss,
        capture_every=capture_every,
        samples=samples,
        output_dir=output_dir if output_dir is not None else trainer.args.output_dir,
        decode=decode,
        console=console,
        answer_lookup=answer_lookup,
        task=task,
        tokenizer=tokenizer,
        user_code=tuple(user_code),
        eval_without_labels=eval_without_labels,
        handed_compute_metrics=handed_compute_metrics,
    )
    observer = Observer(trainer)
    observer.attach()
    instances = []
    for check in checks_of(names, kind=Kind.CALLBACK, task=task.name if task is not None else None):
        probe = check.load()(options)
        probe.install(trainer, observer)
        instances.append(probe)
    return ProbeRun(trainer, instances, observer, [probe.name for probe in instances])


def run_check(check: Any, context: Any) -> list[Finding]:
    """Run one registered dataset or experiment check (see :data:`qadiag.checks.CHECKS`) on ``context``,
    without moving the random state of the training being diagnosed."""
    from qadiag.checks.context import preserved_random_state

    with preserved_random_state():
        return list(check.load()(context))
