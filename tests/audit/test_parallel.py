"""Parallel audits give the serial audit's report: a source read in parts joins exactly (every cut point of a
row stream, every block boundary of a real-format .wandb), parts that cannot join are read whole, and many
sources read by two processes give the same findings and summaries as one."""

import json
import math
import os
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qadiag.audit import parallel, pipeline
from qadiag.audit.discover import discover
from qadiag.audit.readers import tensorboard as tensorboard_reader
from qadiag.audit.readers import wandb as wandb_reader
from qadiag.audit.records import LogRow, Source
from qadiag.cli import main as cli
from qadiag.formats import safe
from tests.audit.framing import BLOCK
from tests.hostile.builders import event, tensorboard_file, wandb_run

SOURCE = Source("trainer_state", "s", ("s/trainer_state.json",), "s")  # type: ignore[arg-type]


def report(result):
    """A source's result as comparable text: NaN == NaN, evidence and counts included, sets sorted, and the
    findings of each code in their order (codes come out in either order: reports are sorted)."""
    summary = {name: getattr(result.summary, name) for name in result.summary.__slots__}
    summary["eval_keys"] = sorted(summary["eval_keys"])
    findings = sorted(result.findings, key=lambda item: item.code)
    return json.dumps([safe(item.to_dict()) for item in findings]), repr(summary)


def row(index, step, keys):
    values = {key: (math.nan if key == "loss" and step % 11 == 0 else 0.5) for key in keys}
    return LogRow(SOURCE, "s/trainer_state.json", index, step, values, offset=index * 100, line=index + 1, column=3)


KEY_SETS = [
    ("loss", "learning_rate", "epoch"),
    ("eval_loss", "eval_runtime", "epoch"),
    ("eval_runtime", "epoch"),  # an evaluation without its loss (QD201) unless a row of its step has one
    ("exact_match", "f1", "epoch"),  # un-prefixed evaluation metrics (QD101)
    ("eval_f1", "f1", "epoch"),  # prefixed in part (QD103)
    ("val_acc",),  # misnamed (QD102)
]
rows_strategy = st.lists(st.tuples(st.integers(0, 30), st.sampled_from(KEY_SETS)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, cuts=st.lists(st.integers(0, 60), max_size=4))
def test_a_row_stream_cut_anywhere_joins_into_the_same_audit(rows, cuts):
    stream = [row(index, step, keys) for index, (step, keys) in enumerate(rows)]
    whole = pipeline.SourceAudit(SOURCE)
    for item in stream:
        whole.row(item)
    expected = pipeline.joined([pipeline.PartAudit(SOURCE, whole, [], None, None)])
    bounds = [0, *sorted({cut % (len(stream) + 1) for cut in cuts}), len(stream)]
    parts = []
    for start, stop in pairwise(bounds):
        part = pipeline.SourceAudit(SOURCE)
        for item in stream[start:stop]:
            part.row(item)
        parts.append(pipeline.PartAudit(SOURCE, part, [], None, None))
    assert report(pipeline.joined(parts)) == report(expected)


def training_history(steps=3000):
    """W&B rows as the Trainer's callback logs them, with every problem the row rules look for: evaluations
    spread over two records (one without the loss now and then), restarts, NaN losses, un-prefixed metrics,
    and long values that split records across 32 KiB blocks."""
    rows, step = [], 0
    for number in range(steps):
        step = step - 40 if number % 900 == 899 else step + 1
        loss = "NaN" if number % 700 == 3 else repr(1 / (number + 1))
        rows.append({"train/loss": loss, "train/learning_rate": "0.001", "train/global_step": str(step)})
        if number % 7 == 0:
            rows.append({"eval/runtime": "1.5", "train/global_step": str(step)})
            if number % 3:
                rows.append({"eval/loss": "0.5", "train/global_step": str(step)})
        if number % 250 == 0:
            rows.append({"train/exact_match": "50.0", "train/global_step": str(step)})
        if number % 400 == 0:
            rows.append({"train/notes": '"' + "x" * 40_000 + '"', "train/global_step": str(step)})
    return rows


@pytest.fixture(scope="module")
def long_wandb(tmp_path_factory):
    path = wandb_run(tmp_path_factory.mktemp("parallel") / "wandb" / "offline-run-1", training_history())
    assert path.stat().st_size > 8 * BLOCK
    return path


def source_of(path):
    (source,) = discover([path]).sources
    return source


def in_parts(source, monkeypatch, part_bytes):
    monkeypatch.setattr(wandb_reader, "SPLIT_BYTES", 0)
    monkeypatch.setattr(wandb_reader, "PART_BYTES", part_bytes)
    monkeypatch.setattr(tensorboard_reader, "SPLIT_BYTES", 0)
    monkeypatch.setattr(tensorboard_reader, "PART_BYTES", part_bytes)
    reader = wandb_reader.READER if source.kind == "wandb" else tensorboard_reader.READER
    parts = reader.parts(source, 1_000)
    assert parts is not None and len(parts) > 2
    return [pipeline.audit_part(source, part) for part in parts]


@pytest.mark.parametrize("part_blocks", [1, 3])
def test_a_wandb_file_read_in_parts_joins_into_the_whole(long_wandb, monkeypatch, part_blocks):
    source = source_of(long_wandb.parent)
    whole = pipeline.audit_source(source)
    codes = {item.code for item in whole.findings}
    assert {"QD201", "QD205", "QD601", "QD101"} <= codes
    parts = in_parts(source, monkeypatch, part_blocks * BLOCK)
    assert all(not part.problems for part in parts)
    assert report(pipeline.joined(parts)) == report(whole)


def test_a_damaged_file_in_parts_is_read_whole_instead(long_wandb, tmp_path, monkeypatch):
    data = bytearray(long_wandb.read_bytes())
    data[5 * BLOCK + 100] ^= 0xFF
    path = tmp_path / "wandb" / "offline-run-2" / "run-x.wandb"
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(data))
    source = source_of(path.parent)
    assert pipeline.joined(in_parts(source, monkeypatch, BLOCK)) is None  # the damage is in one part: no join
    whole = pipeline.audit_source(source)
    assert "QD903" in {item.code for item in whole.findings}
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    assert report(parallel.audit_sources([source], 2)[0]) == report(whole)


