"""Hypothesis strategies for QA preprocessing tests (reusable in your own test suite).

    from hypothesis import given
    from qadiag.strategies import qa_examples

    @given(qa_examples())
    def test_my_features(example): ...

``qa_examples`` draws SQuAD-format examples whose ``answer_start`` always matches the answer text:
English words, Korean words with attached particles (so the answer is a substring of a whitespace
word, as in KLUE-MRC), punctuation glued to answers, other Unicode scripts, answers anywhere in the
context (near window edges in long contexts), and optionally unanswerable questions.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KOREAN_PARTICLES = ("은", "는", "이", "가", "을", "를", "에서", "에", "의", "로", "으로", "에게", "도", "만", "이다")
PUNCTUATION = (",", ".", "!", "?", ";", ":", ")", "'", '"')

_english_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=9)
_hangul_words = st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=4)
_other_words = st.text(alphabet=st.sampled_from("éèüñçøåßÀÉ漢字語日本中文αβγδЖЩЯ0123456789"), min_size=1, max_size=6)
_words = st.one_of(_english_words, _english_words, _hangul_words, _other_words)


@st.composite
def _surface(draw: Any, words: st.SearchStrategy[str]) -> tuple[str, str]:
    """A whitespace word and the answer part of it: a bare word, a word + particle, or + punctuation."""
    word = draw(words)
    suffix = draw(st.one_of(st.just(""), st.sampled_from(KOREAN_PARTICLES), st.sampled_from(PUNCTUATION)))
    return word + suffix, word


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
    surfaces = draw(st.lists(_surface(_words), min_size=min_words, max_size=max_words))
    context_words = [surface for surface, _ in surfaces]
    separators = draw(
        st.lists(st.sampled_from([" ", " ", " ", "  ", "\n"]), min_size=len(context_words), max_size=len(context_words))
    )
    context, starts = "", []
    for word, separator in zip(context_words, separators):
        starts.append(len(context))
        context += word + separator
    context = context.rstrip()
    question = " ".join(draw(st.lists(_words, min_size=1, max_size=question_words))) + "?"
    example_id = f"gen-{draw(st.integers(0, 10**9))}"
    if allow_unanswerable and draw(st.booleans()):
        return {"id": example_id, "question": question, "context": context, "answers": {"text": [], "answer_start": []}}
    first = draw(st.integers(0, len(surfaces) - 1))
    last = draw(st.integers(first, min(len(surfaces), first + max_answer_words) - 1))
    answer_end = starts[last] + len(surfaces[last][1])
    text = context[starts[first] : answer_end]
    return {
        "id": example_id,
        "question": question,
        "context": context,
        "answers": {"text": [text], "answer_start": [starts[first]]},
    }
