"""A run dir -> everything the report shows, read once, bounded, with a note for each file it could not use.

Inputs, all optional (at least one must be there): ``trainer_state.json`` (or the latest
``checkpoint-*/trainer_state.json``), ``samples.jsonl``, ``qadiag_report.json``, ``all_results.json``
(or ``eval_results.json``/``train_results.json``), the predictions files, and where TensorBoard
(``runs/``) and W&B (``wandb/``, in the run dir or next to it) wrote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.errors import InputError
from qadiag.report.files import Malformed, Unusable, entry_kind, list_dir, open_regular, read_json, size_text
from qadiag.report.probe_report import PROBE_REPORT_FILE, ProbeReport, parse_probe_report
from qadiag.report.samples import SAMPLES_FILE, SampleLog, read_samples
from qadiag.report.text import clip, number

STATE_FILE = "trainer_state.json"
RESULTS_FILES = ("all_results.json", "eval_results.json", "train_results.json")
INPUTS = (STATE_FILE, "checkpoint-*/" + STATE_FILE, SAMPLES_FILE, PROBE_REPORT_FILE, *RESULTS_FILES)
MAX_STATE_BYTES = 64 << 20
MAX_PROBE_REPORT_BYTES = 16 << 20
MAX_RESULTS_BYTES = 1 << 20
MAX_PREDICTIONS_COUNTED_BYTES = 16 << 20
MAX_FACTS = 60
VALUE_WIDTH = 300
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_PREDICTIONS = re.compile(r"^[\w.-]*predictions[\w.-]*\.json$")
_RUN_DIRS = (
    "pass the output directory of a training run: qadiag train --output_dir, the directory given to pytest "
    "--qadiag-report, or a Trainer's output_dir"
)
_HISTORY_START = re.compile(r'"log_history"\s*:\s*\[')


@dataclass(frozen=True)
class Note:
    file: str
    problem: str
    fix: str


@dataclass(frozen=True)
class InputFile:
    name: str
    status: str  # "read", "partly read", "left out", "not there"
    detail: str = ""


@dataclass
class RunDir:
    path: Path
    inputs: list[InputFile] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)
    state_facts: dict[str, str] = field(default_factory=dict)
    samples: SampleLog | None = None
    probe_report: ProbeReport | None = None
    results: dict[str, str] = field(default_factory=dict)
    outputs: list[tuple[str, str, str]] = field(default_factory=list)  # (what, where, detail)

    @property
    def task(self) -> str:
        if self.probe_report is not None and self.probe_report.task:
            return self.probe_report.task
        return ", ".join(sorted(self.samples.tasks)) if self.samples is not None else ""

    def note(self, file: str, problem: str, fix: str) -> None:
        self.notes.append(Note(file, problem, fix))

    def leave_out(self, file: str, problem: str, fix: str) -> None:
        self.inputs.append(InputFile(file, "left out"))
        self.note(file, problem, fix)

    def status(self, name: str) -> str:
        """How the file of this name (in the run dir or a checkpoint) was read: one of InputFile's statuses."""
        return next((item.status for item in self.inputs if item.name.endswith(name)), "not there")


def _value(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(float(value))
    return clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str), VALUE_WIDTH)


def _scalars(data: dict[str, Any]) -> dict[str, str]:
    scalars = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            continue
        if len(scalars) >= MAX_FACTS:
            break
        scalars[clip(str(key), 120)] = _value(value)
    return scalars


def check_run_dir(path: str | Path) -> Path:
    """The run dir, resolved; :class:`InputError` when it is missing, not a directory, or holds no input."""
    given = Path(path)
    if not given.exists():
        raise InputError("no such directory", source=str(given), fix=_RUN_DIRS)
    if not given.is_dir():
        raise InputError("is a file, not a run directory", source=str(given),
                         fix=f"pass the directory that holds it: qadiag report {given.parent}")
    root = given.resolve()
    others = (SAMPLES_FILE, PROBE_REPORT_FILE, *RESULTS_FILES)
    if _state_file(root) is None and not any(entry_kind(root, name) for name in others):
        raise InputError(f"holds none of {', '.join(INPUTS)}: there is nothing to report on", source=str(given),
                         fix=_RUN_DIRS)
    return root


