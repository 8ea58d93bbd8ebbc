"""``alignment``: QA feature labels point at the answer (DESIGN.md bug class 5, preprocessing side).

For every feature a ``prepare_train_features`` function produces, the expected labels are derived
independently of that function: the context is tokenized on its own with offsets (once per example),
the feature's context window is located inside it, and the answer's character span is mapped to
tokens. The labels must equal that span, or both point at CLS when the answer is not entirely inside
the window. This works on any user preprocessing (it needs only ``input_ids``, ``start_positions`` and
``end_positions``) and on any fast tokenizer, in time linear in the context length.

One preprocessing bug gives one finding per code, with how many features it hit, the first few, and
the pattern when they share one ("20/20 features: labels end one token late").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qadiag.findings import Finding, FindingGroups, finding
from qadiag.outputs import structural_token_ids
from qadiag.tasks.qa.decode import cls_index
from qadiag.tasks.qa.synthetic import generated_examples

Prepare = Callable[[dict[str, list]], Mapping[str, Sequence[Any]]]
# Tokens of a window used to find where it sits in the context (shorter windows use all of theirs).
ANCHOR = 4
# Generated examples (the longest) whose windows' edges get answers of their own, and how many each (the
# first windows' edges; each is an example to preprocess and check).
EDGE_BASES = 2
EDGES_PER_BASE = 12

FIXES = {
    "QD501": "map the answer's character span to tokens with the offset mapping, restricted to the context "
    "(sequence_ids == 1 when the question comes first): see qadiag.tasks.qa.features.answer_token_span",
    "QD502": "label features whose window does not contain the whole answer with the CLS index for both start "
    "and end (run_qa.py's `if not (offsets[start] <= start_char and offsets[end] >= end_char)`)",
    "QD503": "compute the end token by walking back from the end of the context to the answer's last character",
}


@dataclass
class Mismatch:
    """One feature whose labels are wrong."""

    code: str
    example_id: str
    feature: int
    labels: tuple[int, int]
    expected: tuple[int, int]
    detail: str


@dataclass
class AlignmentResult:
    findings: list[Finding] = field(default_factory=list)
    examples: int = 0
    features: int = 0
    unverifiable: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    feature_start: int  # index in the feature of the first context token
    context_start: int  # index of that token in the context's own tokenization
    length: int


class ContextIndex:
    """The context of one example tokenized once, with an index of its token ``ANCHOR``-grams."""

    def __init__(self, context: str, tokenizer: Any) -> None:
        # the whole context at once, longer than any model input: verbose=False keeps the length warning quiet
        encoded = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        self.ids: list[int] = list(encoded["input_ids"])
        self.offsets: list[tuple[int, int]] = [tuple(pair) for pair in encoded["offset_mapping"]]
        self._anchors: dict[tuple[int, ...], list[int]] = {}
        for start in range(max(0, len(self.ids) - ANCHOR + 1)):
            self._anchors.setdefault(tuple(self.ids[start : start + ANCHOR]), []).append(start)

    def find(self, window: Sequence[int]) -> int | None:
        """Where ``window`` occurs in the context (the first occurrence), None when it does not."""
        if len(window) >= ANCHOR:
            candidates: Iterable[int] = self._anchors.get(tuple(window[:ANCHOR]), ())
        else:
            candidates = (i for i, token in enumerate(self.ids) if token == window[0]) if window else ()
        for candidate in candidates:
            if self.ids[candidate : candidate + len(window)] == list(window):
                return candidate
        return None


def locate_window(feature_ids: Sequence[int], context: ContextIndex, special_ids: set[int]) -> Window | None:
    """Where the feature's context tokens sit in the full context tokenization (the longest run that
    follows a special token and is found there)."""
    best = None
    start = 1
    while start < len(feature_ids):
        if feature_ids[start - 1] not in special_ids or feature_ids[start] in special_ids:
            start += 1
            continue
        end = start
        while end < len(feature_ids) and feature_ids[end] not in special_ids:
            end += 1
        found = context.find(feature_ids[start:end])
        if found is not None and (best is None or end - start > best.length):
            best = Window(start, found, end - start)
        start = end
    return best


def answer_tokens(offsets: Sequence[tuple[int, int]], start_char: int, end_char: int) -> tuple[int, int] | None:
    """First and last token of ``offsets`` that overlap characters ``[start_char, end_char)``."""
    import bisect

    ends = [end for _, end in offsets]
    first = bisect.bisect_right(ends, start_char)
    last = first
    while last < len(offsets) and offsets[last][0] < end_char:
        last += 1
    return (first, last - 1) if last > first else None


def expected_labels(
    feature_ids: Sequence[int], example: Mapping[str, Any], context: ContextIndex, tokenizer: Any
) -> tuple[int, int] | None:
    """The labels a correct preprocessor gives this feature; None when the window cannot be located."""
    window = locate_window(feature_ids, context, structural_token_ids(tokenizer))
    if window is None:
        return None
    cls = cls_index(feature_ids, tokenizer)
    answers = example["answers"]
    if not answers["text"]:
        return cls, cls
    start_char = answers["answer_start"][0]
    span = answer_tokens(context.offsets, start_char, start_char + len(answers["text"][0]))
    if span is None:
        return cls, cls
    first, last = span
    if first < window.context_start or last >= window.context_start + window.length:
        return cls, cls
    shift = window.feature_start - window.context_start
    return first + shift, last + shift


def window_edge_examples(example: Mapping[str, Any], prepare: Prepare, tokenizer: Any) -> list[dict[str, Any]]:
    """``example`` again with its answer at the edges of the windows ``prepare`` cuts its context into: the
    first and the last context token of every window, and a span across each window's end. Walks to the
    answer's tokens go wrong exactly there (run_qa.py's start walk runs past a window that ends on the
    answer's first token), and answers drawn anywhere in a long context rarely land on an edge."""
    try:
        features = prepare({key: [value] for key, value in example.items()})
    except Exception:  # the user's preprocessing: check_example reports it on the example itself
        return []
    context = ContextIndex(example["context"], tokenizer)
    special = structural_token_ids(tokenizer)
    spans: set[tuple[int, int]] = set()
    for ids in features.get("input_ids", []):
        window = locate_window([int(token) for token in ids], context, special)
        if window is None:
            continue
        first, last = window.context_start, window.context_start + window.length - 1
        spans.update({(first, first), (last, last), (last, min(last + 1, len(context.offsets) - 1))})
    edges = []
    for number, (first, last) in enumerate(sorted(spans)):
        start_char, end_char = context.offsets[first][0], context.offsets[last][1]
        if end_char > start_char:
            answer = {"text": [example["context"][start_char:end_char]], "answer_start": [start_char]}
            edges.append({**example, "id": f"{example.get('id', '?')}-edge-{number}", "answers": answer})
    return edges


