"""What a run dir may hold, and what the report makes of it: partial dirs, checkpoints, NaN, damaged or
hostile files (links, FIFOs, oversized files) become notes in the report, never crashes."""

from __future__ import annotations

import json
import math
import os
import re

import pytest

from qadiag.errors import InputError
from qadiag.report import rundir, write_report
from tests.report.helpers import (
    SECTIONS,
    html_parse_errors,
    overfitting_history,
    parse_html,
    section_ids,
    text_of,
    write_jsonl,
    write_state,
)


def report_text(run_dir, **options):
    paths = write_report(run_dir, step_summary=False, **options)
    html = paths.html.read_text(encoding="utf-8")
    assert html_parse_errors(html) == []
    tree = parse_html(html)
    assert section_ids(tree) == [key for key, _ in SECTIONS]
    return text_of(tree), paths.markdown.read_text(encoding="utf-8")


def test_only_trainer_state_gives_curves_and_says_what_is_missing(tmp_path):
    write_state(tmp_path, overfitting_history())
    text, markdown = report_text(tmp_path)
    assert "eval_loss was lowest at step 150 (0.675) and rose to 0.834 by step 200." in text
    assert "No samples.jsonl in the run dir: no sample predictions" in text
    assert "No qadiag_report.json in the run dir: no probe findings" in text
    assert "No qadiag\\_report.json in the run dir" in markdown


def test_the_latest_checkpoint_is_used_when_the_output_dir_has_no_trainer_state(tmp_path):
    history = overfitting_history()
    write_state(tmp_path / "checkpoint-20", history[:3], )
    write_state(tmp_path / "checkpoint-100", history[:14])  # numerically latest, not alphabetically
    text, _ = report_text(tmp_path)
    assert "checkpoint-100/trainer_state.json read 14 log_history rows (the output dir has none; the latest " \
           "checkpoint's)" in text


def test_nan_and_infinite_losses_are_said_and_marked(tmp_path):
    rows = [{"loss": loss, "learning_rate": 1e-4, "step": step}
            for step, loss in [(10, 2.0), (20, math.nan), (30, 1.5), (40, math.inf)]]
    rows.append({"eval_loss": math.nan, "step": 40})
    state = write_state(tmp_path, rows)
    assert "NaN" in state.read_text() and "Infinity" in state.read_text()  # bare, as the Trainer writes them
    text, markdown = report_text(tmp_path)
    assert "loss is NaN or infinite at 2 of 4 logged steps (first at step 20)." in text
    assert "eval_loss has no finite value." in text
    assert "| 20 | NaN |" in markdown


def test_a_cut_short_trainer_state_keeps_the_rows_before_the_cut(tmp_path):
    state = write_state(tmp_path, overfitting_history())
    text = state.read_text()
    state.write_text(text[: text.index('"step": 160') + 5])
    report, _ = report_text(tmp_path)
    assert "trainer_state.json partly read the 18 log_history rows before the damage" in report
    assert "trainer_state.json is not valid JSON" in report
    assert "eval_loss was lowest at step 150 (0.675), its last evaluation." in report


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("qadiag_report.json", "{not json", "qadiag_report.json is not valid JSON: Expecting property name"),
        ("qadiag_report.json", "[1, 2]", "qadiag_report.json holds a JSON list, not an object"),
        ("all_results.json", "\udcff", "all_results.json is not UTF-8 text"),
        ("samples.jsonl", "{\"step\": 1}\nnot json\n", "samples.jsonl: 2 line(s) are not sample records"),
    ],
)
def test_a_damaged_file_is_a_note_with_a_fix(tmp_path, name, content, problem):
    write_state(tmp_path, overfitting_history())
    (tmp_path / name).write_bytes(content.encode("utf-8", errors="surrogateescape"))
    text, _ = report_text(tmp_path)
    assert problem in text
    assert "Problems" in text and "Every input that is there was read in full." not in text


def test_damaged_findings_are_not_reported_as_a_clean_run(tmp_path):
    write_state(tmp_path, overfitting_history())
    (tmp_path / "qadiag_report.json").write_text('{"schema_version": 1, "findings": {"a": 1}}')
    text, _ = report_text(tmp_path)
    assert "No findings could be read: qadiag_report.json has problems" in text
    assert "No findings (probes" not in text


