"""EM/F1 against the official SQuAD v1.1 rules, on hand-checked cases."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qadiag.tasks.qa.metrics import (
    compute_metrics,
    exact_match_score,
    f1_score,
    normalize_answer,
    squad_scores,
)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  a  cat,  an apple. ", "cat apple"),
        ("theory", "theory"),  # articles only as whole words
        ("Anatomy of the U.S.", "anatomy of us"),
        ("Hello\tworld\n", "hello world"),
        ("부산에서!", "부산에서"),
        ("", ""),
    ],
)
def test_normalize_answer_follows_squad_v11(text, normalized):
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("prediction", "truth", "em", "f1"),
    [
        ("the cat", "Cat", True, 1.0),
        ("a black cat", "the cat", False, 2 * (1 / 2) * 1 / (1 / 2 + 1)),  # P=1/2, R=1
        ("New York City", "New York", False, 0.8),  # P=2/3, R=1
        ("Paris", "London", False, 0.0),
        ("cat cat", "cat", False, 2 * 0.5 * 1.0 / 1.5),  # duplicates count once per occurrence
        ("The", "the", True, 0.0),  # both normalise to nothing: EM 1, F1 0 in v1.1
    ],
)
def test_exact_match_and_f1_hand_checked(prediction, truth, em, f1):
    assert exact_match_score(prediction, truth) is em
    assert f1_score(prediction, truth) == pytest.approx(f1)


def test_squad_scores_take_the_best_gold_answer_and_average_over_references():
    predictions = {"q1": "New York", "q2": "the blue", "q3": "wrong"}
    references = {"q1": ["New York City", "New York"], "q2": ["Blue"], "q3": ["right answer"], "q4": ["x"]}
    scores = squad_scores(predictions, references)
    assert scores["exact_match"] == pytest.approx(100 * 2 / 4)  # q4 has no prediction: scores 0
    assert scores["f1"] == pytest.approx(100 * 2 / 4)


def test_unanswerable_examples_reward_the_null_answer():
    scores = squad_scores({"u1": "", "u2": "something"}, {"u1": [], "u2": []})
    assert scores == {"exact_match": 50.0, "f1": 50.0}


def test_compute_metrics_reads_the_run_qa_convention():
    from transformers import EvalPrediction

    prediction = EvalPrediction(
        predictions=[{"id": "a", "prediction_text": "Seoul"}, {"id": "b", "prediction_text": "x"}],
        label_ids=[
            {"id": "a", "answers": {"text": ["Seoul"], "answer_start": [0]}},
            {"id": "b", "answers": {"text": ["y"], "answer_start": [3]}},
        ],
    )
    assert compute_metrics(prediction) == {"exact_match": 50.0, "f1": 50.0}


@given(st.text(max_size=40), st.text(max_size=40))
def test_scores_are_bounded_and_em_implies_full_f1(prediction, truth):
    f1 = f1_score(prediction, truth)
    assert 0.0 <= f1 <= 1.0
    if exact_match_score(prediction, truth) and normalize_answer(truth):
        assert f1 == 1.0
