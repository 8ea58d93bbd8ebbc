"""The accuracy targets of the default `qadiag train` runs, on the bundled data (opt-in, about 3 minutes
on 2 CPU cores): `python -m pytest -m quality`."""

import json

import pytest

from qadiag.cli import main
from qadiag.namespaces import check_row

pytestmark = pytest.mark.quality


def train(output_dir, *extra):
    assert main(["train", "--output_dir", str(output_dir), "--disable_tqdm", "true", *extra]) == 0
    results = json.loads((output_dir / "all_results.json").read_text())
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    report = json.loads((output_dir / "qadiag_report.json").read_text())
    return results, history, report


def test_default_qa_training_reaches_em_80_with_prefixed_eval_rows_and_no_findings(tmp_path):
    results, history, report = train(tmp_path / "qa")
    assert results["eval_exact_match"] >= 80, results
    eval_rows = [row for row in history if "eval_loss" in row]
    assert eval_rows and all({"eval_exact_match", "eval_f1"} <= set(row) for row in eval_rows)
    assert all(check_row(row) == [] for row in history)
    assert report["findings"] == []


def test_default_pair_classification_reaches_accuracy_0_8(tmp_path):
    results, history, report = train(tmp_path / "pair", "--task", "pair-classification")
    assert results["eval_accuracy"] >= 0.8, results
    assert all(check_row(row) == [] for row in history)
    assert report["findings"] == []
