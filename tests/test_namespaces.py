"""The shared metric-namespace rule set (used by the log-keys probe and audit-logs)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qadiag.namespaces import (
    RowKind,
    check_logged_metrics,
    check_row,
    infer_row_kind,
    logger_key,
    logger_section,
    misnamed,
)


def codes(findings):
    return sorted(f.code for f in findings)


@pytest.mark.parametrize(
    ("key", "filed"),
    [
        ("eval_f1", "eval/f1"),
        ("test_exact_match", "test/exact_match"),
        ("loss", "train/loss"),
        ("exact_match", "train/exact_match"),
        ("eval/f1", "train/eval/f1"),
        ("val_f1", "train/val_f1"),
        ("eval_squad_f1", "eval/squad_f1"),
    ],
)
def test_logger_key_mirrors_transformers_rewrite_logs(key, filed):
    from transformers.integrations.integration_utils import rewrite_logs

    assert logger_key(key) == filed == next(iter(rewrite_logs({key: 1.0})))


@given(st.text(min_size=1, max_size=30))
def test_logger_key_agrees_with_rewrite_logs_on_any_key(key):
    from transformers.integrations.integration_utils import rewrite_logs

    assert logger_key(key) == next(iter(rewrite_logs({key: 0})))
    assert logger_section(key) in {"train", "eval", "test"}


@pytest.mark.parametrize(
    ("key", "intended"),
    [
        ("val_f1", "eval_f1"),
        ("eval-f1", "eval_f1"),
        ("eval/f1", "eval_f1"),
        ("Eval_f1", "eval_f1"),
        ("validation_loss", "eval_loss"),
        ("dev_accuracy", "eval_accuracy"),
        ("test-f1", "test_f1"),
        ("evaluation_exact_match", "eval_exact_match"),
    ],
)
def test_misnamed_prefixes_are_recognised(key, intended):
    assert misnamed(key).intended == intended


@pytest.mark.parametrize("key", ["eval_f1", "test_f1", "loss", "device_count", "validity", "evaluator"])
def test_well_named_keys_are_not_misnamed(key):
    assert misnamed(key) is None


def test_seed_001_row_is_an_unprefixed_eval_row():
    row = {"exact_match": 71.0, "f1": 80.0, "epoch": 1.0}
    assert infer_row_kind(row) is RowKind.EVAL
    findings = check_row(row, step=100)
    assert codes(findings) == ["QD101", "QD101"]
    assert {f.key for f in findings} == {"exact_match", "f1"}
    assert all(f.step == 100 and "train/" in f.message and "metric_key_prefix" in f.fix for f in findings)


def test_correct_rows_have_no_findings():
    assert check_row({"loss": 1.2, "grad_norm": 0.3, "learning_rate": 1e-4, "epoch": 0.5}) == []
    assert check_row({"eval_loss": 1.0, "eval_exact_match": 50.0, "eval_f1": 60.0, "epoch": 1.0}) == []
    assert check_row({"train_runtime": 3.0, "train_loss": 1.1, "total_flos": 10.0, "epoch": 1.0}) == []
    assert check_row({"test_loss": 1.0, "test_f1": 1.0}, kind=RowKind.TEST) == []


def test_partially_prefixed_dict_is_qd103():
    findings = check_row({"eval_loss": 1.0, "exact_match": 3.0, "f1": 4.0}, kind=RowKind.EVAL)
    assert codes(findings) == ["QD103", "QD103"]
    assert "eval_loss" in findings[0].message


def test_wrong_separator_is_qd102_and_says_what_was_meant():
    findings = check_row({"eval/f1": 1.0, "val_exact_match": 2.0, "eval_loss": 0.5})
    assert codes(findings) == ["QD102", "QD102"]
    assert {f.key for f in findings} == {"eval/f1", "val_exact_match"}
    assert any("'eval_exact_match'" in f.fix for f in findings)


def test_collisions_and_reserved_names_are_qd104():
    assert codes(check_row({"global_step": 3, "loss": 1.0})) == ["QD104"]


def test_non_scalar_values_are_qd107():
    assert codes(check_row({"eval_loss": 1.0, "eval_confusion": [[1, 2], [3, 4]]})) == ["QD107"]


def test_returned_but_never_logged_is_qd105():
    findings = check_logged_metrics({"eval_loss": 1.0, "eval_f1": 2.0, "epoch": 1}, ["eval_loss", "epoch"])
    assert codes(findings) == ["QD105"]
    assert findings[0].key == "eval_f1"
