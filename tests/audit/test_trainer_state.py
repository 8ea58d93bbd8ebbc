"""The streaming trainer_state.json reader, on real states and on damaged copies."""

import json
import math
import os

import pytest

from qadiag.audit.records import SourceKind
from tests.audit.helpers import read_all

STATE = SourceKind.TRAINER_STATE


def expected_rows(path):
    history = json.loads(path.read_text())["log_history"]
    return [(row["step"], {k: v for k, v in row.items() if k != "step"}) for row in history]


def state_files(out):
    return (
        out / "trainer_state.json",
        out / "checkpoint-12" / "trainer_state.json",
        out / "checkpoint-6" / "trainer_state.json",
    )


def test_a_real_state_reads_row_for_row_with_byte_offsets(hf_runs):
    path = hf_runs / "unprefixed" / "out" / "trainer_state.json"
    result = read_all(STATE, path)
    assert result.findings == []
    assert [(row.step, row.values) for row in result.rows] == expected_rows(path)
    data = path.read_bytes()
    assert all(data[row.offset : row.offset + 1] == b"{" for row in result.rows)


def test_checkpoint_histories_are_not_counted_twice(hf_runs):
    files = state_files(hf_runs / "clean" / "out")
    result = read_all(STATE, *files)
    assert [(row.step, row.values) for row in result.rows] == expected_rows(files[0])
    assert [row.index for row in result.rows] == list(range(len(result.rows)))
    assert {row.file for row in result.rows} == {str(files[0])}


def test_a_checkpoint_from_an_abandoned_attempt_adds_its_rows(hf_runs, tmp_path):
    """Resumed from checkpoint-6 after checkpoint-12 was written: checkpoint-12's later rows differ."""
    out = tmp_path / "out"
    (out / "checkpoint-12").mkdir(parents=True)
    final = json.loads((hf_runs / "clean" / "out" / "trainer_state.json").read_text())
    abandoned = json.loads(json.dumps(final))
    for row in abandoned["log_history"][-3:]:
        row["loss" if "loss" in row else "epoch"] = 123.0
    (out / "trainer_state.json").write_text(json.dumps(final, indent=2, sort_keys=True))
    (out / "checkpoint-12" / "trainer_state.json").write_text(json.dumps(abandoned, indent=2, sort_keys=True))
    result = read_all(STATE, out / "trainer_state.json", out / "checkpoint-12" / "trainer_state.json")
    assert len(result.rows) == len(final["log_history"]) + 3
    assert {row.file for row in result.rows[-3:]} == {str(out / "checkpoint-12" / "trainer_state.json")}


def test_bare_nan_and_infinity_and_non_ascii_keys(tmp_path):
    path = tmp_path / "trainer_state.json"
    history = [{"loss": math.nan, "step": 1}, {"eval_정확도": math.inf, "eval_loss": -math.inf, "step": 2}]
    path.write_text(json.dumps({"log_history": history}, indent=2, ensure_ascii=False), encoding="utf-8")
    rows = read_all(STATE, path).rows
    assert math.isnan(rows[0].values["loss"])
    assert rows[1].values == {"eval_정확도": math.inf, "eval_loss": -math.inf}


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.77, 0.95, 0.999])
def test_a_state_cut_short_keeps_the_rows_before_the_cut(hf_runs, tmp_path, fraction):
    source = hf_runs / "unprefixed" / "out" / "trainer_state.json"
    data = source.read_bytes()
    cut = int(len(data) * fraction)
    path = tmp_path / "trainer_state.json"
    path.write_bytes(data[:cut])
    result = read_all(STATE, path)
    complete = expected_rows(source)
    assert [(row.step, row.values) for row in result.rows] == complete[: len(result.rows)]
    assert all(row.offset < cut for row in result.rows)
    assert result.codes == ["QD902"]
    assert result.findings[0].offset <= cut


def test_a_damaged_row_is_reported_and_reading_resumes(hf_runs, tmp_path):
    source = hf_runs / "unprefixed" / "out" / "trainer_state.json"
    text = source.read_text()
    marker = text.index('"grad_norm"', len(text) // 3)
    damaged = text[:marker] + '"grad_norm": 0.1 0.2 @@@,\n' + text[marker + 40 :]
    path = tmp_path / "trainer_state.json"
    path.write_text(damaged)
    result = read_all(STATE, path)
    assert result.codes == ["QD904"]
    assert "skipped to the next row" in result.findings[0].message
    assert len(result.rows) == len(expected_rows(source)) - 1
    assert result.rows[-1].values == expected_rows(source)[-1][1]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "QD907"),
        (b"\x00\x01\x02\xffPK\x03\x04 binary", "QD908"),
        (b'{"global_step": 3}', "QD904"),
        (b'{"log_history": [1, {"loss": 1.0, "step": 1}]}', "QD904"),
    ],
    ids=["empty", "binary", "no-history", "row-not-an-object"],
)
def test_files_that_are_not_states_are_findings(tmp_path, content, code):
    path = tmp_path / "trainer_state.json"
    path.write_bytes(content)
    assert read_all(STATE, path).codes == [code]


def test_an_unreadable_state_is_a_finding(hf_runs, copy_of, tmp_path):
    path = copy_of(hf_runs / "clean" / "out" / "trainer_state.json")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: use another unreadable case
        path.chmod(0o644)
        path.unlink()
        path.mkdir()
    result = read_all(STATE, path)
    assert result.codes == ["QD901"]
    assert result.findings[0].source == str(path)
    assert "chmod" in result.findings[0].fix or "directory" in result.findings[0].fix
