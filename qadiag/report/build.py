"""A read run dir -> the report document: what each section says, shows and counts.

Sections, in order (the HTML and the Markdown both have all of them, with a sentence saying why
when there is nothing to show): summary, losses, evaluation metrics, learning rate, findings,
samples, run facts, inputs read.
"""

from __future__ import annotations

from qadiag import __version__
from qadiag.report import curves as c
from qadiag.report.document import (
    Block,
    Document,
    FindingCard,
    Heading,
    Line,
    Mark,
    Paragraph,
    Plot,
    Preformatted,
    Section,
    Table,
)
from qadiag.report.probe_report import PROBE_REPORT_FILE, Crash
from qadiag.report.rundir import STATE_FILE, RunDir
from qadiag.report.samples import SAMPLES_FILE, StepSamples
from qadiag.report.text import number, step

SECTIONS = (
    ("summary", "Summary"),
    ("losses", "Losses"),
    ("metrics", "Evaluation metrics"),
    ("learning-rate", "Learning rate"),
    ("findings", "Findings"),
    ("samples", "Samples"),
    ("facts", "Run facts"),
    ("inputs", "Inputs read"),
)
KEY_POINTS = 12
PLOT_POINTS = 1500
_NO_CURVES = "no curves (the Trainer writes it when it saves a checkpoint and at the end of train())"
_NO_FINDINGS = "no probe findings (qadiag train writes it; pytest --qadiag --qadiag-report DIR writes it into DIR)"
_NO_SAMPLES = "no sample predictions (the output-capture probe writes them every --capture_every steps)"


def build_document(run: RunDir) -> Document:
    curves = c.curves_from_history(run.history)
    blocks = {
        "summary": _summary(run, curves),
        "losses": _losses(run, curves),
        "metrics": _metrics(run, curves),
        "learning-rate": _learning_rate(run, curves),
        "findings": _findings(run),
        "samples": _samples(run),
        "facts": _facts(run),
        "inputs": _inputs(run),
    }
    subtitle = " · ".join(part for part in (str(run.path), run.task) if part)
    return Document(
        title=f"qadiag report: {run.path.name}",
        subtitle=subtitle,
        sections=[Section(key, title, blocks[key]) for key, title in SECTIONS],
    )


# -- summary ---------------------------------------------------------------------------------------
def _summary(run: RunDir, curves: c.Curves) -> list[Block]:
    """What to look at first (what went wrong, then how the curves went), each said again in its section."""
    blocks: list[Block] = []
    if run.probe_report is not None and run.probe_report.crash is not None:
        blocks.append(_crash(run.probe_report.crash))
    blocks.extend(_overfitting(curves))
    for series in (curves.train_loss, curves.eval_loss):
        if series is not None and series.non_finite_steps:
            blocks.append(Paragraph(c.non_finite_sentence(series), "alert"))
    blocks.extend(_no_eval_loss(curves))
    blocks.extend(_unprefixed(curves))
    if curves.train_loss is not None:
        blocks.append(Paragraph(c.train_loss_sentence(curves.train_loss)))
    blocks.extend(Paragraph(c.metric_sentence(series)) for series in curves.eval_metrics)
    blocks.append(_findings_summary(run, " See Findings."))
    if run.samples is not None and run.samples.counts:
        last_step = max(run.samples.counts)
        total, correct = run.samples.counts[last_step]
        blocks.append(Paragraph(f"At the last capture step ({last_step}), {correct} of {total} samples were "
                                "predicted correctly."))
    if run.notes:
        blocks.append(Paragraph(f"{len(run.notes)} problem(s) with the input files: see Inputs read.", "alert"))
    if not run.history:
        blocks.append(_missing(run, STATE_FILE, _NO_CURVES))
    return blocks


def _crash(crash: Crash) -> Paragraph:
    where = f" at {crash.location}" if crash.location else ""
    return Paragraph(f"The run crashed: {crash.code} {crash.message}{where}.", "alert")


def _overfitting(curves: c.Curves) -> list[Block]:
    sentence = c.overfitting_sentence(curves)
    return [Paragraph(sentence, "alert")] if sentence else []


