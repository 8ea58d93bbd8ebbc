"""The project's own assertions on the probed tiny run (fixtures from the qadiag pytest plugin)."""


def test_eval_rows_carry_loss_and_prefixed_metrics(qadiag_run):
    eval_rows = [row for row in qadiag_run.log_history if "eval_loss" in row]
    assert eval_rows, "evaluation ran and logged its loss"
    assert all({"eval_exact_match", "eval_f1"} <= set(row) for row in eval_rows)


def test_samples_are_captured_with_prediction_and_gold(qadiag_run):
    assert qadiag_run.samples
    assert all({"prediction", "gold", "question"} <= set(sample) for sample in qadiag_run.samples)


def test_features_keep_labels_for_eval_loss(qadiag_features):
    assert {"start_positions", "end_positions"} <= set(qadiag_features["validation"].column_names)
