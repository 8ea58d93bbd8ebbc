"""``log-keys``: every metric that reaches the loggers is in its namespace (seed 001).

Each dict that reaches ``on_log`` is checked with the shared rule set (``qadiag.namespaces``) knowing
what produced it: inside ``evaluate()`` it is an eval row, inside ``predict()`` a test row, otherwise
its kind is inferred from its keys exactly as ``audit-logs`` does. After each ``evaluate()`` the
metrics it returned are compared with those it logged.
"""

from __future__ import annotations

from typing import Any

from qadiag.findings import finding
from qadiag.namespaces import RowKind, check_logged_metrics, check_row, is_trainer_metric
from qadiag.probes.base import Probe
from qadiag.probes.observe import EvaluationCall, Observer
from qadiag.usercode import callable_name


def evaluation_kind(call: EvaluationCall) -> RowKind:
    return RowKind.TEST if call.prefix.startswith("test") else RowKind.EVAL


class LogKeysProbe(Probe):
    name = "log-keys"

    def install(self, trainer: Any, observer: Observer) -> None:
        super().install(trainer, observer)
        observer.evaluation_listeners.append(self._after_evaluation)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs:
            return
        call = self.observer.active_evaluation if self.observer else None
        kind = evaluation_kind(call) if call is not None else None
        for item in check_row(logs, kind=kind, step=state.global_step, source=self._source(call)):
            self.record(item)

    def _after_evaluation(self, call: EvaluationCall) -> None:
        # predict() returns its metrics without logging them, by design: only evaluate() must log.
        if call.crashed or call.kind is RowKind.TEST:
            return
        logged = {key for row in call.logged for key in row}
        if call.returned is not None:
            for item in check_logged_metrics(
                call.returned, logged, kind=evaluation_kind(call), step=call.step, source=self._source(call)
            ):
                self.record(item)
        self._check_task_metrics(call, logged | set(call.returned or {}))

    def _source(self, call: EvaluationCall | None) -> str:
        if call is None:
            return f"{self.method_location('log')} (training)"
        return self.method_location("predict" if call.kind is RowKind.TEST else "evaluate")

    def _check_task_metrics(self, call: EvaluationCall, reported: set[str]) -> None:
        """QD108: a compute_metrics was given, yet the evaluation reported nothing it computes."""
        compute_metrics = getattr(self.trainer, "compute_metrics", None)
        handed = self.options.handed_compute_metrics
        if (compute_metrics is None and not handed) or not all(is_trainer_metric(key) for key in reported):
            return
        what = f"reported only {', '.join(sorted(reported))}" if reported else "logged nothing and returned no metric"
        if compute_metrics is None:
            cause = (
                "the compute_metrics the trainer was built with is gone (self.compute_metrics is None): a Trainer "
                "subclass whose __init__ takes compute_metrics and does not pass it on to super() swallows it"
            )
            fix = "pass compute_metrics on to super().__init__(...) (or drop the parameter from your __init__)"
        else:
            cause = f"nothing that compute_metrics ({callable_name(compute_metrics)}) computes reached the logs"
            fix = (
                "in a custom evaluate(), call compute_metrics on the (post-processed) predictions and merge what it "
                "returns, prefixed, into the metrics you log and return"
            )
        self.record(
            finding(
                "QD108",
                f"evaluate() at step {call.step} {what}: {cause}",
                fix,
                step=call.step,
                source=self._source(call),
            )
        )
