"""log_history -> curves and what they say: the best step, the trend after it, overfitting, NaN."""

from __future__ import annotations

import math

import pytest

from qadiag.report import write_report
from qadiag.report.curves import (
    Series,
    curves_from_history,
    key_steps,
    metric_sentence,
    overfitting_sentence,
    thinned,
)
from tests.report.helpers import overfitting_history, parse_html, write_state


def test_the_best_step_and_what_came_after_it_are_said():
    curves = curves_from_history(overfitting_history())
    assert [series.key for series in curves.eval_metrics] == ["eval_loss", "eval_f1"]
    assert metric_sentence(curves.eval_loss) == (
        "eval_loss was lowest at step 150 (0.675) and rose to 0.834 by step 200."
    )
    assert metric_sentence(curves.eval_metrics[1]) == "eval_f1 was highest at step 200 (60), its last evaluation."


def test_overfitting_is_called_out_at_the_top_of_the_report(tmp_path):
    write_state(tmp_path, overfitting_history())
    sentence = overfitting_sentence(curves_from_history(overfitting_history()))
    assert sentence.startswith("Overfitting: after step 150 the eval loss rose from 0.675 to 0.834 while the "
                               "training loss fell from 0.575 to 0.1;")
    tree = parse_html(write_report(tmp_path, step_summary=False).html.read_text())
    summary = next(section for section in tree.iter("section") if section.get("id") == "summary")
    assert [p.text for p in summary.iter("p") if p.get("class") == "alert"] == [sentence]
    best = [p for p in tree.iter("figure") if p.get("id") == "plot-losses"]
    assert best and "lowest: 0.675 at step 150" in "".join(best[0].itertext())


def test_no_overfitting_call_when_eval_loss_ends_at_its_best():
    rows = [row for row in overfitting_history() if row.get("step") != 200 or "eval_loss" not in row]
    assert overfitting_sentence(curves_from_history(rows)) == ""


@pytest.mark.parametrize(
    ("key", "lower"),
    [("eval_loss", True), ("eval_wer", True), ("eval_perplexity", True), ("eval_span_loss", True),
     ("eval_answer_f1", False), ("eval_accuracy", False), ("eval_exact_match", False)],
)
def test_which_direction_is_better(key, lower):
    assert Series(key, ((1, 0.5),)).lower_is_better is lower


def test_rows_are_sorted_out_the_way_the_trainer_writes_them():
    rows = [
        {"loss": 2.0, "learning_rate": 1e-3, "grad_norm": 3.0, "epoch": 0.5, "step": 10},
        {"eval_loss": 1.9, "eval_runtime": 0.1, "eval_samples_per_second": 9.0, "epoch": 0.5, "step": 10},
        {"exact_match": 12.0, "f1": 20.0, "step": 10},  # an evaluate() that forgot the eval_ prefix
        {"loss": 1.8, "learning_rate": 5e-4, "step": 20},
        {"loss": 1.7, "learning_rate": 5e-4, "step": 20},  # resumed run logging step 20 again
        {"loss": 9.9},  # no step
        {"train_runtime": 3.0, "train_loss": 1.8, "step": 20},
        "not a row",
    ]
    curves = curves_from_history(rows)
    assert curves.train_loss.points == ((10.0, 2.0), (20.0, 1.7))
    assert [series.key for series in curves.eval_metrics] == ["eval_loss"]
    assert curves.unprefixed_keys == ["exact_match", "f1"]
    assert (curves.rows_without_step, curves.steps_logged_twice) == (1, 2)


def test_non_finite_values_stay_in_the_series_and_are_counted():
    curves = curves_from_history([{"loss": value, "step": step} for step, value in
                                  [(1, 1.0), (2, math.nan), (3, math.inf), (4, 0.5)]])
    assert curves.train_loss.non_finite_steps == [2.0, 3.0]
    assert curves.train_loss.best() == (4.0, 0.5)


def test_key_steps_keep_the_ends_and_the_steps_that_must_be_there():
    steps = [float(step) for step in range(100)]
    chosen = key_steps(steps, [37.0], 8)
    assert len(chosen) <= 8 and {0.0, 37.0, 99.0} <= set(chosen) and chosen == sorted(chosen)


def test_thinning_keeps_the_best_and_the_non_finite_points():
    series = Series("eval_loss", tuple((float(step), math.nan if step == 555 else 1 + abs(step - 321) / 1000)
                                       for step in range(2000)))
    thin = thinned(series, 100)
    assert len(thin.points) <= 110
    assert (321.0, 1.0) in thin.points and 555.0 in thin.non_finite_steps and thin.points[-1][0] == 1999.0


def test_hostile_numbers_of_metrics_and_key_lengths_stay_bounded(tmp_path):
    rows = [{**{f"eval_m{index:03}": 1.0 for index in range(50)}, "eval_" + "k" * 10_000: 1.0, "step": 1}]
    curves = curves_from_history(rows)
    assert len(curves.eval_metrics) == 12 and len(curves.metrics_not_plotted) == 39
    assert max(len(key) for key in curves.metrics_not_plotted) == 120
    write_state(tmp_path, rows)
    html = write_report(tmp_path, step_summary=False).html.read_text()
    assert "eval_m031 and 19 more." in html and "k" * 200 not in html