def _no_eval_loss(curves: c.Curves) -> list[Block]:
    if curves.eval_loss is not None or not curves.eval_metrics:
        return []
    return [Paragraph("The evaluation rows carry no eval_loss, so the held-out loss cannot be compared with the "
                      "training loss: see the eval-loss probe (QD201).", "alert")]


def _unprefixed(curves: c.Curves) -> list[Block]:
    if not curves.unprefixed_keys:
        return []
    return [Paragraph(
        "Logged in rows of their own without the eval_ prefix, so W&B and TensorBoard file them under train/: "
        f"{', '.join(curves.unprefixed_keys)}. If they are evaluation metrics, see the log-keys probe (QD101).",
        "alert")]


def _missing(run: RunDir, name: str, consequence: str) -> Paragraph:
    status = run.status(name)
    if status == "left out":
        return Paragraph(f"{name} could not be used (see Inputs read): {consequence}.", "alert")
    if status != "not there":
        return Paragraph(f"{name} holds nothing to show yet: {consequence}.")
    return Paragraph(f"No {name} in the run dir: {consequence}.")


def _findings_summary(run: RunDir, pointer: str = "") -> Paragraph:
    report = run.probe_report
    if report is None:
        return _missing(run, PROBE_REPORT_FILE, _NO_FINDINGS)
    counts = report.severity_counts()
    if not report.findings:
        if report.problems:
            return Paragraph(f"No findings could be read: {PROBE_REPORT_FILE} has problems (see Inputs read).", "alert")
        probes = ", ".join(report.probes) or "none recorded"
        return Paragraph(f"No findings (probes: {probes}).", "good")
    tone = "alert" if counts["error"] else ""
    return Paragraph(f"{len(report.findings)} finding(s): {counts['error']} error(s), {counts['warning']} "
                     f"warning(s), {counts['info']} info.{pointer}", tone)


# -- curves ----------------------------------------------------------------------------------------
def _key_points_table(series_list: list[c.Series], limit: int, *, mark_best: bool = True) -> Table:
    """Steps x series at the key steps (best, first, last and evenly spaced), best values marked."""
    steps = sorted({at for series in series_list for at, _ in series.points})
    bests = {series.key: series.best() for series in series_list}
    shown = c.key_steps(steps, [best[0] for best in bests.values() if best], limit)
    values = {series.key: dict(series.points) for series in series_list}
    rows = []
    for at in shown:
        row = [step(at)]
        for series in series_list:
            value = values[series.key].get(at)
            best = bests[series.key]
            cell = "" if value is None else number(value)
            if mark_best and value is not None and best is not None and best[0] == at:
                cell += " (best)"
            row.append(cell)
        rows.append(tuple(row))
    return Table(("step", *(series.key for series in series_list)), rows, plot_data=True)


def _best_mark(series: c.Series) -> tuple[Mark, ...]:
    best = series.best()
    if best is None:
        return ()
    extreme = "lowest" if series.lower_is_better else "highest"
    return (Mark(best[0], best[1], f"{extreme}: {number(best[1])} at step {step(best[0])}"),)


def _losses(run: RunDir, curves: c.Curves) -> list[Block]:
    if not run.history:
        return [_missing(run, STATE_FILE, _NO_CURVES)]
    train, evaluation = curves.train_loss, curves.eval_loss
    blocks: list[Block] = []
    if train is not None:
        blocks.append(Paragraph(c.train_loss_sentence(train)))
    else:
        blocks.append(Paragraph("No training loss was logged (no log_history row has 'loss').", "alert"))
    if evaluation is not None:
        blocks.append(Paragraph(c.metric_sentence(evaluation)))
    elif not curves.eval_metrics:
        blocks.append(Paragraph("No evaluation was logged (set --eval_strategy steps or epoch to see eval_loss)."))
    blocks.extend(_no_eval_loss(curves))
    blocks.extend(_overfitting(curves))
    lines = [Line("train loss", c.thinned(train, PLOT_POINTS))] if train is not None else []
    if evaluation is not None:
        lines.append(Line("eval loss", evaluation, "--"))
    if lines:
        marks = _best_mark(evaluation) if evaluation is not None else ()
        blocks.append(Plot("losses", "Training and evaluation loss", "loss", tuple(lines), marks))
        blocks.append(_key_points_table([line.series for line in lines], KEY_POINTS))
    return blocks


