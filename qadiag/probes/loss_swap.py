"""``loss-swap``: prove that the loss backpropagated is the loss you meant (seed 003).

For every training micro-batch the probe has the outputs of the forward pass the Trainer did, the
labels of that batch, the loss ``compute_loss`` returned and the tensor handed to
``accelerator.backward``. The intended loss (``loss=`` when attaching, else the trainer's
``compute_loss_func``) is recomputed on those same outputs and compared. With no intended loss, an
overridden ``compute_loss`` that returns exactly the model's built-in loss on every batch is flagged:
that is what a custom loss that never runs looks like. The probe also checks that the loss reaches
the trainable parameters. Gradient-accumulation scaling (bug class 6) needs runs of its own: it is the
``gradient-accumulation`` experiment check (:mod:`qadiag.checks.gradient_accumulation`), reported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qadiag import compat, distributed
from qadiag.errors import DeclaredLossError
from qadiag.findings import Severity, finding
from qadiag.probes.api_history import check_api_history
from qadiag.probes.base import Probe, recompute_declared_loss, same_loss, to_float
from qadiag.probes.observe import MicroBatch, Observer
from qadiag.probes.signatures import check_overrides
from qadiag.usercode import callable_location, callable_name

# A call such as `smoothed_qa_loss(`, `self.loss_fn(`, `F.cross_entropy(`, `focal(` (not `compute_loss(`).
# self.loss_name, self.loss_fct, self.criterion, self.custom_loss ... read inside compute_loss
_SELF_LOSS_SETTING = re.compile(r"\bself\.(\w*(?:loss|criterion)\w*)\b(?!\s*\()", re.IGNORECASE)
_OWN_LOSS_CALL = re.compile(r"\b(?!compute_loss\b)(\w*loss\w*|cross_entropy|nll|kl_div|focal\w*)\s*\(", re.IGNORECASE)


@dataclass
class Comparison:
    step: int
    optimized: float
    intended: float


class LossSwapProbe(Probe):
    name = "loss-swap"

    def install(self, trainer: Any, observer: Observer) -> None:
        super().install(trainer, observer)
        observer.microbatch_listeners.append(self._on_microbatch)
        for item in check_overrides(type(trainer)) + check_api_history(type(trainer), self.options.user_code):
            self.record(item)
        self.intended = self.options.loss or getattr(trainer, "compute_loss_func", None)
        self.intended_name = callable_name(self.intended)
        self.compared: list[Comparison] = []
        self.mismatched: list[Comparison] = []
        self.builtin_batches = 0
        self.observed_batches = 0
        self._gradients_checked = False
        self._initial: dict[str, float] = {}

    # -- the loss actually optimised -------------------------------------------------------------
    def _on_microbatch(self, batch: MicroBatch) -> None:
        if not batch.training:
            return
        self.observed_batches += 1
        optimized = self._optimized_value(batch)
        if batch.returned_builtin_loss:
            self.builtin_batches += 1
        if self.intended is None or optimized is None:
            return
        try:
            intended = recompute_declared_loss(
                self.intended, batch.outputs, self._labels(batch), batch.num_items_in_batch
            )
        except DeclaredLossError as error:
            self.record(
                finding(
                    "QD301",
                    f"the intended loss {self.intended_name} raised {error} when called as "
                    "loss(outputs, labels, num_items_in_batch=...) on the model outputs of step "
                    f"{batch.step}",
                    "give it the compute_loss_func signature: (outputs, labels, num_items_in_batch=None) -> Tensor, "
                    f"with {self._labels_hint()}",
                    step=batch.step,
                    source=callable_location(self.intended),
                )
            )
            return
        if intended is None:
            return
        comparison = Comparison(batch.step, optimized, intended)
        self.compared.append(comparison)
        if not self._same_up_to_scaling(batch, optimized, intended):
            self.mismatched.append(comparison)

    def _labels_hint(self) -> str:
        task = self.options.task
        return task.loss_signature_hint() if task is not None else "labels as the batch carries them"

    def _optimized_value(self, batch: MicroBatch) -> float | None:
        """What compute_loss returned; the backpropagated tensor when compute_loss was bypassed."""
        value = to_float(batch.loss)
        return value if value is not None else to_float(batch.backpropagated)

    def _same_up_to_scaling(self, batch: MicroBatch, optimized: float, intended: float) -> bool:
        """Equal once the Trainer's own scaling is undone."""
        if batch.loss is not None:
            # compute_loss multiplies by the world size when tokens are averaged across devices.
            devices = compat.loss_scale_across_devices(self.trainer, batch.num_items_in_batch)
            return any(same_loss(optimized, intended * scale) for scale in {1, devices})
        # Only the backpropagated tensor is known: it may already be divided by the accumulation steps.
        steps = max(1, int(getattr(self.trainer.args, "gradient_accumulation_steps", 1)))
        return any(same_loss(optimized * scale, intended) for scale in {1, steps})

    # -- the loss reaches the parameters ---------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._initial = _parameter_checksums(self.trainer.model)
        launched = max(distributed.launched_processes(), distributed.world_size())
        if launched > 1 and args.world_size == 1:
            self.record(
                finding(
                    "QD309",
                    f"{launched} processes were launched but the Trainer's world size is 1: every process trains "
                    "its own copy of the model on all the data and no gradient is averaged across them",
                    "on a machine without a GPU pass use_cpu=True (--use_cpu true) so that transformers sets up DDP "
                    "over gloo; otherwise check that TrainingArguments is created after the launcher started the "
                    "processes, not before",
                    source="TrainingArguments",
                )
            )
        strategy = getattr(args.eval_strategy, "value", args.eval_strategy)
        if args.eval_steps is not None and strategy == "no":
            self.record(
                finding(
                    "QD310",
                    f"eval_steps={args.eval_steps} is set but eval_strategy is 'no': the Trainer never evaluates "
                    "during training, so there is no eval curve to read",
                    "set eval_strategy='steps' (eval_steps only counts with it), or drop eval_steps",
                    source="TrainingArguments.eval_steps",
                    key="eval_steps",
                    evidence={"setup_fact": True},
                )
            )

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._gradients_checked:
            return
        self._gradients_checked = True
        trainable = [(n, p) for n, p in self.trainer.model.named_parameters() if p.requires_grad]
        with_gradient = [n for n, p in trainable if p.grad is not None and bool(p.grad.detach().abs().sum() > 0)]
        if trainable and not with_gradient:
            self.record(
                finding(
                    "QD303",
                    f"after the first backward pass none of the {len(trainable)} trainable parameters has a non-zero "
                    "gradient: the loss that was backpropagated is not connected to the model",
                    "return a loss computed from the model outputs without .detach(), .item() or torch.no_grad(), and "
                    "do not rebuild it with torch.tensor(...)",
                    step=state.global_step,
                    source="Trainer.training_step",
                )
            )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self._initial or state.global_step == 0 or not args.learning_rate:
            return
        final = _parameter_checksums(self.trainer.model)
        if all(final.get(name) == value for name, value in self._initial.items()):
            self.record(
                finding(
                    "QD303",
                    f"no trainable parameter changed in {state.global_step} optimizer steps (learning rate "
                    f"{args.learning_rate})",
                    "check that the optimizer holds the model's parameters and that the loss has a gradient path "
                    "to them",
                    step=state.global_step,
                    source="Trainer.train",
                )
            )

    # -- verdicts ----------------------------------------------------------------------------------
    def finalize(self) -> None:
        self._report_training_step_returns()
        if self.mismatched:
            first = self.mismatched[0]
            self.record(
                finding(
                    "QD301",
                    f"on {len(self.mismatched)} of {len(self.compared)} training batches the loss that was optimized "
                    f"is not {self.intended_name}: step {first.step} optimized {first.optimized:.6g}, "
                    f"{self.intended_name} on the same outputs gives {first.intended:.6g}"
                    + (" (the optimized value is the model's built-in loss)" if self.builtin_batches else ""),
                    self._mismatch_fix(),
                    step=first.step,
                    source=self.method_location("compute_loss"),
                )
            )
        elif self.intended is None and self.observed_batches and self.builtin_batches == self.observed_batches:
            self._report_builtin_loss_returned()

    def _report_builtin_loss_returned(self) -> None:
        """The model's own loss was what compute_loss returned on every training batch: QD302 when an
        override meant to compute another loss, QD310 when label smoothing was asked for."""
        name = type(self.trainer).__name__
        smoothing = float(getattr(self.trainer.args, "label_smoothing_factor", 0.0) or 0.0)
        configured = self._configured_custom_loss()
        if self._override_calls_a_loss() or configured:
            because = (
                f" although the trainer is configured with {configured}: the custom loss never runs"
                if configured
                else ": if it is meant to compute a custom loss, that code never runs"
            )
            self.record(
                finding(
                    "QD302",
                    f"{name}.compute_loss is overridden but returned the model's built-in loss (outputs.loss itself) "
                    f"on all {self.observed_batches} training batches{because}",
                    "check the condition guarding your custom loss (seed 003: labels popped only when label_smoother "
                    "is set) and pop the labels unconditionally; declare the intended loss (`loss=` / [tool.qadiag] "
                    "loss) to have it verified",
                    severity=Severity.ERROR if configured else None,
                    source=self.method_location("compute_loss"),
                )
            )
        elif smoothing:
            labels = ", ".join(self.options.task.label_columns) if self.options.task else "its label columns"
            self.record(
                finding(
                    "QD310",
                    f"label_smoothing_factor={smoothing:g} is set but the loss optimized on all "
                    f"{self.observed_batches} training batches is the model's own, unsmoothed loss: the Trainer's "
                    f"label smoother only runs on batches with a 'labels' key, and these carry {labels}",
                    "apply the smoothing where the loss is computed (override compute_loss and use "
                    "cross_entropy(..., label_smoothing=...) on the start and end logits, as "
                    "qadiag.tasks.qa.loss.span_loss does), or drop the flag",
                    source="TrainingArguments.label_smoothing_factor",
                    key="label_smoothing_factor",
                )
            )

    def _configured_custom_loss(self) -> str | None:
        """``loss_name='focal' (self.loss_name)``: a loss setting on the trainer that its compute_loss reads."""
        source = self.override_source("compute_loss")
        if source is None:
            return None
        for attribute in dict.fromkeys(_SELF_LOSS_SETTING.findall(source)):
            value = vars(self.trainer).get(attribute)
            if value not in (None, "", False, 0):
                shown = value if isinstance(value, (str, int, float)) else type(value).__name__
                return f"{attribute}={shown!r} (self.{attribute})"
        return None

    def _mismatch_fix(self) -> str:
        source = self.override_source("compute_loss")
        if self.builtin_batches and source is not None:
            guard = (
                " (it is guarded by self.label_smoother, which is None unless label_smoothing_factor > 0: seed 003)"
                if "label_smoother" in source
                else ""
            )
            return (
                f"your compute_loss returns outputs.loss instead of calling your loss{guard}: pop the labels "
                "unconditionally and always call your loss, e.g. `labels = inputs.pop('labels')` (QA: start/end "
                "positions) before model(**inputs)"
            )
        if self.builtin_batches and self.options.loss is None:
            return compat.COMPUTE_LOSS_FUNC_QA_FIX
        return "make compute_loss return the intended loss (or declare the loss you really optimize)"

    def _override_calls_a_loss(self) -> bool:
        """An override that calls a loss function of its own (not just super() or outputs.loss)."""
        source = self.override_source("compute_loss")
        return source is not None and bool(_OWN_LOSS_CALL.search(source))

    def _report_training_step_returns(self) -> None:
        odd = sorted(self.observer.training_step_returns - {"Tensor"}) if self.observer else []
        if odd:
            self.record(
                finding(
                    "QD306",
                    f"{type(self.trainer).__name__}.training_step returned {', '.join(odd)} instead of the detached "
                    "loss tensor; the Trainer adds it to its running loss and checks it for NaN",
                    "return only `loss.detach()` from training_step; capture outputs elsewhere (qadiag's "
                    "output-capture probe shows samples without rewriting training_step)",
                    source=self.method_location("training_step"),
                )
            )


def _parameter_checksums(model: Any) -> dict[str, float]:
    import torch

    with torch.no_grad():
        return {n: float(p.detach().double().sum()) for n, p in model.named_parameters() if p.requires_grad}