def _preprocessing_problem(message: str, fix: str, example: Mapping[str, Any], source: str) -> Finding:
    example_id = example.get("id", "?")
    return finding("QD504", message, fix, source=source, key=str(example_id), evidence={"example": dict(example)})


def check_example(example: Mapping[str, Any], prepare: Prepare, tokenizer: Any, source: str) -> AlignmentResult:
    """Run ``prepare`` on one example and compare every feature's labels with the expected ones."""
    result = AlignmentResult(examples=1)
    example_id = str(example.get("id", "?"))
    try:
        features = prepare({key: [value] for key, value in example.items()})
    except Exception as error:  # the user's preprocessing: report it, do not crash the check
        result.findings.append(
            _preprocessing_problem(
                f"preprocessing raised {type(error).__name__}: {error} on example {example_id!r}",
                "make prepare_train_features handle this example (see the example in the evidence)",
                example,
                source,
            )
        )
        return result
    count = len(features.get("input_ids", []))
    if count == 0:
        result.findings.append(
            _preprocessing_problem(
                f"preprocessing produced no feature for example {example_id!r}",
                "every example must produce at least one feature (check filtering and truncation)",
                example,
                source,
            )
        )
        return result
    context = ContextIndex(example["context"], tokenizer)
    for index in range(count):
        result.features += 1
        ids = [int(token) for token in features["input_ids"][index]]
        labels = int(features["start_positions"][index]), int(features["end_positions"][index])
        expected = expected_labels(ids, example, context, tokenizer)
        if expected is None:
            result.unverifiable += 1
        elif labels != expected:
            result.mismatches.append(_mismatch(example_id, index, labels, expected, ids, example, tokenizer))
    return result


