"""The Python API: attach the probes to any Trainer, run it as usual, read the findings.

run = qadiag.attach(trainer, loss=my_loss)
trainer.train()
trainer.evaluate()
report = run.finish()
print(report.text())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.distributed import gather_everywhere, merge_rank_findings
from qadiag.findings import Finding, is_failure
from qadiag.formats import format_text


@dataclass
class ProbeReport:
    """What a probed run produced: findings per probe, captured samples, and the log history."""

    findings: list[Finding]
    samples: list[dict[str, Any]] = field(default_factory=list)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)

    def for_probe(self, name: str) -> list[Finding]:
        return [item for item in self.findings if item.probe == name]

    def failed(self, strict: bool = False) -> bool:
        return any(is_failure(item, strict) for item in self.findings)

    def text(self) -> str:
        header = f"qadiag probes: {', '.join(self.probes) or 'none'}"
        return f"{header}\n{format_text(self.findings)}"


class ProbeRun:
    """Probes attached to one Trainer; ``finish()`` detaches them and returns the report.

    In a distributed run, attach on every rank (captures and ``finish()`` gather across ranks, which
    every rank must join); ``samples`` holds on rank 0 the samples of every rank (tagged ``rank``), and
    ``finish()`` returns the findings of every rank on each of them.
    """

    def __init__(self, trainer: Any, probes: list[Any], observer: Any, preflight: list[Finding]) -> None:
        self.trainer = trainer
        self.probes = probes
        self.observer = observer
        self.preflight = preflight
        self._report: ProbeReport | None = None

    @property
    def samples(self) -> list[dict[str, Any]]:
        return [sample for probe in self.probes for sample in getattr(probe, "samples", [])]

    def finish(self) -> ProbeReport:
        if self._report is None:
            for probe in self.probes:
                probe.finalize()
                probe.uninstall()
            self.observer.detach()
            findings = list(self.preflight) + [item for probe in self.probes for item in probe.findings()]
            # Under torchrun every rank must call finish(): each ends with the findings of all of them.
            self._report = ProbeReport(
                findings=merge_rank_findings(gather_everywhere(findings)),
                samples=self.samples,
                log_history=list(self.trainer.state.log_history),
                probes=[probe.name for probe in self.probes],
            )
        return self._report

    def __enter__(self) -> ProbeRun:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.finish()


def attach(
    trainer: Any,
    probes: str | Sequence[str] = "all",
    *,
    loss: Callable[..., Any] | None = None,
    capture_every: int = 50,
    samples: int = 4,
    output_dir: str | Path | None = None,
    decode: Callable[..., Any] | None = None,
    console: bool = True,
    answer_lookup: Callable[[Any], str | None] | None = None,
) -> ProbeRun:
    """Attach probes to ``trainer`` (any ``transformers.Trainer`` subclass) without changing what it does.

    ``loss`` is the loss you intend to optimise, with the ``compute_loss_func`` signature
    ``(outputs, labels, num_items_in_batch=None) -> Tensor`` (QA labels: ``(start_positions,
    end_positions)``). ``output_dir`` (default: ``trainer.args.output_dir``) receives ``samples.jsonl``.
    ``decode`` is your own sample decoder, checked against the reference decoding. The ``alignment``
    probe checks datasets, not a running Trainer: see :func:`qadiag.check_alignment`.
    """
    from qadiag.probes import PROBE_CLASSES, probe_class, resolve_probe_names
    from qadiag.probes.base import ProbeOptions
    from qadiag.probes.observe import Observer
    from qadiag.probes.signatures import check_overrides

    names = [name for name in resolve_probe_names(probes) if name in PROBE_CLASSES]
    options = ProbeOptions(
        loss=loss,
        capture_every=capture_every,
        samples=samples,
        output_dir=output_dir if output_dir is not None else trainer.args.output_dir,
        decode=decode,
        console=console,
        answer_lookup=answer_lookup,
    )
    observer = Observer(trainer)
    observer.attach()
    instances = []
    for name in names:
        probe = probe_class(name)(options)
        probe.install(trainer, observer)
        instances.append(probe)
    preflight = check_overrides(type(trainer)) if "loss-swap" in names else []
    return ProbeRun(trainer, instances, observer, preflight)
