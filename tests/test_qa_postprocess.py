"""Vectorised post-processing: same answers as the per-feature loop, and always a valid span."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qadiag.tasks.qa.postprocess import context_offsets, postprocess_qa_predictions
from tests.reference_postprocess import loop_postprocess, synthetic_qa

settings_fast = settings(max_examples=40, deadline=None)


@settings_fast
@given(
    seed=st.integers(0, 2**32 - 1),
    n_examples=st.integers(1, 12),
    n_best_size=st.integers(1, 25),
    max_answer_length=st.integers(1, 40),
    version_2=st.booleans(),
)
def test_vectorised_matches_the_per_feature_loop(seed, n_examples, n_best_size, max_answer_length, version_2):
    examples, features, logits = synthetic_qa(n_examples, seed)
    options = dict(
        n_best_size=n_best_size, max_answer_length=max_answer_length, version_2_with_negative=version_2
    )
    assert postprocess_qa_predictions(examples, features, logits, **options) == loop_postprocess(
        examples, features, logits, **options
    )


@settings_fast
@given(seed=st.integers(0, 2**32 - 1), max_answer_length=st.integers(1, 8))
def test_predicted_span_is_inside_the_context_and_not_too_long(seed, max_answer_length):
    examples, features, logits = synthetic_qa(6, seed)
    answers = postprocess_qa_predictions(examples, features, logits, max_answer_length=max_answer_length)
    for example_id, context in zip(examples["id"], examples["context"]):
        text = answers[example_id]
        assert text, "v1 post-processing always answers when the context has tokens"
        assert text in context
        start = context.index(text)
        # Context words are single tokens in the synthetic layout, on word boundaries.
        assert start == 0 or context[start - 1] == " "
        assert len(text.split(" ")) <= max_answer_length


def test_question_and_special_tokens_are_never_decoded_even_with_the_highest_logits():
    examples = {"id": ["a"], "context": ["alpha beta gamma"]}
    features = {"example_id": ["a"], "offset_mapping": [[None, None, None, (0, 5), (6, 10), (11, 16), None]]}
    start = np.array([[9.0, 9.0, 9.0, 0.0, 1.0, 0.0, 9.0]])
    end = np.array([[9.0, 9.0, 9.0, 0.0, 0.0, 2.0, 9.0]])
    assert postprocess_qa_predictions(examples, features, (start, end)) == {"a": "beta gamma"}


def test_end_before_start_is_never_chosen():
    examples = {"id": ["a"], "context": ["alpha beta gamma"]}
    features = {"example_id": ["a"], "offset_mapping": [[None, (0, 5), (6, 10), (11, 16)]]}
    start = np.array([[0.0, 0.0, 0.0, 5.0]])  # best start is the last token
    end = np.array([[0.0, 4.0, 0.0, 1.0]])  # best end is the first token: invalid pair
    assert postprocess_qa_predictions(examples, features, (start, end)) == {"a": "gamma"}


def test_null_answer_wins_only_past_the_threshold():
    examples = {"id": ["a"], "context": ["alpha beta"]}
    features = {"example_id": ["a"], "offset_mapping": [[None, (0, 5), (6, 10)]]}
    start = np.array([[3.0, 2.0, 0.0]])
    end = np.array([[3.0, 2.0, 0.0]])  # null 6.0 vs best span 4.0
    assert postprocess_qa_predictions(examples, features, (start, end), version_2_with_negative=True) == {
        "a": ""
    }
    assert postprocess_qa_predictions(
        examples, features, (start, end), version_2_with_negative=True, null_score_diff_threshold=2.5
    ) == {"a": "alpha"}


def test_arrow_and_list_offsets_give_the_same_arrays():
    import datasets

    _, features, _ = synthetic_qa(5, seed=3)
    from_lists = context_offsets(features["offset_mapping"])
    column = datasets.Dataset.from_dict({"offset_mapping": features["offset_mapping"]}).data.column(
        "offset_mapping"
    )
    from_arrow = context_offsets(column)
    for name in ("start", "end", "valid"):
        np.testing.assert_array_equal(getattr(from_lists, name), getattr(from_arrow, name))


def test_mismatched_feature_count_is_explained():
    examples, features, (start, end) = synthetic_qa(3, seed=1)
    with pytest.raises(ValueError, match="same \\(unshuffled, unfiltered\\) feature dataset"):
        postprocess_qa_predictions(examples, features, (start[:-1], end[:-1]))
