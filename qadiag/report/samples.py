"""``samples.jsonl`` -> the samples tables: a few capture steps in full, the rest counted.

The output-capture probe appends one line per decoded sample for the whole run, so the file can hold
100k lines. The report shows the first and last few capture steps in full (with a bounded number of
samples each) and counts every step, so its size does not grow with the run. Records that say
nothing about correctness get it computed here: QA compares prediction and gold ignoring case and
whitespace (decoded WordPiece text is spaced differently from the source text), pair classification
compares the labels.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qadiag.report.files import LineReader, size_text
from qadiag.report.text import clip

SAMPLES_FILE = "samples.jsonl"
STEPS_SHOWN_EACH_END = 3  # capture steps shown in full at the start and at the end of the run
SAMPLES_SHOWN_PER_STEP = 16
STEPS_COUNTED = 100_000  # distinct capture steps whose counts are kept
READ_REGION = 32 << 20  # bytes read from the start and from the end of the file
MAX_LINE = 1 << 20
TEXT_WIDTH = 200
INDEX_WIDTH = 40
WINDOW_NOTE = "the answer is outside this window: the gold span is the null answer"


@dataclass(frozen=True)
class Sample:
    step: int
    index: str  # the record's "sample" (and rank), as shown
    task: str  # "qa" or "pair-classification"
    input: str  # the question (QA) or the sentence pair (pair classification)
    prediction: str
    gold: str
    correct: bool
    note: str


@dataclass
class StepSamples:
    step: int
    shown: list[Sample] = field(default_factory=list)
    total: int = 0
    correct: int = 0


@dataclass
class SampleLog:
    """What the report shows of ``samples.jsonl``."""

    first: list[StepSamples]  # the first capture steps, in full
    last: list[StepSamples]  # the last capture steps, in full (none when the run has few steps)
    counts: dict[int, tuple[int, int]]  # step -> (samples, correct), for every counted step
    tasks: set[str]
    problems: list[tuple[str, str]]  # (problem, fix) for the report's notes

    @property
    def total(self) -> int:
        return sum(total for total, _ in self.counts.values())

    @property
    def correct(self) -> int:
        return sum(correct for _, correct in self.counts.values())

    @property
    def not_shown(self) -> tuple[int, int]:
        """(capture steps, samples) between the first and the last steps shown."""
        shown = [*self.first, *self.last]
        steps = len(self.counts) - sum(kept.step in self.counts for kept in shown)
        samples = self.total - sum(self.counts.get(kept.step, (0, 0))[0] for kept in shown)
        return steps, samples


def normalized(text: str) -> str:
    return "".join(text.split()).casefold()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_sample(record: Any) -> Sample | None:
    """One record of ``samples.jsonl`` as a table row; None when it is not a sample record."""
    if not isinstance(record, dict):
        return None
    step = _int(record.get("step"))
    if step is None:
        return None
    index = clip(_text(record.get("sample")), INDEX_WIDTH)
    if "rank" in record:
        index += f" (rank {clip(_text(record['rank']), INDEX_WIDTH)})"
    prediction, gold, note = _text(record.get("prediction")), _text(record.get("gold")), _text(record.get("note"))
    stated = _bool(record.get("correct"))
    if "question" in record:
        task, given = "qa", _text(record["question"])
        correct = normalized(prediction) == normalized(gold)
        if not note and not gold.strip():
            answer = _text(record.get("answer"))
            note = f"{WINDOW_NOTE} (the example's answer is {answer!r})" if answer.strip() else WINDOW_NOTE
    elif "text" in record:
        task, given = "pair-classification", _text(record["text"])
        correct = prediction.strip() == gold.strip()
    else:
        return None
    return Sample(
        step=step,
        index=index,
        task=task,
        input=clip(given, TEXT_WIDTH),
        prediction=clip(prediction, TEXT_WIDTH),
        gold=clip(gold, TEXT_WIDTH),
        correct=correct if stated is None else stated,
        note=clip(note, TEXT_WIDTH),
    )


class _Collector:
    """Keeps the first and the latest few capture steps in full, counts every step and the bad lines."""

    def __init__(self) -> None:
        self.first: dict[int, StepSamples] = {}
        self.last: OrderedDict[int, StepSamples] = OrderedDict()
        self.counts: dict[int, tuple[int, int]] = {}
        self.uncounted = 0
        self.tasks: set[str] = set()
        self.bad = 0
        self.first_bad_lines: list[int] = []

    def add_line(self, number: int, line: bytes) -> None:
        try:
            sample = parse_sample(json.loads(line))
        except (ValueError, RecursionError):
            sample = None
        if sample is None:
            self.bad += 1
            if len(self.first_bad_lines) < 3:
                self.first_bad_lines.append(number)
            return
        self.tasks.add(sample.task)
        self._keep(sample)
        total, correct = self.counts.get(sample.step, (0, 0))
        if not total and len(self.counts) >= STEPS_COUNTED:
            self.uncounted += 1
            return
        self.counts[sample.step] = (total + 1, correct + sample.correct)

    def _keep(self, sample: Sample) -> None:
        step = sample.step
        if step in self.first or (step not in self.last and len(self.first) < STEPS_SHOWN_EACH_END):
            kept = self.first.setdefault(step, StepSamples(step))
        else:
            kept = self.last.get(step)
            if kept is None:
                kept = self.last[step] = StepSamples(step)
                if len(self.last) > STEPS_SHOWN_EACH_END:
                    self.last.popitem(last=False)
        kept.total += 1
        kept.correct += sample.correct
        if len(kept.shown) < SAMPLES_SHOWN_PER_STEP:
            kept.shown.append(sample)


def read_samples(root: Path, relative: str = SAMPLES_FILE) -> SampleLog:
    """Read ``samples.jsonl`` (bounded); raises :class:`qadiag.report.files.Unusable` if it cannot be opened."""
    reader = LineReader(root, relative, region=READ_REGION, max_line=MAX_LINE)
    collector = _Collector()
    for number, line in enumerate(reader, start=1):
        if line.strip():
            collector.add_line(number, line)
    return SampleLog(
        first=list(collector.first.values()),
        last=list(collector.last.values()),
        counts=collector.counts,
        tasks=collector.tasks,
        problems=_problems(relative, reader, collector),
    )


def _problems(relative: str, reader: LineReader, collector: _Collector) -> list[tuple[str, str]]:
    problems = []
    if collector.bad:
        first = ", ".join(str(number) for number in collector.first_bad_lines)
        skipped = " (counted as if the skipped middle of the file were not there)" if reader.skipped_bytes else ""
        problems.append((
            f"{relative}: {collector.bad} line(s) are not sample records (JSON objects with step, prediction, gold "
            f"and a question or text), first at line(s) {first}{skipped}; they were left out",
            "nothing to fix if the run was killed while writing the last line; otherwise the file was edited or "
            "written by something other than the output-capture probe",
        ))
    if reader.long_lines:
        problems.append((
            f"{relative}: {reader.long_lines} line(s) longer than {size_text(MAX_LINE)} were left out",
            "a sample record is a few hundred bytes: these lines were not written by the output-capture probe",
        ))
    if reader.skipped_bytes:
        problems.append((
            f"{relative} is {size_text(reader.size)}: the first and last {size_text(READ_REGION)} were read and "
            f"{size_text(reader.skipped_bytes)} in the middle were not",
            "nothing to fix: the capture steps in the middle are neither shown nor counted; capture less often "
            "(--capture_every) for a smaller file",
        ))
    if collector.uncounted:
        problems.append((
            f"{relative}: more than {STEPS_COUNTED:,} capture steps; {collector.uncounted} samples of later steps "
            "were not counted",
            "capture less often (--capture_every) for a smaller file",
        ))
    return problems
