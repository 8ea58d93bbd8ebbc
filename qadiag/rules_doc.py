"""``qadiag rule CODE``: what each finding code means, why it matters, how to fix it, and an example.

One :class:`RuleDoc` per code of :data:`qadiag.findings.CODES` (a test checks that none is missing), written
from what the check that raises the code really detects. The SARIF format uses the same text for its rules'
help (:mod:`qadiag.formats.sarif`).

    qadiag rule QD201                      # one code
    qadiag rule --all                      # every code
    qadiag rule QD1 --output-format json   # a prefix selects all its codes, as --select does
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from qadiag.errors import QadiagError
from qadiag.findings import CODES


@dataclass(frozen=True)
class RuleDoc:
    what: str
    why: str
    fix: str
    example: str

    def as_text(self) -> str:
        return f"{self.what}\n\nWhy it matters: {self.why}\n\nFix: {self.fix}\n\nExample:\n{_indented(self.example)}"

    def as_markdown(self) -> str:
        return (
            f"{self.what}\n\n**Why it matters:** {self.why}\n\n**Fix:** {self.fix}\n\n"
            f"**Example:**\n\n```\n{self.example}\n```"
        )


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


RULE_DOCS: dict[str, RuleDoc] = {
    # -- setup ---------------------------------------------------------------------------------------
    "QD001": RuleDoc(
        "Your trainer factory (`[tool.qadiag] trainer_factory`) raised while qadiag built the trainer, or "
        "returned something that is not a `transformers.Trainer`. The finding points at your frame of the "
        "traceback; when the exception matches a transformers API removed or renamed between 4.x and 5.x it "
        "names the API, the version and the replacement.",
        "Every other check needs the trainer: they are reported as not run, and only this finding is shown.",
        "Fix the exception at the location shown. Build the Trainer with the parameters qadiag injects by name "
        "(`model`, `tokenizer`/`processing_class`, `args`, `train_dataset`, ...) and return it.",
        "def build_trainer(model, tokenizer, args, train_dataset):\n"
        "    return Trainer(model=model, args=args, tokenizer=tokenizer)  # TypeError on transformers 5.x\n"
        "# fix: Trainer(model=model, args=args, processing_class=tokenizer, train_dataset=train_dataset)",
    ),
    "QD002": RuleDoc(
        "Your preprocessing (`prepare_train_features` / `prepare_validation_features`) raised while qadiag "
        "built the tiny datasets with it.",
        "The same function builds your real datasets: it fails there too, or on the first example shaped like "
        "this one.",
        "Fix the exception at the location shown (your frames are in the traceback).",
        "def prepare_train_features(examples, tokenizer, max_seq_length):\n"
        '    answers = examples["answer"]   # KeyError: the column is "answers"',
    ),
    # -- log-keys ------------------------------------------------------------------------------------
    "QD101": RuleDoc(
        "A row of evaluation metrics (inferred from its keys: `exact_match`, `f1`, `accuracy`, ... or, live, "
        "logged inside `evaluate()`) has keys without the `eval_` prefix (`test_` for `predict()`). The W&B "
        "and TensorBoard callbacks file every key not starting with `eval_`/`test_` under `train/`, so "
        "`exact_match` shows as `train/exact_match`.",
        "Held-out metrics end up among the training curves: dashboards, sweeps and `metric_for_best_model` "
        "look for `eval/exact_match` and never find it. It usually comes from a custom `evaluate()` that "
        "post-processes predictions and calls `self.log(metrics)` without `metric_key_prefix`.",
        "In `evaluate()`, prefix every metric before `self.log()`: "
        "`metrics = {k if k.startswith(f'{metric_key_prefix}_') else f'{metric_key_prefix}_{k}': v for k, v in "
        "metrics.items()}`, as transformers' `evaluation_loop` does.",
        "metrics = compute_metrics(post_process(eval_examples, eval_dataset, output.predictions))\n"
        "self.log(metrics)   # {'exact_match': 71.2, 'f1': 80.4} -> train/exact_match, train/f1\n"
        "# fix: self.log({f'eval_{k}': v for k, v in metrics.items()})",
    ),
    "QD102": RuleDoc(
        "A key tries to say evaluation or test with a prefix the loggers do not recognise: `val_`, `valid_`, "
        "`dev_`, `eval-`, `eval/`, `eval.`, `Eval_`, `test-` ... Only the exact prefixes `eval_` and `test_` "
        "are rewritten to the `eval/` and `test/` sections.",
        "The metric is filed under `train/` (`val_f1` becomes `train/val_f1`) and `metric_for_best_model` "
        "or dashboards that expect `eval_f1` do not find it.",
        'Log it with the exact prefix: `eval_f1` (or `metric_key_prefix="eval"`, with an underscore).',
        'self.log({"val_f1": f1})        # filed as train/val_f1\n# fix: self.log({"eval_f1": f1})',
    ),
    "QD103": RuleDoc(
        "An evaluation row has some keys prefixed with `eval_` and others not: the prefix was applied to part "
        "of the metrics dict only (e.g. added by hand to one key, or the dict was merged after prefixing).",
        "The un-prefixed keys land in `train/` while their siblings are in `eval/`: the evaluation is split "
        "across two sections and the missing ones look absent.",
        "Prefix the whole dict after it is complete, in one place (see QD101).",
        'metrics = {"eval_exact_match": em}\nmetrics["f1"] = f1          # added after prefixing\nself.log(metrics)',
    ),
    "QD104": RuleDoc(
        "Two keys of one logged dict are filed under the same W&B/TensorBoard name (`eval_f1` and `eval/f1` "
        "both become `eval/f1`), or a key lands on `train/global_step`, which the W&B callback writes itself.",
        "One value overwrites the other in the logger; a metric named `global_step` replaces the Trainer's step "
        "axis in W&B.",
        "Give the metrics distinct names; rename a metric called `global_step`.",
        'self.log({"eval_f1": 0.8, "eval/f1": 0.7})   # both are eval/f1',
    ),
    "QD105": RuleDoc(
        "`evaluate()` returned a metric that none of the rows it logged carried (checked live, by the log-keys "
        "probe, after each evaluation).",
        "The metric is in the return value only: W&B, TensorBoard and trainer_state.json never see it, and "
        "`metric_for_best_model` cannot use it.",
        "Call `self.log(metrics)` with the full metrics dict before returning it.",
        "metrics = super().evaluate(...)\nmetrics.update(eval_exact_match=em)   # added after logging\nreturn metrics",
    ),
    "QD107": RuleDoc(
        "A logged metric's value is neither a number nor text: a dict, a list, a tensor with more than one "
        "element. (Media objects that W&B logs on purpose, such as tables, are not reported.)",
        "TensorBoard drops non-scalars and W&B stores them as an object, not a chart: the metric silently has "
        "no curve.",
        "Log a float: call `.item()` on tensors, pick one number out of lists and dicts.",
        'self.log({"eval_f1": {"macro": 0.7, "micro": 0.8}})\n# fix: self.log({"eval_f1_macro": 0.7, '
        '"eval_f1_micro": 0.8})',
    ),
    "QD108": RuleDoc(
        "A `compute_metrics` was given to the trainer, yet an evaluation reported none of its metrics: only the "
        "Trainer's own keys (`eval_loss`, `eval_runtime`, ...). Live, the log-keys probe names the cause: a "
        "Trainer subclass whose `__init__` takes `compute_metrics` and never passes it on to `super()`, or a "
        "custom `evaluate()` that post-processes predictions without calling `compute_metrics` on them.",
        "The run looks evaluated, but the task metric (exact match, F1, accuracy) was never computed: "
        "`metric_for_best_model` falls back to the loss, and the dashboards have no quality curve.",
        "Pass `compute_metrics` on to `super().__init__(...)`; in a custom `evaluate()`, call it on the "
        "post-processed predictions and merge the result, prefixed, into the metrics you log and return.",
        "class QATrainer(Trainer):\n"
        "    def __init__(self, *args, post_process_function=None, compute_metrics=None, **kwargs):\n"
        "        super().__init__(*args, **kwargs)   # compute_metrics is dropped here",
    ),
    # -- eval-loss -----------------------------------------------------------------------------------
    "QD201": RuleDoc(
        "An evaluation reported no `eval_loss`. Live, the probe names the cause: the evaluation batches carry "
        "no labels (QA validation features without `start_positions`/`end_positions`), `label_names` does not "
        "name them (transformers infers QA label names only for classes named `*QuestionAnswering*`), "
        "`remove_unused_columns` dropped them, or a custom `evaluate()` dropped `output.metrics`. Offline "
        "(audit-logs) every evaluation row of a step is looked at together, and the finding lists what was "
        "logged instead.",
        "Without eval loss you cannot see overfitting, `load_best_model_at_end` on the loss cannot work, and "
        "`prediction_step` computed no loss for a reason that usually also breaks other label-based logic.",
        "Give the validation features their label columns (start/end positions for QA), set `label_names` if "
        "the model's forward names them differently, keep label columns through `remove_unused_columns`, and "
        "keep `output.metrics` in a custom `evaluate()`.",
        "eval_dataset = validation.map(prepare_validation_features)   # no start_positions/end_positions\n"
        "trainer.evaluate()  # -> {'eval_runtime': ..., 'eval_exact_match': ...} but no eval_loss",
    ),
    "QD202": RuleDoc(
        "An evaluation loss (`eval_loss`, or `eval_<dataset>_loss`) is NaN or infinite.",
        "The evaluation is meaningless and so is any best-checkpoint choice made on it; it often means labels "
        "that point outside the sequence or fp16 overflow.",
        "Look for labels outside the input length, a learning rate that is too high, and fp16 overflow; "
        "evaluate in fp32 to confirm.",
        "eval_loss: NaN at step 200   # labels = 512 on features of length 384",
    ),
    "QD203": RuleDoc(
        "Live only: on evaluation batches, the loss `evaluate()` computed is not the declared loss "
        "(`[tool.qadiag] loss`) evaluated on the same model outputs.",
        "`eval_loss` and the training loss measure different objectives, so comparing them (overfitting, "
        "early stopping) compares unrelated numbers.",
        "Compute the loss in `compute_loss` (or pass `compute_loss_func=`) so that `prediction_step` uses the "
        "same objective as training.",
        "class MyTrainer(Trainer):\n    def training_step(self, model, inputs, num_items_in_batch=None):\n"
        "        ...  # custom loss here only: evaluation still uses the model's loss",
    ),
    "QD204": RuleDoc(
        "`metric_for_best_model` names a metric (with `eval_` added when missing) that no evaluation row holds. "
        "audit-logs reads the setting from W&B's config, TensorBoard's `args` text or MLflow's params.",
        "`load_best_model_at_end` and early stopping cannot compare checkpoints; transformers 5.x stops "
        "training with a KeyError the first time it does.",
        "Set `metric_for_best_model` to one of the evaluation keys, or log that metric from `evaluate()` with "
        "its prefix (see QD101).",
        'TrainingArguments(metric_for_best_model="f1", load_best_model_at_end=True)\n'
        "# evaluate() logs 'f1' un-prefixed: the rows hold eval_loss only, never eval_f1",
    ),
    "QD205": RuleDoc(
        "A training loss (`loss`, `train_loss`) is NaN or infinite: in a logged row, or (live) returned by "
        "`compute_loss` even when `logging_nan_inf_filter` hid it from the logs.",
        "The weights after a non-finite loss are garbage; every later metric is suspect.",
        "Look for labels outside the sequence, a learning rate that is too high and fp16 overflow; re-run with "
        "`logging_nan_inf_filter=False` to see every non-finite loss.",
        'log_history: {"loss": NaN, "step": 120}',
    ),
    "QD206": RuleDoc(
        "A loss that is NaN or infinite in one log source of a run is a finite number in another at the same "
        "step: `logging_nan_inf_filter=True` (the default) replaced it before it reached trainer_state.json "
        "(the W&B and TensorBoard callbacks may still get the raw value).",
        "The logs you look at say training was healthy when it was not.",
        "Train with `logging_nan_inf_filter=False` and find the batch that gives the non-finite loss.",
        "W&B train/loss at step 3: nan;  trainer_state.json loss at step 3: 0.69 (the filtered average)",
    ),
    "QD207": RuleDoc(
        "A custom `evaluate()` runs `evaluation_loop` with `compute_metrics` still set while the batches carry "
        "labels: transformers then calls `compute_metrics` on raw logits, before your post-processing.",
        "With a real metric function this crashes or gives meaningless numbers (the QA `compute_metrics` "
        "expects post-processed predictions, not logits).",
        "Unset it around the loop, as HF's `trainer_qa.py` does: `compute_metrics, self.compute_metrics = "
        "self.compute_metrics, None` ... `finally: self.compute_metrics = compute_metrics`.",
        "output = self.evaluation_loop(dataloader, 'Evaluation')   # compute_metrics(EvalPrediction(logits))",
    ),
    # -- loss-swap -----------------------------------------------------------------------------------
    "QD301": RuleDoc(
        "The loss that was backpropagated is not your declared loss (`[tool.qadiag] loss`) computed on the same "
        "model outputs, on some training batches; or the declared loss raised when called as "
        "`loss(outputs, labels, num_items_in_batch=...)`; or a `compute_loss_func` crashed inside training.",
        "You are optimising something else than you think: typically the model's built-in loss, because a "
        "`compute_loss` override only uses the custom loss under a condition that is never true.",
        "Make `compute_loss` return the declared loss on every batch (pop the labels unconditionally and pass "
        "them to your loss), or pass it as `compute_loss_func=`.",
        "def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):\n"
        "    if self.label_smoother is not None:   # never set: the custom loss never runs\n"
        "        labels = inputs.pop('labels') ...",
    ),
    "QD302": RuleDoc(
        "`compute_loss` is overridden but returned exactly the model's built-in loss on every training batch "
        "(no declared loss to compare with).",
        "If the override is meant to compute a custom loss, that code never runs.",
        "Check the condition guarding your custom loss; declare the intended loss (`loss=` / `[tool.qadiag] "
        "loss`) to have it verified (QD301).",
        "def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):\n"
        "    outputs = model(**inputs)\n    if 'labels' in inputs and self.custom:   # never true\n"
        "        return my_loss(outputs, inputs['labels'])\n    return outputs.loss",
    ),
    "QD303": RuleDoc(
        "After the first backward pass no trainable parameter has a non-zero gradient, or no trainable "
        "parameter changed over the optimizer steps.",
        "The loss that was backpropagated is not connected to the model (or the optimizer does not hold its "
        "parameters): training does nothing.",
        "Return a loss computed from the model outputs, without `.detach()`, `.item()`, `torch.no_grad()` or "
        "rebuilding it with `torch.tensor(...)`; check that the optimizer holds the model's parameters.",
        "loss = torch.tensor(my_loss(outputs, labels).item(), requires_grad=True)   # no path to the weights",
    ),
    "QD304": RuleDoc(
        "An override of `compute_loss` or `training_step` does not accept `num_items_in_batch`, which "
        "transformers >= 4.46 passes on every training step (found from the signature, or from the TypeError).",
        "`train()` raises TypeError on the first step.",
        "Add `num_items_in_batch=None` to the signature and pass it on to `super()`.",
        "def compute_loss(self, model, inputs, return_outputs=False):   # TypeError on >= 4.46\n"
        "# fix: def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):",
    ),
    "QD305": RuleDoc(
        "An override of `log` does not accept `start_time`, which transformers >= 4.47 passes when it logs "
        "training metrics.",
        "`train()` raises TypeError at the first logging step.",
        "Declare `def log(self, logs, start_time=None)` and call `super().log(logs, start_time)`.",
        "def log(self, logs):\n    super().log(logs)",
    ),
    "QD306": RuleDoc(
        "`training_step` returned something other than the loss tensor (a tuple of loss and outputs, a dict...).",
        "The Trainer adds the return value to its running loss and checks it for NaN: it crashes or logs nonsense.",
        "Return only `loss.detach()` from `training_step`; capture outputs elsewhere (qadiag's output-capture "
        "probe shows samples without rewriting it).",
        "def training_step(self, model, inputs, num_items_in_batch=None):\n    ...\n    return loss, outputs",
    ),
    "QD307": RuleDoc(
        "On the same samples at learning rate 0, the logged loss with `gradient_accumulation_steps=k` differs "
        "from the loss with 1 (the gradient-accumulation experiment).",
        "Gradients scale the same way: changing the accumulation changes the effective learning rate. On "
        "transformers 5.x a model whose `forward` takes `**kwargs` is assumed to normalise its loss by "
        "`num_items_in_batch`, and the Trainer skips its own division.",
        "Give `forward()` explicit arguments, set `model.accepts_loss_kwargs = False`, or normalise the loss by "
        "`num_items_in_batch` yourself.",
        "loss 1.09 with gradient_accumulation_steps=1, 2.19 with 2, learning rate 0",
    ),
    "QD308": RuleDoc(
        "Training (or evaluation) crashed inside your trainer code, for a cause none of the specific codes "
        "covers. The finding points at your innermost frame and names the API change when the exception "
        "matches one between transformers 4.x and 5.x.",
        "The run stops; other checks that depend on it are reported as not run.",
        "Fix the exception at the location shown (your frames are in the traceback).",
        "def evaluate(self, ...):\n    output = self.prediction_loop(...)   # removed in transformers 5.x",
    ),
    "QD309": RuleDoc(
        "Several processes were launched (`torchrun`, `accelerate launch`) but the Trainer's world size is 1: "
        "every process trains its own copy of the model on all the data.",
        "No gradient is averaged across processes: N times the compute for one model's worth of training, and "
        "N processes overwriting the same output dir.",
        "On a machine without a GPU pass `use_cpu=True` so that transformers sets up DDP over gloo; otherwise "
        "create `TrainingArguments` after the launcher started the processes.",
        "torchrun --nproc_per_node 2 train.py   # each rank logs world_size 1",
    ),
    "QD310": RuleDoc(
        "A training setting that is set but never takes effect: `label_smoothing_factor` while the loss "
        "optimized on every training batch is the model's own, unsmoothed one (the Trainer's label smoother "
        "only runs on batches with a `labels` key, and QA batches carry `start_positions`/`end_positions`), or "
        "`eval_steps` with `eval_strategy='no'`.",
        "The setting looks active in the arguments and changes nothing: the run is not the one you configured.",
        "Apply label smoothing where the loss is computed (override `compute_loss` and use "
        "`cross_entropy(..., label_smoothing=...)` on the start and end logits, as qadiag's QA trainer does); "
        "set `eval_strategy='steps'` with `eval_steps`.",
        "TrainingArguments(label_smoothing_factor=0.1)   # QA batches: start_positions/end_positions, no labels\n"
        "TrainingArguments(eval_steps=50)                # eval_strategy defaults to 'no'",
    ),
    "QD311": RuleDoc(
        "A static scan of your trainer and factory modules found a transformers API that a supported line "
        "(4.46 to 5.x) removed or changed: an error when the installed version no longer has it, a warning "
        "when another supported line does not.",
        "The code breaks on the other transformers line, usually with a TypeError or AttributeError far from "
        "the cause.",
        "Use the replacement the finding names (e.g. `processing_class=` for `tokenizer=`, `eval_strategy` for "
        "`evaluation_strategy`).",
        "TrainingArguments(evaluation_strategy='steps')   # renamed eval_strategy; removed in 5.x",
    ),
    # -- output-capture ------------------------------------------------------------------------------
    "QD401": RuleDoc(
        "The model outputs captured during training have no `start_logits`/`end_logits` (QA) or `logits` "
        "(classification).",
        "Samples cannot be decoded, and post-processing that looks for these names fails the same way.",
        "Return a `ModelOutput` (or a dict) with `start_logits` and `end_logits` for QA, `logits` for "
        "classification; a bare tuple loses the names.",
        "def forward(self, input_ids, attention_mask=None):\n    return start, end   # a tuple",
    ),
    "QD402": RuleDoc(
        "The gold span of a captured sample (its start/end positions decoded with the tokenizer) is not the "
        "example's answer text.",
        "The model is trained towards the wrong tokens: accuracy on the real answers cannot rise.",
        "Compute start/end positions from the offset mapping of the context tokens "
        "(`qadiag.tasks.qa.features.answer_token_span`); run the alignment check on every feature (QD5xx).",
        "answer 'Denver Broncos', gold span decodes to 'the Denver' (positions taken before the question "
        "tokens were counted)",
    ),
    "QD403": RuleDoc(
        "After training for a few dozen steps on the same few features, exact match on those features did not "
        "improve (the overfit experiment).",
        "A model that cannot memorise a handful of examples is not learning from this loss: the loss, the "
        "labels or the optimizer is wrong.",
        "Check that the optimized loss is computed from the model outputs and the right labels (QD301), that "
        "the optimizer updates the model (QD303), and that labels point at the answers (QD5xx).",
        "exact match on 8 training features: 0% before, 0% after 30 steps",
    ),
    "QD404": RuleDoc(
        "No sample predictions were captured during training: the trainer has no `processing_class` to decode "
        "them with, or the capture interval is longer than the run.",
        "You cannot see what the model predicts during training, which is how decoding and label bugs show.",
        "Pass `processing_class=tokenizer` to your Trainer (or `tokenizer=` to `qadiag.attach()`); lower "
        "`capture_every` below the number of steps.",
        "capture_every=100 on a run of 40 steps",
    ),
    "QD405": RuleDoc(
        "Your own sample decoder (`[tool.qadiag] decode`) gives another span than the reference decoding and "
        "than the textbook one (argmax of `start_logits` to argmax of `end_logits`); when it gives the start "
        "token alone, the end index was taken from `start_logits`.",
        "The samples you read during training are not what the model predicts.",
        "Take the start index from `start_logits` and the end index from `end_logits`, only among context "
        "tokens, with end >= start and a maximum answer length; skip special and padding tokens.",
        "end = outputs.start_logits.argmax(-1)   # should be end_logits",
    ),
    # -- alignment -----------------------------------------------------------------------------------
    "QD501": RuleDoc(
        "The start/end positions your preprocessing gives a feature do not cover the answer text (checked for "
        "every feature against the offset mapping). Repeats are one finding with the pattern: "
        '"20/20 features: labels end 1 token late".',
        "The model learns to predict the wrong span: an off-by-one here caps exact match.",
        "Map the answer's character span to tokens with the offset mapping, restricted to the context "
        "(`sequence_ids == 1` when the question comes first).",
        "end_position = token_end_index      # one token late: the loop overshoots by one\n"
        "# fix: walk back while offsets[token_end_index][1] >= end_char, then + 1",
    ),
    "QD502": RuleDoc(
        "The answer is not inside this feature's window (a long context split with `doc_stride`), but the "
        "labels do not point at the CLS token.",
        "The model is taught that an answer exists in a window that does not hold it.",
        "Label such features with the CLS index for both start and end, as run_qa.py does "
        "(`if not (offsets[start] <= start_char and offsets[end] >= end_char)`).",
        "window 2 of a 900-token context: answer in window 1, labels 17-19 instead of 0-0",
    ),
    "QD503": RuleDoc(
        "A feature's end position is before its start position.",
        "The span is empty: the loss pushes the model towards an impossible answer.",
        "Compute the end token by walking back from the end of the context to the answer's last character.",
        "start_positions=42, end_positions=41",
    ),
    "QD504": RuleDoc(
        "Your preprocessing raised on an example, or dropped it (no feature came out) during the alignment check.",
        "That example, and every one like it, is missing from training or crashes the real run.",
        "Fix the exception shown, or handle the example's shape (empty answers, long contexts).",
        "an example with answers = {'text': [], 'answer_start': []} raises IndexError",
    ),
    # -- consistency ---------------------------------------------------------------------------------
    "QD601": RuleDoc(
        "Within one log source the global step goes back (audit-logs): a row's step is lower than the step of "
        "the row before it. Each drop is one occurrence: a run restarted from scratch, or resumed from an "
        "older checkpoint, into the same logger run or output dir.",
        "The source holds two histories for the same steps; curves overlap and comparisons pick either.",
        "Audit each attempt separately (one output dir and logger run per attempt), or resume with "
        "`resume_from_checkpoint` set to the latest checkpoint so the history continues.",
        "TensorBoard events: steps 1 ... 600, then 300, 301, ...   # resumed from checkpoint-300",
    ),
    "QD602": RuleDoc(
        "`loss` or `eval_loss` at the same step has different values in two log sources of one run (compared "
        "at float32 precision, each source against the first one in the registry order: trainer_state.json, "
        "W&B, TensorBoard, MLflow).",
        "The two logs are not of the same training: a restarted run logging into an old W&B/TensorBoard run, "
        "two trainings sharing one output dir, or a callback that rewrites values.",
        "Check that both logs come from the same run and that no callback rewrites the value.",
        "loss at step 4 is 9.0 in W&B but 0.25 in trainer_state.json",
    ),
    "QD603": RuleDoc(
        "An evaluation logged in one source of a run is missing from another source that covers that step.",
        "An eval row that reached one logger but not another was dropped on the way; the second log's "
        "evaluation curve has a silent gap.",
        "Check for a value the logger rejects (non-numbers in W&B, TensorBoard or MLflow) or a callback that "
        "filters rows.",
        "trainer_state.json evaluates at steps 2, 4, 6; W&B has 2 and 6",
    ),
    # -- readers -------------------------------------------------------------------------------------
    "QD901": RuleDoc(
        "A log file or a directory cannot be read: permission denied, a directory where a file should be, "
        "storage errors.",
        "What it holds is not audited; the rest of the audit goes on.",
        "Make it readable for this user (`chmod u+r`), or run the audit as its owner; check the storage.",
        "runs/qa/trainer_state.json: cannot read the file: Permission denied",
    ),
    "QD902": RuleDoc(
        "A log file ends inside a record (a chunk of a `.wandb`, a TensorBoard record, a row of "
        "trainer_state.json): the run was probably killed while writing it. Everything before the cut was "
        "read.",
        "The last rows of the run are missing from this source; other sources may have them.",
        "Nothing to fix if the run crashed; if it finished, the file was cut short (disk full, interrupted "
        "copy): copy it again from the machine that ran it.",
        "run-abc.wandb: the file ends inside a chunk at byte 1048583",
    ),
    "QD903": RuleDoc(
        "A record's checksum does not match, or its framing is wrong (a continuation chunk without its start, "
        "a bad MLflow metric line). Reading resumes at the next intact record (the next 32 KiB block of a "
        "`.wandb`).",
        "The bytes were damaged after they were written; the damaged records are not audited.",
        "Copy the file again from the machine that ran it; the records around the damage were still read.",
        "events.out.tfevents.1700000000.host: event checksum mismatch at byte 20480",
    ),
    "QD904": RuleDoc(
        "trainer_state.json (or wandb-summary.json, or TensorBoard's `args` text) is not valid JSON where a "
        "value was expected; the damaged row is skipped.",
        "The file was written by something other than the Trainer or edited by hand; rows may be missing.",
        "Restore it from a checkpoint copy (`checkpoint-*/trainer_state.json` holds the history up to that step).",
        "trainer_state.json: log_history[12]: Expecting ',' delimiter at byte 4096",
    ),
    "QD905": RuleDoc(
        "A record claims a length larger than can be there (more than its 32 KiB block, more than 64 MiB); it "
        "is not read into memory.",
        "The length field is damaged (or crafted): trusting it would read garbage or exhaust memory.",
        "Copy the file again from the machine that ran it.",
        "run-abc.wandb: a chunk at byte 98304 claims 65,535 bytes, more than the 32,761 that can be there",
    ),
    "QD906": RuleDoc(
        "An unknown file version or record type, a record that passes its checksum but does not decode, or a "
        "database audit-logs does not query (not MLflow's, a view where a table should be).",
        "Part of the file was read as the known version or not at all.",
        "Upgrade qadiag if a newer logger changed the format; otherwise point the audit at the files the "
        "logger itself wrote.",
        "run-abc.wandb: unknown .wandb header b':W&B\\xe1\\xbe\\x09'",
    ),
    "QD907": RuleDoc(
        "A log file is empty (a run killed at once, or a copy that lost the content).",
        "There is nothing to audit in it; if the run did train, its logs are elsewhere or lost.",
        "If the run trained, copy the file again; otherwise remove it.",
        "wandb/offline-run-20260101_000000-abc/run-abc.wandb: the file is empty",
    ),
    "QD908": RuleDoc(
        "A file is not in the format its name says (a PNG named `run-x.wandb`, text named `mlflow.db`).",
        "It cannot be audited; a renamed or overwritten log is lost.",
        "Point the audit at the run directory as the logger wrote it.",
        "run-x.wandb: this is not a W&B transaction log (.wandb): it starts with b'\\x89PNG'",
    ),
    "QD909": RuleDoc(
        "A symbolic link or a special file (FIFO, socket, device) stands where a log is expected. audit-logs "
        "never follows links and never opens special files in a run directory, so it was not read.",
        "Run directories are untrusted input in CI: a link could make the audit print another file's content, "
        "a FIFO could block it.",
        "Keep the logs themselves in the run directory; if they live elsewhere, pass that directory to audit-logs.",
        "out/trainer_state.json -> /etc/shadow   # reported, never read",
    ),
    "QD910": RuleDoc(
        "qadiag itself failed while reading this file (a bug in a reader). The rest of the file was not "
        "audited; the other files were.",
        "The file may hold problems the audit could not see.",
        "Report it (with the message and `qadiag --version`) so that the reader can be fixed.",
        "trainer_state.json: qadiag could not read this file: internal error (ValueError: ...)",
    ),
    "QD911": RuleDoc(
        "A limit on the work per input was reached: JSON nested deeper than the decoder goes, directories "
        "nested more than 64 levels, more than 10,000 MLflow metric files, a sqlite query past its budget, a "
        "value longer than 1 MiB. The rest of that input was not read.",
        "No logger writes such input: the file was crafted or damaged, and reading it all could take unbounded "
        "time or memory.",
        "Re-create the logs by re-running, or pass the deeper directory that holds them to audit-logs itself.",
        "trainer_state.json: log_history[3] is JSON nested deeper than qadiag decodes; skipped it, read on",
    ),
    "QD912": RuleDoc(
        "A value cannot be what the format says: a step that is not a whole number (`1.5`, `NaN`, text), a "
        "metric value that is not a number in MLflow's database, a timestamp outside 64 bits.",
        "The row is read without a step (or skipped): step-based rules cannot place it.",
        "Fix the value, or ignore QD912 if the rest of the audit is enough: every logger writes whole steps.",
        'log_history: {"loss": 0.5, "step": 1.5}',
    ),
}


def explain(code: str) -> dict[str, str]:
    """The code's doc as a dict (``code``, ``title``, ``area``, ``severity``, ``what``, ``why``, ``fix``,
    ``example``)."""
    registered, doc = CODES[code], RULE_DOCS[code]
    return {
        "code": code,
        "title": registered.title,
        "area": registered.area,
        "severity": registered.severity.value,
        "what": doc.what,
        "why": doc.why,
        "fix": doc.fix,
        "example": doc.example,
    }


def as_text(code: str) -> str:
    registered = CODES[code]
    return f"{code} ({registered.area}, {registered.severity.value}): {registered.title}\n\n{RULE_DOCS[code].as_text()}"


def codes_for(selectors: Sequence[str]) -> list[str]:
    """The codes each selector names: a code, or a prefix as ``--select`` takes it (``QD1``)."""
    chosen: list[str] = []
    for selector in selectors:
        wanted = selector.strip().upper()
        found = [code for code in CODES if code.startswith(wanted)] if wanted else []
        if not found:
            raise QadiagError(
                f"no finding code matches {selector!r}",
                fix=f"codes run from {min(CODES)} to {max(CODES)}: `qadiag rule --all` lists them",
            )
        chosen.extend(code for code in found if code not in chosen)
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qadiag rule", description="Explain finding codes: what each means, why it matters, the fix, an example."
    )
    parser.add_argument("codes", nargs="*", metavar="CODE", help="a code (QD201) or a prefix (QD2)")
    parser.add_argument("--all", action="store_true", help="every code")
    parser.add_argument(
        "--output-format", "--format", choices=("text", "json"), default="text", help="text (default) or json"
    )
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    if args.all == bool(args.codes):
        parser.print_usage(sys.stderr)
        print("qadiag rule: error: give one or more codes, or --all", file=sys.stderr)
        return 2
    codes = list(CODES) if args.all else codes_for(args.codes)
    if args.output_format == "json":
        docs = [explain(code) for code in codes]
        print(json.dumps(docs if args.all or len(docs) > 1 else docs[0], indent=2))
    else:
        print("\n\n".join(as_text(code) for code in codes))
    return 0
