"""``eval-loss``: every evaluation reports a finite eval loss, and says *why* when it does not.

The causes are checked in the order the data flows (seed 001 and DESIGN.md bug class 2): the
evaluation dataset has no label columns; ``label_names`` is empty or does not match them; the columns
exist but ``remove_unused_columns`` dropped them before the model saw them (the model's ``forward``
has no such argument); the loop computed a loss but a custom ``evaluate()`` dropped it. With a
declared loss, the eval loss is also checked to be that objective (bug class 7). Non-finite training
losses are caught from ``compute_loss`` itself, even when ``logging_nan_inf_filter`` hides them.
"""

from __future__ import annotations

import inspect
from typing import Any

from qadiag.errors import DeclaredLossError
from qadiag.findings import finding
from qadiag.loss_rules import missing_eval_loss, non_finite_loss
from qadiag.namespaces import RowKind
from qadiag.probes.base import Probe, recompute_declared_loss, same_loss, to_float
from qadiag.probes.observe import EvaluationCall, MicroBatch, Observer


class EvalLossProbe(Probe):
    name = "eval-loss"

    def install(self, trainer: Any, observer: Observer) -> None:
        super().install(trainer, observer)
        observer.evaluation_listeners.append(self._after_evaluation)
        observer.microbatch_listeners.append(self._on_microbatch)
        self._eval_mismatches = 0
        self._eval_compared = 0
        self._eval_example: tuple[float, float] | None = None
        # (batches, of which compute_loss returned the model's own loss) in training and in evaluation
        self._builtin = {True: [0, 0], False: [0, 0]}

    # -- non-finite training loss ---------------------------------------------------------------
    def _on_microbatch(self, batch: MicroBatch) -> None:
        value = to_float(batch.loss)
        if batch.returned_builtin_loss is not None:
            counts = self._builtin[batch.training]
            counts[0] += 1
            counts[1] += batch.returned_builtin_loss
        if batch.training:
            hidden = bool(getattr(self.trainer.args, "logging_nan_inf_filter", False))
            masked = "; logging_nan_inf_filter=True replaces it in the logged 'loss', so the logs look fine"
            problem = non_finite_loss(
                "loss",
                value,
                context=f": compute_loss returned it at step {batch.step}" + (masked if hidden else ""),
                step=batch.step,
                source=self.method_location("compute_loss"),
            )
            if problem is not None:
                self.record(problem)
            return
        if self.options.loss is None or value is None:
            return
        try:
            declared = recompute_declared_loss(self.options.loss, batch.outputs, self._labels(batch))
        except DeclaredLossError:
            return  # loss-swap reports a declared loss that cannot run
        if declared is None:
            return
        self._eval_compared += 1
        if not same_loss(declared, value):
            self._eval_mismatches += 1
            self._eval_example = self._eval_example or (value, declared)

    # -- eval loss present and finite -----------------------------------------------------------
    def _after_evaluation(self, call: EvaluationCall) -> None:
        if call.kind is not RowKind.EVAL or call.prefix.startswith("test"):
            return
        key = f"{call.prefix}_loss"
        value = _reported_value(call, key)
        where = {"step": call.step, "source": self.method_location("evaluate")}
        if not call.crashed:
            self._check_best_metric(call)
        self._check_metrics_in_loop(call)
        if value is None and self._labels_left_out_on_purpose():
            return
        if value is None:
            # An evaluate() that crashed logged nothing: only causes in the setup itself can be told.
            diagnosis = self._setup_cause() if call.crashed else self._diagnose_missing(call, key)
            if diagnosis is not None:
                cause, fix, setup_fact = diagnosis
                evidence = {"setup_fact": True} if setup_fact else {}
                self.record(
                    missing_eval_loss(key, cause=f"at step {call.step}, {cause}", fix=fix, evidence=evidence, **where)
                )
            return
        problem = non_finite_loss(
            key,
            value,
            context=f" at step {call.step}; on transformers 5.x batches with a non-finite loss are dropped from the "
            "average, so this means every batch (or the only batch) was non-finite",
            **where,
        )
        if problem is not None:
            self.record(problem)

    def _labels_left_out_on_purpose(self) -> bool:
        columns = _column_names(self.trainer.eval_dataset)
        label_names = set(getattr(self.trainer, "label_names", None) or [])
        return self.options.eval_without_labels and columns is not None and not label_names & set(columns)

    def _check_metrics_in_loop(self, call: EvaluationCall) -> None:
        """QD207: a post-processing evaluate() (trainer_qa.py style) that leaves compute_metrics set while
        evaluation_loop runs: with labels in the batches the loop calls it on raw logits."""
        label_names = set(getattr(self.trainer, "label_names", None) or [])
        post_processes = getattr(self.trainer, "post_process_function", None) is not None
        if not (call.metrics_in_loop and post_processes and label_names and label_names <= call.input_keys_seen):
            return
        self.record(
            finding(
                "QD207",
                f"evaluate() at step {call.step} ran evaluation_loop with compute_metrics still set; with "
                f"{', '.join(sorted(label_names))} in the batches, transformers calls it on raw logits before "
                "your post-processing (a crash or meaningless metrics with a real metric function)",
                "set self.compute_metrics = None around the evaluation_loop call and restore it afterwards, as "
                "HF's trainer_qa.py does: `compute_metrics, self.compute_metrics = self.compute_metrics, None` ... "
                "`finally: self.compute_metrics = compute_metrics`",
                step=call.step,
                source=self.method_location("evaluate"),
            )
        )

    def _check_best_metric(self, call: EvaluationCall) -> None:
        """QD204: ``metric_for_best_model`` must be among the metrics this evaluation reported."""
        wanted = getattr(self.trainer.args, "metric_for_best_model", None)
        if not wanted or call.prefix != "eval":
            return
        key = wanted if wanted.startswith(f"{call.prefix}_") else f"{call.prefix}_{wanted}"
        reported = {name for row in call.logged for name in row} | set(call.returned or {})
        if key in reported:
            return
        available = ", ".join(sorted(name for name in reported if name.startswith(f"{call.prefix}_"))) or "none"
        self.record(
            finding(
                "QD204",
                f"metric_for_best_model={wanted!r} means {key!r}, which evaluate() at step {call.step} did not "
                f"report (it reported: {available}); load_best_model_at_end and early stopping cannot work, and "
                "transformers 5.x stops training with a KeyError the first time it compares checkpoints",
                f"set metric_for_best_model to one of the reported keys, or report {key!r} from evaluate() "
                "(with metric_key_prefix, see QD101)",
                key=key,
                step=call.step,
                source="TrainingArguments.metric_for_best_model",
                evidence={"setup_fact": True},  # the cause of the KeyError that may stop the run next
            )
        )

    def _diagnose_missing(self, call: EvaluationCall, key: str) -> tuple[str, str, bool]:
        """Why no eval loss was reported, in the order the data flows: ``(cause, fix, is a setup fact)``."""
        loop_loss = [(k, v) for m in call.loop_metrics for k, v in m.items() if k.endswith("_loss")]
        if loop_loss:
            name, value = loop_loss[-1]
            return (
                f"evaluation_loop computed {name}={value:.4g} but the overridden evaluate() did not log/return it "
                f"as {key!r}",
                "merge the loop's metrics into what you log and return: `metrics.update(output.metrics)` "
                "before `self.log(metrics)`",
                False,
            )
        setup = self._setup_cause()
        if setup is not None:
            return setup
        if not call.loop_metrics:
            return (
                "evaluate() never ran Trainer.evaluation_loop (a custom loop or prediction_loop computes no loss)",
                "call self.evaluation_loop(..., prediction_loss_only=None, metric_key_prefix=metric_key_prefix) "
                "inside your evaluate() and keep output.metrics",
                False,
            )
        label_names = list(getattr(self.trainer, "label_names", None) or [])
        if not set(label_names) <= call.input_keys_seen:
            return (
                f"the batches reached the model without {', '.join(sorted(set(label_names) - call.input_keys_seen))}"
                " (dropped by the data collator or remove_unused_columns)",
                "check that your data collator keeps the label columns and remove_unused_columns keeps them",
                False,
            )
        return (
            "the evaluation loop ran with labels but produced no loss (the model returned none)",
            "make the model's forward return a loss when labels are given",
            False,
        )

    def _setup_cause(self) -> tuple[str, str, bool] | None:
        """A cause visible in the trainer's setup alone (label names, dataset columns, forward arguments)."""
        label_names = list(getattr(self.trainer, "label_names", None) or [])
        columns = _column_names(self.trainer.eval_dataset)
        forward_args = _forward_arguments(self.trainer.model)
        if not label_names:
            return (
                f"label_names is empty, so prediction_step never computes a loss; transformers infers label "
                f"names from {type(self.trainer.model).__name__}.forward only for 'labels'-style arguments or "
                "class names containing 'QuestionAnswering'",
                "set TrainingArguments(label_names=['start_positions', 'end_positions']) (or your label columns)",
                True,
            )
        if columns is not None and not set(label_names) <= set(columns):
            missing = sorted(set(label_names) - set(columns))
            return (
                f"the evaluation dataset has no {', '.join(missing)} column(s) (it has: {', '.join(columns)})",
                "add the labels to your validation features, e.g. compute start_positions/end_positions in "
                "prepare_validation_features exactly as prepare_train_features does",
                True,
            )
        if forward_args is not None and not set(label_names) <= forward_args:
            unknown = sorted(set(label_names) - forward_args)
            return (
                f"{type(self.trainer.model).__name__}.forward has no argument {', '.join(unknown)}, so "
                "remove_unused_columns drops those columns before the model sees them",
                "name the forward() arguments after the label columns (or pass label_names matching them), or "
                "set remove_unused_columns=False and drop the other columns yourself",
                True,
            )
        return None

    # -- eval loss is the training objective ----------------------------------------------------
    def finalize(self) -> None:
        (train_batches, train_builtin), (eval_batches, eval_builtin) = self._builtin[True], self._builtin[False]
        all_builtin_in_eval = bool(eval_batches) and eval_builtin == eval_batches
        both_builtin = bool(train_batches) and train_builtin == train_batches and all_builtin_in_eval
        branch = self._training_branch()
        fix = (
            f"compute the same loss in training and evaluation: drop the model.training condition around your "
            f"loss in compute_loss{branch}"
            if branch is not None
            else "compute the loss in compute_loss (or pass compute_loss_func=) so that prediction_step uses the "
            "same objective as training"
        )
        if self.options.loss is None and train_batches and not train_builtin and all_builtin_in_eval:
            what = (
                f"compute_loss returned a loss of its own on all {train_batches} training batches but the model's "
                f"built-in loss on all {eval_batches} evaluation batches"
            )
        elif self._eval_mismatches and self._eval_example and not both_builtin:
            # Both returning the model's own loss is one objective: a declared loss differing from it is
            # loss-swap's finding (QD301), not an evaluation one.
            reported, declared = self._eval_example
            what = (
                f"on {self._eval_mismatches} of {self._eval_compared} evaluation batches the loss evaluate() "
                f"computed ({reported:.6g}) is not the declared loss on the same outputs ({declared:.6g})"
            )
        else:
            return
        self.record(
            finding(
                "QD203",
                f"{what}, so eval_loss and the training loss measure different objectives"
                + (" (compute_loss branches on model.training)" if branch else ""),
                fix,
                key="eval_loss",
                source=self.method_location("compute_loss"),
            )
        )

    def _training_branch(self) -> str | None:
        """`` (line N)`` where the trainer's compute_loss tests ``model.training``; None when it does not."""
        source = self.override_source("compute_loss")
        if source is None or ".training" not in source:
            return None
        offset = next(i for i, line in enumerate(source.splitlines()) if ".training" in line)
        location = self.method_location("compute_loss")
        file, _, first = location.rpartition(":")
        return f" ({file}:{int(first) + offset})" if first.isdigit() else ""


def _reported_value(call: EvaluationCall, key: str) -> Any:
    for row in reversed(call.logged):
        if key in row:
            return row[key]
    if call.returned and key in call.returned:
        return call.returned[key]
    return None


def _column_names(dataset: Any) -> list[str] | None:
    names = getattr(dataset, "column_names", None)
    if isinstance(names, dict):  # DatasetDict / dict of datasets
        return sorted({name for split in names.values() for name in split})
    return list(names) if names is not None else None


def _forward_arguments(model: Any) -> set[str] | None:
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}
