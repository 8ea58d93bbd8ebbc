"""Passive observation of a Trainer: what went into each forward pass, what came out, which loss
``compute_loss`` returned, which tensor was backpropagated, what ``evaluate()`` logged and returned.

Everything is read, nothing is recomputed: hooks wrap the trainer's own methods on the *instance*
(so the user's subclass overrides still run, unchanged) and a forward hook on the model records the
outputs of the forward pass the Trainer already does. No tensor is modified, no RNG is drawn, and
the ``inputs``/``logs`` dicts are never mutated (a shallow copy is kept instead). ``detach()``
restores the instance exactly as it was.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from qadiag.namespaces import RowKind
from qadiag.outputs import output_field

Listener = Callable[["MicroBatch"], None]


@dataclass
class MicroBatch:
    """One call of ``compute_loss``: training micro-batch or evaluation batch."""

    step: int
    training: bool
    inputs: dict[str, Any]
    outputs: Any = None
    loss: Any = None
    num_items_in_batch: Any = None
    backpropagated: Any = None
    completed: bool = False

    @property
    def returned_builtin_loss(self) -> bool | None:
        """Whether ``compute_loss`` returned the model's own loss tensor itself (not a loss of its own that
        happens to be equal): False when the model computed no loss at all; None when ``compute_loss``
        returned none (bypassed) or outputs were not seen."""
        if not hasattr(self.loss, "data_ptr") or self.outputs is None:
            return None
        builtin = output_field(self.outputs, "loss")
        if builtin is None and isinstance(self.outputs, tuple) and self.outputs:
            builtin = self.outputs[0]  # return_dict=False: the loss comes first when there is one
        if not hasattr(builtin, "data_ptr") or builtin.dim() != 0:
            return False
        return self.loss.data_ptr() == builtin.data_ptr()


@dataclass
class EvaluationCall:
    """One call of ``evaluate()``/``predict()``: the rows it logged and the metrics it returned."""

    kind: RowKind
    prefix: str
    step: int
    logged: list[dict[str, Any]] = field(default_factory=list)
    returned: dict[str, Any] | None = None
    loop_metrics: list[dict[str, Any]] = field(default_factory=list)
    input_keys_seen: set[str] = field(default_factory=set)
    batches: int = 0
    crashed: bool = False  # evaluate() raised: what it logged and returned is incomplete
    metrics_in_loop: bool = False  # compute_metrics was set while evaluation_loop ran


def _detached(value: Any) -> Any:
    """Tensors detached (no copy, no autograd link); containers rebuilt shallowly."""
    if hasattr(value, "detach") and callable(value.detach):
        return value.detach()
    if isinstance(value, dict):
        items = {key: _detached(item) for key, item in value.items()}
        try:  # keep ModelOutput classes, so probes and declared losses can use attribute access
            return type(value)(**items)
        except TypeError:
            return items
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_detached(item) for item in value)
    return value


class Observer:
    """Installs the hooks every probe shares; probes subscribe to the events they need."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.current: MicroBatch | None = None
        self.last_training: MicroBatch | None = None
        self.evaluations: list[EvaluationCall] = []
        self.active_evaluation: EvaluationCall | None = None
        self.log_rows: list[tuple[RowKind | None, dict[str, Any]]] = []
        self.microbatch_listeners: list[Listener] = []
        self.evaluation_listeners: list[Callable[[EvaluationCall], None]] = []
        self.training_step_returns: set[str] = set()
        self._patched: list[tuple[str, bool]] = []
        self._originals: dict[str, Callable[..., Any]] = {}
        self._hook_handle: Any = None

    # -- installation -------------------------------------------------------------------------
    def attach(self) -> None:
        self._patch("compute_loss", self._compute_loss)
        self._patch("evaluate", functools.partial(self._evaluation, RowKind.EVAL, "eval"))
        self._patch("predict", functools.partial(self._evaluation, RowKind.TEST, "test"))
        self._patch("evaluation_loop", self._evaluation_loop)
        self._patch("log", self._log)
        self._patch("training_step", self._training_step)
        accelerator = getattr(self.trainer, "accelerator", None)
        if accelerator is not None:
            original_backward = accelerator.backward

            def backward(loss: Any, **kwargs: Any) -> Any:
                batch = self.current
                if batch is not None and batch.training and not batch.completed:
                    batch.backpropagated = loss.detach()
                    self._complete(batch)
                return original_backward(loss, **kwargs)

            accelerator.backward = backward
        self._hook_handle = self.trainer.model.register_forward_hook(self._forward_hook, with_kwargs=True)

    def detach(self) -> None:
        for name, was_instance_attribute in reversed(self._patched):
            if was_instance_attribute:
                setattr(self.trainer, name, self._originals[name])
            else:
                delattr(self.trainer, name)
        self._patched.clear()
        accelerator = getattr(self.trainer, "accelerator", None)
        if accelerator is not None and "backward" in vars(accelerator):
            del accelerator.backward
        if self._hook_handle is not None:
            self._hook_handle.remove()
            self._hook_handle = None
        if self.current is not None:
            self._complete(self.current)

    def _patch(self, name: str, replacement: Callable[..., Any]) -> None:
        self._originals[name] = getattr(self.trainer, name)
        self._patched.append((name, name in vars(self.trainer)))
        setattr(self.trainer, name, replacement)

    # -- hooks ----------------------------------------------------------------------------------
    def _complete(self, batch: MicroBatch) -> None:
        if batch.completed:
            return
        batch.completed = True
        for listener in self.microbatch_listeners:
            listener(batch)

    def _begin(self, batch: MicroBatch) -> None:
        if self.current is not None and self.current.training:
            self._complete(self.current)  # its backward never went through the accelerator
        self.current = batch
        if batch.training:
            self.last_training = batch

    def _forward_hook(self, module: Any, args: Any, kwargs: dict[str, Any], output: Any) -> None:
        if module.training and (self.current is None or self.current.completed):
            # A training forward outside compute_loss (a training_step override computing its own loss).
            self._begin(MicroBatch(step=self.trainer.state.global_step, training=True, inputs=dict(kwargs)))
        if self.current is not None and self.current.outputs is None:
            self.current.outputs = _detached(output)
        if self.active_evaluation is not None and not module.training:
            self.active_evaluation.batches += 1
            self.active_evaluation.input_keys_seen |= {key for key, value in kwargs.items() if value is not None}

    def _compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        training = bool(getattr(model, "training", True))
        batch = MicroBatch(
            step=self.trainer.state.global_step,
            training=training,
            inputs=dict(inputs),
            num_items_in_batch=kwargs.get("num_items_in_batch", args[1] if len(args) > 1 else None),
        )
        self._begin(batch)
        try:
            result = self._originals["compute_loss"](model, inputs, *args, **kwargs)
        except BaseException:
            self.current = None
            raise
        loss = result[0] if isinstance(result, tuple) else result
        batch.loss = loss.detach() if hasattr(loss, "detach") else loss
        if not training:
            self._complete(batch)
            self.current = None
        return result

    def _training_step(self, *args: Any, **kwargs: Any) -> Any:
        result = self._originals["training_step"](*args, **kwargs)
        self.training_step_returns.add(type(result).__name__)
        return result

    def _evaluation(self, kind: RowKind, default_prefix: str, *args: Any, **kwargs: Any) -> Any:
        prefix = kwargs.get("metric_key_prefix", default_prefix)
        call = EvaluationCall(kind=kind, prefix=prefix, step=self.trainer.state.global_step)
        outer, self.active_evaluation = self.active_evaluation, call
        try:
            result = self._originals["evaluate" if kind is RowKind.EVAL else "predict"](*args, **kwargs)
            metrics = result if isinstance(result, dict) else getattr(result, "metrics", None)
            call.returned = dict(metrics) if isinstance(metrics, dict) else None
            return result
        except BaseException:
            call.crashed = True
            raise
        finally:
            # Also when evaluate() raised: what the loop did before the crash explains it.
            self.active_evaluation = outer
            self._finish_evaluation(call, outer)

    def _finish_evaluation(self, call: EvaluationCall, outer: EvaluationCall | None) -> None:
        if outer is None:
            self.evaluations.append(call)
            for listener in self.evaluation_listeners:
                listener(call)
        else:  # evaluate() recursing over a dict of eval datasets: fold into the outer call
            outer.logged.extend(call.logged)
            outer.loop_metrics.extend(call.loop_metrics)
            outer.input_keys_seen |= call.input_keys_seen
            outer.batches += call.batches

    def _evaluation_loop(self, *args: Any, **kwargs: Any) -> Any:
        if self.active_evaluation is not None and getattr(self.trainer, "compute_metrics", None) is not None:
            self.active_evaluation.metrics_in_loop = True
        output = self._originals["evaluation_loop"](*args, **kwargs)
        if self.active_evaluation is not None and isinstance(getattr(output, "metrics", None), dict):
            self.active_evaluation.loop_metrics.append(dict(output.metrics))
        return output

    def _log(self, logs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        result = self._originals["log"](logs, *args, **kwargs)
        kind = self.active_evaluation.kind if self.active_evaluation is not None else None
        row = dict(logs)
        self.log_rows.append((kind, row))
        if self.active_evaluation is not None:
            self.active_evaluation.logged.append(row)
        return result

    @contextlib.contextmanager
    def attached(self) -> Iterator[Observer]:
        self.attach()
        try:
            yield self
        finally:
            self.detach()
