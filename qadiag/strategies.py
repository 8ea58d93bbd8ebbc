"""Hypothesis strategies for QA preprocessing tests (reusable in your own test suite).

    from hypothesis import given
    from qadiag.strategies import qa_examples

    @given(qa_examples())
    def test_my_features(example): ...

``qa_examples`` draws SQuAD-format examples whose ``answer_start`` always matches the answer text:
English words, Korean words with attached particles (so the answer is a substring of a whitespace
word, as in KLUE-MRC), punctuation glued to answers, other Unicode scripts, answers anywhere in the
context (near window edges in long contexts), and optionally unanswerable questions. The recipe is
:mod:`qadiag.tasks.qa.synthetic`; hypothesis makes the choices, so a failing example shrinks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from qadiag.tasks.qa.synthetic import qa_example

T = TypeVar("T")


class _DrawnChoices:
    def __init__(self, draw: Any) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def pick(self, options: Sequence[T]) -> T:
        return self._draw(st.sampled_from(options))

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        return self._draw(st.text(alphabet=alphabet, min_size=min_size, max_size=max_size))

    def several(self, make: Callable[[Any], T], min_size: int, max_size: int) -> list[T]:
        element = st.composite(lambda draw: make(_DrawnChoices(draw)))()
        return self._draw(st.lists(element, min_size=min_size, max_size=max_size))


@st.composite
def qa_examples(
    draw: Any,
    *,
    min_words: int = 1,
    max_words: int = 200,
    max_answer_words: int = 4,
    allow_unanswerable: bool = False,
    question_words: int = 6,
) -> dict[str, Any]:
    """One SQuAD-format example (``id``, ``question``, ``context``, ``answers``) with consistent offsets."""
    return qa_example(
        _DrawnChoices(draw),
        min_words=min_words,
        max_words=max_words,
        max_answer_words=max_answer_words,
        allow_unanswerable=allow_unanswerable,
        question_words=question_words,
    )
