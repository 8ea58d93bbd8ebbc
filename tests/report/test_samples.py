"""samples.jsonl -> sample tables: correctness, the window note, and a bounded report for a huge log."""

from __future__ import annotations

import pytest

from qadiag.report import samples, write_report
from qadiag.report.samples import WINDOW_NOTE, parse_sample, read_samples
from tests.report.helpers import html_parse_errors, parse_html, text_of, write_jsonl

QA = {"step": 10, "sample": 0, "question": "Where?", "pred_start": 3, "pred_end": 4, "gold_start": 3, "gold_end": 4}


@pytest.mark.parametrize(
    ("record", "correct", "note"),
    [
        ({**QA, "prediction": "Grace Park ' s", "gold": "grace park's"}, True, ""),
        ({**QA, "prediction": "Busan", "gold": "Seoul"}, False, ""),
        ({**QA, "prediction": "Busan", "gold": "Busan", "correct": False}, False, ""),  # stated wins
        ({**QA, "prediction": "", "gold": ""}, True, WINDOW_NOTE),
        ({**QA, "prediction": "x", "gold": " ", "answer": "nurse"}, False,
         f"{WINDOW_NOTE} (the example's answer is 'nurse')"),
        ({**QA, "prediction": "", "gold": "", "note": "the answer is outside this window"}, True,
         "the answer is outside this window"),
        ({"step": 5, "sample": 1, "text": "[CLS] a [SEP] b [SEP]", "prediction": 1, "gold": 1}, True, ""),
        ({"step": 5, "sample": 1, "text": "[CLS] a [SEP] b [SEP]", "prediction": 0, "gold": 1}, False, ""),
    ],
)
def test_correctness_and_the_window_note(record, correct, note):
    sample = parse_sample(record)
    assert (sample.correct, sample.note) == (correct, note)


@pytest.mark.parametrize("record", [[1], {"sample": 0, "question": "q"}, {"step": "ten", "question": "q"},
                                    {"step": 1.5, "text": "t"}, {"step": 1, "prediction": "p", "gold": "g"}])
def test_what_is_not_a_sample_record(record):
    assert parse_sample(record) is None


def _records(steps: int, per_step: int) -> list[dict]:
    return [{**QA, "step": step, "sample": i, "prediction": "a" if i % 2 else "b", "gold": "a",
             "question": f"question {i} at step {step}?"} for step in range(1, steps + 1) for i in range(per_step)]


def test_a_100k_line_sample_log_gives_a_report_of_bounded_size(tmp_path):
    write_jsonl(tmp_path / "samples.jsonl", _records(25_000, 4))
    paths = write_report(tmp_path, step_summary=False)
    html = paths.html.read_text(encoding="utf-8")
    assert html_parse_errors(html) == []
    assert len(html.encode()) < 250_000 and paths.markdown.stat().st_size < 40_000
    text = text_of(parse_html(html))
    assert "100000 samples at 25000 capture steps; 50000 predicted correctly (50 %)." in text
    assert "24994 more capture step(s) (99976 samples) are not shown here" in text
    shown = [f"Step {step}: 2 of 4 correct" for step in (1, 2, 3, 24998, 24999, 25000)]
    assert all(heading in text for heading in shown)
    assert "Step 4:" not in text and "Step 24997:" not in text


def test_many_samples_in_one_step_are_counted_not_all_shown(tmp_path):
    write_jsonl(tmp_path / "samples.jsonl", _records(1, samples.SAMPLES_SHOWN_PER_STEP + 5))
    text = text_of(parse_html(write_report(tmp_path, step_summary=False).html.read_text()))
    assert "5 more samples at this step are not shown." in text


def test_a_log_larger_than_the_read_limit_shows_its_start_and_end(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "READ_REGION", 4096)
    write_jsonl(tmp_path / "samples.jsonl", _records(400, 1))
    log = read_samples(tmp_path)
    assert [kept.step for kept in log.first] == [1, 2, 3] and [kept.step for kept in log.last] == [398, 399, 400]
    assert min(log.counts) == 1 and max(log.counts) == 400 and len(log.counts) < 400
    problem = next(problem for problem, _ in log.problems if "in the middle were not" in problem)
    assert problem.startswith("samples.jsonl is ") and "the first and last 4.0 KiB were read" in problem


def test_a_line_over_the_length_limit_is_skipped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "MAX_LINE", 300)
    path = write_jsonl(tmp_path / "samples.jsonl", _records(2, 1))
    path.write_text(path.read_text() + '{"step": 3, "question": "' + "x" * 1000 + '"}\n' + path.read_text())
    log = read_samples(tmp_path)
    assert sum(total for total, _ in log.counts.values()) == 4
    assert any("1 line(s) longer than 300 bytes were left out" in problem for problem, _ in log.problems)
