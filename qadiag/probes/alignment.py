"""``alignment``: QA feature labels point at the answer (DESIGN.md bug class 5, preprocessing side).

For every feature a ``prepare_train_features`` function produces, the expected labels are derived
independently of that function: the context is tokenized on its own with offsets, the feature's
context window is located inside it, and the answer's character span is mapped to tokens. The
labels must equal that span, or both point at CLS when the answer is not entirely inside the window.
This works on any user preprocessing (it needs only ``input_ids``, ``start_positions`` and
``end_positions``) and on any fast tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qadiag.findings import Finding, finding
from qadiag.probes.base import structural_token_ids

Prepare = Callable[[dict[str, list]], Mapping[str, Sequence[Any]]]


@dataclass
class AlignmentResult:
    findings: list[Finding] = field(default_factory=list)
    examples: int = 0
    features: int = 0
    unverifiable: int = 0


@dataclass(frozen=True)
class Window:
    feature_start: int  # index in the feature of the first context token
    context_start: int  # index of that token in the context's own tokenization
    length: int


def locate_window(feature_ids: Sequence[int], context_ids: Sequence[int], special_ids: set[int]) -> Window | None:
    """Where the feature's context tokens sit in the full context tokenization (longest match)."""
    positions: dict[int, list[int]] = {}
    for index, token in enumerate(context_ids):
        positions.setdefault(token, []).append(index)
    best = None
    for start in range(1, len(feature_ids)):
        if feature_ids[start - 1] not in special_ids or feature_ids[start] in special_ids:
            continue
        end = start
        while end < len(feature_ids) and feature_ids[end] not in special_ids:
            end += 1
        window = list(feature_ids[start:end])
        for candidate in positions.get(window[0], []):
            if list(context_ids[candidate : candidate + len(window)]) == window:
                if best is None or len(window) > best.length:
                    best = Window(start, candidate, len(window))
                break
    return best


def answer_tokens(offsets: Sequence[tuple[int, int]], start_char: int, end_char: int) -> tuple[int, int] | None:
    covering = [i for i, (start, end) in enumerate(offsets) if end > start_char and start < end_char]
    return (covering[0], covering[-1]) if covering else None


def expected_labels(feature_ids: Sequence[int], example: Mapping[str, Any], tokenizer: Any) -> tuple[int, int] | None:
    """The labels a correct preprocessor gives this feature; None when the window cannot be located."""
    special = structural_token_ids(tokenizer)
    encoded = tokenizer(example["context"], add_special_tokens=False, return_offsets_mapping=True)
    window = locate_window(feature_ids, encoded["input_ids"], special)
    if window is None:
        return None
    cls_index = _cls_index(feature_ids, tokenizer)
    answers = example["answers"]
    if not answers["text"]:
        return cls_index, cls_index
    start_char = answers["answer_start"][0]
    span = answer_tokens(encoded["offset_mapping"], start_char, start_char + len(answers["text"][0]))
    if span is None:
        return cls_index, cls_index
    first, last = span
    if first < window.context_start or last >= window.context_start + window.length:
        return cls_index, cls_index
    shift = window.feature_start - window.context_start
    return first + shift, last + shift


def _cls_index(feature_ids: Sequence[int], tokenizer: Any) -> int:
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    return next((i for i, token in enumerate(feature_ids) if token == cls_id), 0)


def check_example(example: Mapping[str, Any], prepare: Prepare, tokenizer: Any, source: str) -> AlignmentResult:
    result = AlignmentResult(examples=1)
    example_id = example.get("id", "?")
    batch = {key: [value] for key, value in example.items()}
    try:
        features = prepare(batch)
    except Exception as error:  # the user's preprocessing: report, don't crash the check
        result.findings.append(
            finding(
                "QD504",
                f"preprocessing raised {type(error).__name__}: {error} on example {example_id!r}",
                "make prepare_train_features handle this example (see the example in the evidence)",
                source=source,
                key=str(example_id),
                evidence={"example": dict(example)},
            )
        )
        return result
    count = len(features.get("input_ids", []))
    if count == 0:
        result.findings.append(
            finding(
                "QD504",
                f"preprocessing produced no feature for example {example_id!r}",
                "every example must produce at least one feature (check filtering and truncation)",
                source=source,
                key=str(example_id),
                evidence={"example": dict(example)},
            )
        )
    for index in range(count):
        result.features += 1
        ids = [int(token) for token in features["input_ids"][index]]
        start, end = int(features["start_positions"][index]), int(features["end_positions"][index])
        expected = expected_labels(ids, example, tokenizer)
        if expected is None:
            result.unverifiable += 1
            continue
        problem = _compare((start, end), expected, ids, example, tokenizer)
        if problem is not None:
            code, message, fix = problem
            result.findings.append(
                finding(
                    code,
                    f"example {example_id!r}, feature {index}: {message}",
                    fix,
                    source=source,
                    key=str(example_id),
                    evidence={
                        "example": dict(example),
                        "feature": index,
                        "labels": [start, end],
                        "expected": list(expected),
                    },
                )
            )
    return result