def read_run_dir(path: str | Path) -> RunDir:
    root = check_run_dir(path)
    run = RunDir(root)
    _read_state(run)
    _read_samples(run)
    _read_probe_report(run)
    _read_results(run)
    _find_outputs(run)
    return run


def _state_file(root: Path) -> str | None:
    if entry_kind(root, STATE_FILE) is not None:
        return STATE_FILE
    checkpoints = [
        (int(match.group(1)), name)
        for name, kind in list_dir(root)
        if kind == "dir" and (match := _CHECKPOINT.match(name))
    ]
    for _, name in sorted(checkpoints, reverse=True):
        if entry_kind(root, f"{name}/{STATE_FILE}") is not None:
            return f"{name}/{STATE_FILE}"
    return None


def _read_state(run: RunDir) -> None:
    relative = _state_file(run.path)
    if relative is None:
        run.inputs.append(InputFile(STATE_FILE, "not there", "no curves: the Trainer writes it when it saves"))
        return
    try:
        data = read_json(run.path, relative, MAX_STATE_BYTES)
    except Malformed as error:
        # A run killed while saving leaves the file cut short: the rows before the cut still make curves.
        run.history = _salvage_history(run.path, relative)
        if run.history:
            run.inputs.append(InputFile(relative, "partly read", f"the {len(run.history)} log_history rows before "
                                                                 "the damage"))
            run.note(relative, error.problem, error.fix)
        else:
            run.leave_out(relative, error.problem, error.fix)
        return
    except Unusable as error:
        run.leave_out(relative, error.problem, error.fix)
        return
    history = data.get("log_history") if isinstance(data, dict) else None
    if not isinstance(history, list):
        run.leave_out(relative, f"{relative} has no log_history list",
                      "point the report at a Trainer output directory; Trainer.save_state writes trainer_state.json")
        return
    run.history = history
    run.state_facts = _scalars(data)
    latest = " (the output dir has none; the latest checkpoint's)" if relative != STATE_FILE else ""
    run.inputs.append(InputFile(relative, "read", f"{len(history)} log_history rows{latest}"))


def _salvage_history(root: Path, relative: str) -> list[Any]:
    """The log_history rows before the point where a cut-short or damaged file stops parsing."""
    try:
        opened = open_regular(root, relative)
        with opened.handle as handle:
            text = handle.read(MAX_STATE_BYTES).decode("utf-8", errors="replace")
    except (Unusable, OSError):
        return []
    match = _HISTORY_START.search(text)
    if match is None:
        return []
    decoder = json.JSONDecoder()
    rows: list[Any] = []
    position = match.end()
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return rows
        try:
            row, position = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            return rows
        rows.append(row)


def _read_samples(run: RunDir) -> None:
    if entry_kind(run.path, SAMPLES_FILE) is None:
        run.inputs.append(InputFile(SAMPLES_FILE, "not there", "no samples: the output-capture probe writes it"))
        return
    try:
        run.samples = read_samples(run.path)
    except Unusable as error:
        run.leave_out(SAMPLES_FILE, error.problem, error.fix)
        return
    for problem, fix in run.samples.problems:
        run.note(SAMPLES_FILE, problem, fix)
    status = "partly read" if run.samples.problems else "read"
    run.inputs.append(InputFile(SAMPLES_FILE, status, f"{run.samples.total} samples at {len(run.samples.counts)} "
                                                      "capture steps"))


