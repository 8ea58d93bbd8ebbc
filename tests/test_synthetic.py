"""The synthetic QA examples: one recipe fed by a seeded Random (the alignment check) or by hypothesis
(qadiag.strategies), both with offsets that match the answer text."""

import random

from hypothesis import given, settings

from qadiag.strategies import qa_examples
from qadiag.tasks.qa.synthetic import KOREAN_PARTICLES, generated_examples


def answer_is_at_its_offset(example):
    (text,), (start,) = example["answers"]["text"], example["answers"]["answer_start"]
    return text and example["context"][start : start + len(text)] == text


def test_generated_examples_are_the_same_for_a_seed_and_leave_the_global_rng_alone():
    state = random.getstate()
    first = generated_examples(20, seed=3)
    assert random.getstate() == state
    assert generated_examples(20, seed=3) == first
    assert generated_examples(20, seed=4) != first


def test_generated_examples_hold_the_edge_cases_fixtures_lack():
    examples = generated_examples(30)
    assert all(answer_is_at_its_offset(example) for example in examples)
    contexts = " ".join(example["context"] for example in examples)
    assert "  " in contexts and "\n" in contexts
    assert any(particle in contexts for particle in KOREAN_PARTICLES)
    assert max(len(example["context"].split()) for example in examples) > 150  # past a 128-token window


@settings(max_examples=40, deadline=None, database=None)
@given(qa_examples())
def test_hypothesis_examples_keep_the_answer_at_its_offset(example):
    assert answer_is_at_its_offset(example)


@settings(max_examples=40, deadline=None, database=None)
@given(qa_examples(allow_unanswerable=True))
def test_unanswerable_examples_have_no_answer(example):
    answers = example["answers"]
    assert (answers["text"] == [] and answers["answer_start"] == []) or answer_is_at_its_offset(example)


def test_window_edge_examples_answer_on_every_window_edge():
    from functools import partial

    from qadiag.checks.alignment import ContextIndex, window_edge_examples
    from qadiag.tasks.qa.features import prepare_train_features
    from qadiag.tiny import load_tokenizer

    tokenizer = load_tokenizer()
    prepare = partial(prepare_train_features, tokenizer=tokenizer, max_seq_length=64, doc_stride=16)
    base = max(generated_examples(10), key=lambda example: len(example["context"]))
    edges = window_edge_examples(base, prepare, tokenizer)
    windows = len(prepare({key: [value] for key, value in base.items()})["input_ids"])
    assert windows > 2 and len(edges) >= 2 * windows  # a start edge, an end edge, a span across it
    tokens = ContextIndex(base["context"], tokenizer).offsets
    token_starts = {start for start, _ in tokens}
    assert all(answer_is_at_its_offset(edge) and edge["answers"]["answer_start"][0] in token_starts for edge in edges)