def _compare(
    labels: tuple[int, int], expected: tuple[int, int], ids: Sequence[int], example: Mapping[str, Any], tokenizer: Any
) -> tuple[str, str, str] | None:
    if labels == expected:
        return None
    start, end = labels
    answer = example["answers"]["text"][0] if example["answers"]["text"] else ""
    cls_index = _cls_index(ids, tokenizer)
    labelled = tokenizer.decode(ids[start : end + 1]) if 0 <= start <= end < len(ids) else "<out of range>"
    if end < start:
        return (
            "QD503",
            f"end_positions {end} < start_positions {start}",
            "compute the end token by walking back from the end of the context to the answer's last character",
        )
    if expected == (cls_index, cls_index):
        return (
            "QD502",
            f"the answer {answer!r} is not inside this window, but the labels point at tokens "
            f"{start}-{end} ({labelled!r}) instead of CLS ({cls_index})",
            "label features whose window does not contain the whole answer with the CLS index for both "
            "start and end (run_qa.py's `if not (offsets[start] <= start_char and offsets[end] >= end_char)`)",
        )
    wanted = tokenizer.decode(ids[expected[0] : expected[1] + 1])
    return (
        "QD501",
        f"labels {start}-{end} decode to {labelled!r}, the answer {answer!r} is at tokens "
        f"{expected[0]}-{expected[1]} ({wanted!r})",
        "map the answer's character span to tokens with the offset mapping, restricted to the context "
        "(sequence_ids == 1 when the question comes first): see qadiag.tasks.qa.features.answer_token_span",
    )


def check_alignment(
    examples: Iterable[Mapping[str, Any]],
    prepare: Prepare,
    tokenizer: Any,
    *,
    source: str = "prepare_train_features",
    max_findings: int = 20,
) -> AlignmentResult:
    """Run ``prepare`` on each example alone and check every feature's labels."""
    total = AlignmentResult()
    for example in examples:
        result = check_example(example, prepare, tokenizer, source)
        total.examples += result.examples
        total.features += result.features
        total.unverifiable += result.unverifiable
        total.findings.extend(result.findings[: max(0, max_findings - len(total.findings))])
    return total


def check_alignment_property(
    prepare: Prepare,
    tokenizer: Any,
    *,
    max_examples: int = 60,
    source: str = "prepare_train_features",
    **strategy_options: Any,
) -> list[Finding]:
    """The same check on hypothesis-generated examples (``qadiag.strategies.qa_examples``), shrunk to a
    minimal failing example when one fails."""
    from hypothesis import HealthCheck, given, settings

    from qadiag.strategies import qa_examples

    failures: list[Finding] = []

    @settings(
        max_examples=max_examples,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(qa_examples(**strategy_options))
    def property_holds(example: dict[str, Any]) -> None:
        result = check_example(example, prepare, tokenizer, source)
        if result.findings:
            failures[:] = result.findings[:1]
            raise AssertionError(result.findings[0].message)

    try:
        property_holds()
    except AssertionError:
        return [
            finding(
                item.code,
                f"{item.message} (minimal generated example)",
                item.fix,
                source=item.source,
                key=item.key,
                evidence=item.evidence,
            )
            for item in failures
        ]
    return []


def _describe(example: Mapping[str, Any]) -> str:
    answers = example["answers"]
    answer = f"{answers['text'][0]!r} at {answers['answer_start'][0]}" if answers["text"] else "none"
    return f"question={example['question']!r}, context={example['context']!r}, answer={answer}"