def _read_probe_report(run: RunDir) -> None:
    if entry_kind(run.path, PROBE_REPORT_FILE) is None:
        run.inputs.append(InputFile(PROBE_REPORT_FILE, "not there", "no findings: qadiag train and pytest --qadiag "
                                                                    "write it"))
        return
    try:
        data = read_json(run.path, PROBE_REPORT_FILE, MAX_PROBE_REPORT_BYTES)
    except Unusable as error:
        run.leave_out(PROBE_REPORT_FILE, error.problem, error.fix)
        return
    if not isinstance(data, dict):
        run.leave_out(PROBE_REPORT_FILE, f"{PROBE_REPORT_FILE} holds a JSON {type(data).__name__}, not an object",
                      "re-create it by re-running qadiag train or pytest --qadiag")
        return
    report = parse_probe_report(data)
    run.probe_report = report
    for problem, fix in report.problems:
        run.note(PROBE_REPORT_FILE, problem, fix)
    form = f"schema version {report.schema_version}" if report.schema_version is not None else "no schema version"
    status = "partly read" if report.problems else "read"
    run.inputs.append(InputFile(PROBE_REPORT_FILE, status, f"{len(report.findings)} findings, {form}"))


def _read_results(run: RunDir) -> None:
    # all_results.json is the union of the other two; they are read only when it is not there.
    names = ["all_results.json"] if entry_kind(run.path, "all_results.json") else list(RESULTS_FILES[1:])
    for name in names:
        if entry_kind(run.path, name) is None:
            continue
        try:
            data = read_json(run.path, name, MAX_RESULTS_BYTES)
        except Unusable as error:
            run.leave_out(name, error.problem, error.fix)
            continue
        if not isinstance(data, dict):
            run.leave_out(name, f"{name} holds a JSON {type(data).__name__}, not an object",
                          "Trainer.save_metrics writes an object of metric names and values: re-create it")
            continue
        for key, value in _scalars(data).items():
            run.results.setdefault(key, value)
        run.inputs.append(InputFile(name, "read", f"{len(data)} values"))


def _find_outputs(run: RunDir) -> None:
    named: dict[str, list[str]] = run.probe_report.outputs if run.probe_report is not None else {}
    found: dict[tuple[str, str], str] = {}  # (what, where) -> detail; what qadiag_report.json names comes first
    for what, key in (("samples", "samples"), ("predictions", "predictions"), ("TensorBoard", "tensorboard"),
                      ("W&B", "wandb")):
        for where in named.get(key, []):
            found[what, where] = "named in qadiag_report.json"
    predictions = sorted(name for name, kind in list_dir(run.path) if kind == "file" and _PREDICTIONS.match(name))
    for name in predictions[:10]:
        found["predictions", name] = _predictions_detail(run.path, name)
    if entry_kind(run.path, "runs") == "dir":
        found["TensorBoard", str(run.path / "runs")] = f"{_count_event_files(run.path)} event file(s)"
    if entry_kind(run.path, "wandb") == "dir":
        found["W&B", str(run.path / "wandb")] = "in the run dir"
    if entry_kind(run.path.parent, "wandb") == "dir":
        found["W&B", str(run.path.parent / "wandb")] = "next to the run dir (W&B writes into the working directory)"
    run.outputs = [(what, where, detail) for (what, where), detail in found.items()]


def _predictions_detail(root: Path, name: str) -> str:
    try:
        opened = open_regular(root, name)
        opened.handle.close()
        if opened.size > MAX_PREDICTIONS_COUNTED_BYTES:
            return size_text(opened.size)
        data = read_json(root, name, MAX_PREDICTIONS_COUNTED_BYTES)
    except Unusable as error:
        return error.problem
    count = f"{len(data)} predictions, " if isinstance(data, (dict, list)) else ""
    return count + size_text(opened.size)


def _count_event_files(root: Path) -> int:
    count = 0
    pending = ["runs"]
    for _ in range(3):  # runs/<date_host>/ holds the files; a little deeper in some set-ups
        deeper = []
        for directory in pending:
            for name, kind in list_dir(root, directory, limit=1000):
                if kind == "file" and name.startswith("events.out.tfevents."):
                    count += 1
                elif kind == "dir":
                    deeper.append(f"{directory}/{name}")
        pending = deeper[:100]
    return count