def test_links_are_never_followed_out_of_the_run_dir(tmp_path):
    outside = tmp_path / "outside"
    write_state(outside, [{"loss": 1.0, "step": 1, "secret_key_from_outside": 1.0}])
    write_jsonl(outside / "samples.jsonl", [{"step": 1, "sample": 0, "question": "outside question?",
                                              "prediction": "a", "gold": "a"}])
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").symlink_to(outside / "samples.jsonl")
    (run / "checkpoint-5").symlink_to(outside, target_is_directory=True)
    write_state(run / "checkpoint-1", [{"loss": 2.0, "step": 1}])
    (run / "checkpoint-1" / "trainer_state.json").rename(run / "checkpoint-1" / "real.json")
    (run / "checkpoint-1" / "trainer_state.json").symlink_to(outside / "trainer_state.json")
    text, markdown = report_text(run)
    assert "secret_key_from_outside" not in text + markdown
    assert "outside question?" not in text + markdown
    assert "samples.jsonl is a symbolic link; qadiag does not follow links out of the run dir" in text
    assert "checkpoint-1/trainer_state.json is a symbolic link" in text


def test_a_fifo_is_not_opened(tmp_path):
    write_state(tmp_path, overfitting_history())
    os.mkfifo(tmp_path / "samples.jsonl")  # opening it for reading the usual way would block forever
    text, _ = report_text(tmp_path)
    assert "samples.jsonl is not a regular file (a directory, FIFO or device)" in text


def test_a_file_over_its_size_limit_is_left_out_with_its_size(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "MAX_STATE_BYTES", 1024)
    write_state(tmp_path, overfitting_history())
    text, _ = report_text(tmp_path)
    assert "more than the 1.0 KiB the report reads" in text
    assert "trainer_state.json could not be used (see Inputs read): no curves" in text


def test_a_link_planted_where_the_report_goes_is_replaced_not_written_through(tmp_path):
    write_state(tmp_path / "run", overfitting_history())
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "run" / "report.html").symlink_to(victim)
    paths = write_report(tmp_path / "run", step_summary=False)
    assert victim.read_text() == "keep me"
    assert not paths.html.is_symlink() and paths.html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "no such directory"),
        (lambda root: write_state(root, []), "is a file, not a run directory"),
        (lambda root: root, "holds none of trainer_state.json, checkpoint-*/trainer_state.json, samples.jsonl"),
    ],
)
def test_an_unusable_run_dir_is_one_input_error_with_a_fix(tmp_path, make, message):
    (tmp_path / "unrelated.txt").write_text("x")
    with pytest.raises(InputError, match=re.escape(message)) as raised:
        write_report(make(tmp_path), step_summary=False)
    assert raised.value.fix and raised.value.source


def test_final_metrics_fall_back_to_eval_and_train_results(tmp_path):
    (tmp_path / "eval_results.json").write_text(json.dumps({"eval_f1": 81.25, "epoch": 2.0}))
    (tmp_path / "train_results.json").write_text(json.dumps({"train_loss": 0.5}))
    text, _ = report_text(tmp_path)
    assert "eval_f1 81.25" in text and "train_loss 0.5" in text
    assert "No trainer_state.json in the run dir: no curves" in text


def test_run_facts_say_where_tensorboard_and_wandb_wrote(tmp_path):
    run = tmp_path / "run"
    write_state(run, overfitting_history())
    (run / "runs" / "Dec01_host").mkdir(parents=True)
    (run / "runs" / "Dec01_host" / "events.out.tfevents.1.host").write_bytes(b"")
    (tmp_path / "wandb" / "offline-run-1").mkdir(parents=True)  # W&B writes into the working directory
    (run / "eval_predictions.json").write_text(json.dumps({"a": "x", "b": "y"}))
    text, _ = report_text(run)
    assert f"TensorBoard {run / 'runs'} 1 event file(s)" in text
    assert f"W&B {tmp_path / 'wandb'} next to the run dir" in text
    assert "predictions eval_predictions.json 2 predictions, 20 bytes" in text


def test_json_nested_too_deep_to_parse_is_a_note(tmp_path):
    write_state(tmp_path, overfitting_history())
    (tmp_path / "all_results.json").write_text("[" * 100_000 + "]" * 100_000)
    text, _ = report_text(tmp_path)
    assert "all_results.json nests its JSON deeper than Python can parse" in text


def test_a_trainer_state_without_rows_yet_is_not_called_missing(tmp_path):
    write_state(tmp_path, [])
    text, _ = report_text(tmp_path)
    assert "trainer_state.json holds nothing to show yet: no curves" in text
    assert "No trainer_state.json" not in text