def _metrics(run: RunDir, curves: c.Curves) -> list[Block]:
    if not run.history:
        return [_missing(run, STATE_FILE, _NO_CURVES)]
    blocks: list[Block] = []
    if not curves.eval_metrics:
        blocks.append(Paragraph("No evaluation metrics (eval_* keys) were logged."))
    for index, series in enumerate(curves.eval_metrics):
        blocks.append(Plot(f"metric-{index}", series.key, series.key, (Line(series.key, series),),
                           _best_mark(series), caption=c.metric_sentence(series), small=True))
    if curves.eval_metrics:
        blocks.append(_key_points_table(curves.eval_metrics, KEY_POINTS))
    if curves.metrics_not_plotted:
        listed = curves.metrics_not_plotted[: c.MAX_KEYS_LISTED]
        more = len(curves.metrics_not_plotted) - len(listed)
        blocks.append(Paragraph(f"Not plotted ({c.MAX_METRICS} metrics at most): {', '.join(listed)}"
                                + (f" and {more} more." if more else ".")))
    blocks.extend(_unprefixed(curves))
    if curves.rows_without_step:
        blocks.append(Paragraph(f"{curves.rows_without_step} log_history row(s) without a numeric step were left "
                                "out."))
    if curves.steps_logged_twice:
        blocks.append(Paragraph(f"{curves.steps_logged_twice} value(s) were logged twice for the same step (a run "
                                "resumed from a checkpoint?); the later ones are shown."))
    return blocks


def _learning_rate(run: RunDir, curves: c.Curves) -> list[Block]:
    if not run.history:
        return [_missing(run, STATE_FILE, _NO_CURVES)]
    series = curves.learning_rate
    if series is None:
        return [Paragraph("No learning rate was logged (no training row has 'learning_rate').")]
    line = Line("learning rate", c.thinned(series, PLOT_POINTS))
    return [
        Paragraph(c.learning_rate_sentence(series)),
        Plot("learning-rate", "Learning rate", "learning rate", (line,)),
        _key_points_table([series], 8, mark_best=False),
    ]


# -- findings --------------------------------------------------------------------------------------
def _findings(run: RunDir) -> list[Block]:
    report = run.probe_report
    if report is None:
        return [_missing(run, PROBE_REPORT_FILE, _NO_FINDINGS)]
    blocks: list[Block] = []
    if report.crash is not None:
        blocks.append(_crash(report.crash))
        if report.crash.traceback:
            blocks.append(Preformatted(report.crash.traceback))
    blocks.append(_findings_summary(run))
    for probe, items in report.by_probe().items():
        occurrences = sum(item.count for item in items)
        blocks.append(Heading(f"{probe}: {len(items)} finding(s), {occurrences} occurrence(s)"))
        blocks.extend(FindingCard(item) for item in items)
    if report.findings_left_out:
        blocks.append(Paragraph(f"{report.findings_left_out} more finding(s) are not shown; qadiag_report.json "
                                "has them all."))
    return blocks


# -- samples ---------------------------------------------------------------------------------------
def _samples(run: RunDir) -> list[Block]:
    samples = run.samples
    if samples is None:
        return [_missing(run, SAMPLES_FILE, _NO_SAMPLES)]
    if not samples.counts:
        return [Paragraph("samples.jsonl holds no usable sample record yet.", "alert" if samples.problems else "")]
    share = 100 * samples.correct / samples.total
    blocks: list[Block] = [Paragraph(
        f"{samples.total} samples at {len(samples.counts)} capture steps; {samples.correct} predicted correctly "
        f"({share:.0f} %). Correct means: QA, the prediction equals the gold span ignoring case and whitespace; "
        "pair classification, the labels are equal. An empty gold span means the answer is not in that "
        "feature's window.")]
    steps = sorted(samples.counts)
    if len(steps) > 1:
        accuracy = c.Series("share correct", tuple((at, samples.counts[at][1] / samples.counts[at][0])
                                                   for at in steps))
        blocks.append(Plot("sample-accuracy", "Share of captured samples predicted correctly", "share correct",
                           (Line("share correct", c.thinned(accuracy, PLOT_POINTS)),)))
        shown = c.key_steps(steps, [], KEY_POINTS)
        blocks.append(Table(("step", "correct", "samples"),
                            [(step(at), str(samples.counts[at][1]), str(samples.counts[at][0])) for at in shown],
                            plot_data=True))
    for kept in samples.first:
        blocks.extend(_step_blocks(kept))
    steps_not_shown, samples_not_shown = samples.not_shown
    if steps_not_shown:
        blocks.append(Paragraph(f"{steps_not_shown} more capture step(s) ({samples_not_shown} samples) are not shown "
                                "here; samples.jsonl has them all."))
    for kept in samples.last:
        blocks.extend(_step_blocks(kept))
    return blocks