def _mismatch(
    example_id: str,
    feature: int,
    labels: tuple[int, int],
    expected: tuple[int, int],
    ids: Sequence[int],
    example: Mapping[str, Any],
    tokenizer: Any,
) -> Mismatch:
    start, end = labels
    answer = example["answers"]["text"][0] if example["answers"]["text"] else ""
    cls = cls_index(ids, tokenizer)
    labelled = tokenizer.decode(ids[start : end + 1]) if 0 <= start <= end < len(ids) else "<out of range>"
    if end < start:
        return Mismatch(
            "QD503", example_id, feature, labels, expected, f"end_positions {end} < start_positions {start}"
        )
    if expected == (cls, cls):
        detail = (
            f"the answer {answer!r} is not inside this window, but the labels point at tokens {start}-{end} "
            f"({labelled!r}) instead of CLS ({cls})"
        )
        return Mismatch("QD502", example_id, feature, labels, expected, detail)
    wanted = tokenizer.decode(ids[expected[0] : expected[1] + 1])
    detail = (
        f"labels {start}-{end} decode to {labelled!r}, the answer {answer!r} is at tokens "
        f"{expected[0]}-{expected[1]} ({wanted!r})"
    )
    return Mismatch("QD501", example_id, feature, labels, expected, detail)


def _tokens(count: int) -> str:
    return f"{abs(count)} token{'s' if abs(count) != 1 else ''}"


def shift_pattern(mismatches: Sequence[Mismatch]) -> str | None:
    """ "labels start 1 token late and end 1 token late" when every mismatch is shifted the same way."""
    shifts = Counter((m.labels[0] - m.expected[0], m.labels[1] - m.expected[1]) for m in mismatches)
    if len(shifts) != 1:
        return None
    ((start, end),) = shifts
    parts = []
    for edge, delta in (("start", start), ("end", end)):
        if delta:
            parts.append(f"{edge} {_tokens(delta)} {'late' if delta > 0 else 'early'}")
    return f"labels {' and '.join(parts)}" if parts else None


def summarise(mismatches: Sequence[Mismatch], features: int, source: str, examples: int = 3) -> list[Finding]:
    """One finding per code for ``mismatches``, saying how many features, the pattern, the first few."""
    by_code: dict[str, list[Mismatch]] = {}
    for mismatch in mismatches:
        by_code.setdefault(mismatch.code, []).append(mismatch)
    findings = []
    for code, group in by_code.items():
        first = group[0]
        pattern = shift_pattern(group) if code == "QD501" else None
        head = f"{len(group)}/{features} features" + (f": {pattern}" if pattern else "")
        findings.append(
            finding(
                code,
                f"{head}; e.g. example {first.example_id!r}, feature {first.feature}: {first.detail}",
                FIXES[code],
                source=source,
                key=first.example_id,
                evidence={
                    "features": features,
                    "mismatched": len(group),
                    "first": [
                        {
                            "example": m.example_id,
                            "feature": m.feature,
                            "labels": list(m.labels),
                            "expected": list(m.expected),
                        }
                        for m in group[:examples]
                    ],
                },
            )
        )
    return findings


def check_alignment(
    examples: Iterable[Mapping[str, Any]], prepare: Prepare, tokenizer: Any, *, source: str = "prepare_train_features"
) -> AlignmentResult:
    """Run ``prepare`` on each example alone and check every feature's labels; one finding per code."""
    total = AlignmentResult()
    crashes = FindingGroups()
    for example in examples:
        result = check_example(example, prepare, tokenizer, source)
        total.examples += result.examples
        total.features += result.features
        total.unverifiable += result.unverifiable
        total.mismatches.extend(result.mismatches)
        for item in result.findings:
            crashes.add(item, identity=(item.code, item.message.split(" on example ")[0]))
    total.findings = crashes.findings() + summarise(total.mismatches, total.features, source)
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
        found = result.findings + summarise(result.mismatches, result.features, source)
        if found:
            failures[:] = found[:1]
            raise AssertionError(found[0].message)

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


def check(context: Any) -> list[Finding]:
    """The registered ``alignment`` check: the context's examples first, then generated ones (edge cases the
    fixtures may lack: whitespace, scripts, particles, answers on window edges), and hypothesis only to shrink
    a generated example that fails."""
    prepare, tokenizer, source = context.prepare_train, context.tokenizer, context.prepare_source
    examples = context.train_examples
    sample = [examples[i] for i in range(min(context.settings.alignment_examples, len(examples)))]
    found = check_alignment(sample, prepare, tokenizer, source=source).findings
    count = context.settings.alignment_generated
    if found or not count:
        return found
    generated = generated_examples(count)
    longest = sorted(generated, key=lambda example: len(example["context"]), reverse=True)[:EDGE_BASES]
    generated += [edge for base in longest for edge in window_edge_examples(base, prepare, tokenizer)[:EDGES_PER_BASE]]
    found = check_alignment(generated, prepare, tokenizer, source=source).findings
    if not found:
        return []
    return check_alignment_property(prepare, tokenizer, source=source, max_examples=count) or found
