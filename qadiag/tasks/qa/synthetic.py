"""Synthetic SQuAD-format examples whose ``answer_start`` always matches the answer text: one recipe, two
sources of choices.

- :func:`qadiag.strategies.qa_examples` feeds the recipe from hypothesis (``draw``), for property tests and
  for shrinking a failing example to a minimal one;
- :func:`generated_examples` feeds it from a seeded ``random.Random``: the alignment check in every
  ``pytest --qadiag`` session uses it, because importing and starting hypothesis in a process that holds
  torch and transformers cost about 1.9 s of a 7.4 s session (its import, and a full ``gc.collect()`` on
  first use), and hypothesis is then only started to shrink an example that failed.

The recipe: English words, Korean words with attached particles (the answer is a substring of a
whitespace word, as in KLUE-MRC), punctuation glued to answers, other Unicode scripts, answers anywhere
in the context (near window edges in long contexts), optionally unanswerable questions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

KOREAN_PARTICLES = ("은", "는", "이", "가", "을", "를", "에서", "에", "의", "로", "으로", "에게", "도", "만", "이다")
PUNCTUATION = (",", ".", "!", "?", ";", ":", ")", "'", '"')
ENGLISH_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
OTHER_SCRIPTS = "éèüñçøåßÀÉ漢字語日本中文αβγδЖЩЯ0123456789"
HANGUL_SYLLABLES = "".join(map(chr, range(0xAC00, 0xD7A4)))
SEPARATORS = (" ", " ", " ", "  ", "\n")

# (alphabet, longest word): English twice as often as Hangul or another script
_SCRIPTS = ((ENGLISH_LETTERS, 9), (ENGLISH_LETTERS, 9), (HANGUL_SYLLABLES, 4), (OTHER_SCRIPTS, 6))

T = TypeVar("T")


class Choices(Protocol):
    """Where the recipe's choices come from. Strings and lists are one choice each, not one per character
    or element, so that hypothesis generates and shrinks them as strings and lists (a context drawn
    character by character made shrinking a failing example 80x slower)."""

    def integer(self, low: int, high: int) -> int:
        """An integer in ``low..high`` (both included)."""

    def pick(self, options: Sequence[T]) -> T:
        """One of ``options``."""

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        """A string of ``min_size..max_size`` characters of ``alphabet``."""

    def several(self, make: Callable[[Choices], T], min_size: int, max_size: int) -> list[T]:
        """``min_size..max_size`` results of ``make``."""


class RandomChoices:
    """Choices from a private ``random.Random``: seeded, and the process's global RNG is left alone."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)

    def pick(self, options: Sequence[T]) -> T:
        return options[self._random.randrange(len(options))]

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        return "".join(self.pick(alphabet) for _ in range(self.integer(min_size, max_size)))

    def several(self, make: Callable[[Choices], T], min_size: int, max_size: int) -> list[T]:
        return [make(self) for _ in range(self.integer(min_size, max_size))]


def qa_example(
    choices: Choices,
    *,
    min_words: int = 1,
    max_words: int = 200,
    max_answer_words: int = 4,
    allow_unanswerable: bool = False,
    question_words: int = 6,
) -> dict[str, Any]:
    """One SQuAD-format example (``id``, ``question``, ``context``, ``answers``) with consistent offsets."""
    surfaces = choices.several(_surface, min_words, max_words)
    separators = choices.several(lambda more: more.pick(SEPARATORS), len(surfaces), len(surfaces))
    context, starts = "", []
    for (word, _), separator in zip(surfaces, separators):
        starts.append(len(context))
        context += word + separator
    context = context.rstrip()
    question = " ".join(choices.several(_word, 1, question_words)) + "?"
    example_id = f"gen-{choices.integer(0, 10**9)}"
    if allow_unanswerable and choices.integer(0, 1):
        return {"id": example_id, "question": question, "context": context, "answers": {"text": [], "answer_start": []}}
    first = choices.integer(0, len(surfaces) - 1)
    last = choices.integer(first, min(len(surfaces), first + max_answer_words) - 1)
    answer_end = starts[last] + len(surfaces[last][1])
    return {
        "id": example_id,
        "question": question,
        "context": context,
        "answers": {"text": [context[starts[first] : answer_end]], "answer_start": [starts[first]]},
    }


def generated_examples(count: int, *, seed: int = 0, **options: Any) -> list[dict[str, Any]]:
    """``count`` examples of the recipe from ``random.Random(seed)``: the same list for the same seed."""
    choices = RandomChoices(seed)
    return [qa_example(choices, **options) for _ in range(count)]


def _surface(choices: Choices) -> tuple[str, str]:
    """A whitespace word and the answer part of it: a bare word, a word + particle, or + punctuation."""
    word = _word(choices)
    suffix = choices.pick(("", choices.pick(KOREAN_PARTICLES), choices.pick(PUNCTUATION)))
    return word + suffix, word


def _word(choices: Choices) -> str:
    alphabet, longest = choices.pick(_SCRIPTS)
    return choices.text(alphabet, 1, longest)