def _step_blocks(kept: StepSamples) -> list[Block]:
    tasks = {sample.task for sample in kept.shown}
    given = "question" if tasks == {"qa"} else "sentence pair" if tasks == {"pair-classification"} else "input"
    columns = ("#", given, "prediction", "gold", "correct")
    rows = [(sample.index, sample.input, sample.prediction, sample.gold, "✓" if sample.correct else "✗")
            for sample in kept.shown]
    if any(sample.note for sample in kept.shown):
        columns += ("note",)
        rows = [(*row, sample.note) for row, sample in zip(rows, kept.shown)]
    blocks: list[Block] = [
        Heading(f"Step {kept.step}: {kept.correct} of {kept.total} correct"),
        Table(columns, rows, verdict_column=4),
    ]
    if kept.total > len(kept.shown):
        blocks.append(Paragraph(f"{kept.total - len(kept.shown)} more samples at this step are not shown."))
    return blocks


# -- facts and inputs ------------------------------------------------------------------------------
def _pairs(data: dict[str, str]) -> Table:
    return Table(("name", "value"), list(data.items()))


def _facts(run: RunDir) -> list[Block]:
    report = run.probe_report
    facts = {"run dir": str(run.path), "task": run.task or "not recorded"}
    if report is not None:
        facts["written by"] = report.generated_by or "not recorded"
        facts["probes"] = ", ".join(report.probes) or "none recorded"
        if report.run_dir and report.run_dir != str(run.path):
            facts["run dir when written"] = report.run_dir
    for key in ("global_step", "epoch", "max_steps", "num_train_epochs", "best_metric", "best_global_step",
                "best_model_checkpoint"):
        if key in run.state_facts:
            facts[key] = run.state_facts[key]
    facts["report made by"] = f"qadiag {__version__}"
    blocks: list[Block] = [Heading("Run"), _pairs(facts), Heading("Versions")]
    if report is not None and report.versions:
        blocks.append(_pairs(report.versions))
    else:
        blocks.append(Paragraph("Not recorded (qadiag_report.json schema version 1 records them)."))
    blocks.append(Heading("Settings"))
    if report is not None and report.settings:
        blocks.append(_pairs(report.settings))
    else:
        blocks.append(Paragraph("Not recorded (qadiag_report.json schema version 1 records the training arguments "
                                "that matter)."))
    blocks.append(Heading("Final metrics"))
    blocks.append(_pairs(run.results) if run.results else Paragraph("No all_results.json or eval_results.json."))
    blocks.append(Heading("Outputs: predictions, W&B, TensorBoard"))
    if run.outputs:
        blocks.append(Table(("what", "where", "detail"), list(run.outputs)))
    else:
        blocks.append(Paragraph("No predictions file, W&B run or TensorBoard log found in or next to the run dir."))
    return blocks


def _inputs(run: RunDir) -> list[Block]:
    blocks: list[Block] = [Table(("file", "status", "detail"),
                                 [(item.name, item.status, item.detail) for item in run.inputs])]
    if run.notes:
        blocks.append(Heading("Problems"))
        blocks.append(Table(("file", "problem", "fix"), [(note.file, note.problem, note.fix) for note in run.notes]))
    else:
        blocks.append(Paragraph("Every input that is there was read in full.", "good"))
    return blocks