def test_a_tensorboard_file_read_in_parts_joins_into_the_whole(tmp_path, monkeypatch):
    events = []
    for step in range(1, 4000):
        logged = [("train/loss", 1 / step), ("train/learning_rate", 1e-3), ("train/epoch", step / 100)]
        if step % 9 == 0:
            logged += [("eval/runtime", 1.0), ("train/f1", 50.0), ("train/epoch", 1.0)]
        if step == 2000:
            logged.append(("train/loss", float("nan")))  # a second loss at one step: a new row
        events += [event(step, tag, value, wall_time=1.7e9 + step) for tag, value in logged]
        if step % 1000 == 0:
            events.append(event(step - 500, "train/loss", 0.1, wall_time=1.7e9))  # a restart
        if step % 333 == 0:  # records protobuf decodes, between those read from their bytes
            events.append(event(step, "args/text_summary", text=b'{"metric_for_best_model": "f1"}'))
            events.append(event(step, "hparams/lr", 0.1, wall_time=1.7e9 + step))
    path = tensorboard_file(tmp_path / "runs", events)
    source = source_of(path)
    whole = pipeline.audit_source(source)
    assert {"QD201", "QD205", "QD601", "QD103"} <= {item.code for item in whole.findings}
    assert whole.summary.settings["metric_for_best_model"].value == "f1"
    assert report(pipeline.joined(in_parts(source, monkeypatch, 4096))) == report(whole)


def test_two_processes_give_the_report_of_one(hf_runs, logger_runs, long_wandb, capsys, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(wandb_reader, "SPLIT_BYTES", 0)
    monkeypatch.setattr(wandb_reader, "PART_BYTES", 2 * BLOCK)
    outputs = {}
    for jobs in ("1", "2"):
        arguments = [hf_runs, logger_runs, long_wandb.parent, "-j", jobs, "--format", "json"]
        code = cli(["audit-logs", *map(str, arguments)])
        outputs[jobs] = (code, capsys.readouterr().out)
    assert outputs["1"] == outputs["2"] and outputs["1"][0] == 1
    assert len(json.loads(outputs["1"][1])) > 10


def test_reading_wandb_core_files_imports_no_wandb(hf_runs):
    """The history and config records wandb-core writes are read from their bytes."""
    import subprocess
    import sys

    from tests.audit.helpers import ROOT

    code = (
        "import sys; from qadiag.cli import main; code = main(['audit-logs', sys.argv[1], '-q', '--format', 'json']);"
        "sys.exit(3 if 'wandb' in sys.modules or 'google.protobuf' in sys.modules else code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(hf_runs / "unprefixed" / "wandb")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )
    assert result.returncode == 1, result.stderr  # findings, read without wandb or protobuf
