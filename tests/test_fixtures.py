"""The bundled fixture data: answers, token alignment, long contexts, Korean, reproducible build."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from qadiag import tiny
from qadiag.tasks import all_tasks, get_task

FIXTURES = tiny.fixtures_dir()
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_fixtures.py"
QA_FILES = ("train", "validation", "validation_v2")
MAX_SEQ_LENGTH, DOC_STRIDE = 128, 32


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@cache
def qa_records(split: str) -> tuple[dict, ...]:
    return tuple(read_jsonl(FIXTURES / "qa" / f"{split}.jsonl"))


@cache
def pair_records(split: str) -> tuple[dict, ...]:
    return tuple(read_jsonl(FIXTURES / "pair" / f"{split}.jsonl"))


@cache
def tokenizer():
    return tiny.load_tokenizer()


def all_qa() -> list[dict]:
    return [record for split in QA_FILES for record in qa_records(split)]


def spans(record: dict) -> list[tuple[int, int]]:
    answers = record["answers"]
    return [(start, start + len(text)) for text, start in zip(answers["text"], answers["answer_start"])]


def context_token_counts() -> dict[str, int]:
    contexts = sorted({record["context"] for record in all_qa()})
    encoded = tokenizer()(contexts, add_special_tokens=False)
    return {context: len(ids) for context, ids in zip(contexts, encoded["input_ids"])}


def is_korean(text: str) -> bool:
    return any("HANGUL" in unicodedata.name(char, "") for char in text)


def test_split_sizes_and_fields():
    assert len(qa_records("train")) == 1600
    assert len(qa_records("validation")) == 100
    assert 25 <= len(qa_records("validation_v2")) <= 40
    assert len(pair_records("train")) == 2000
    assert len(pair_records("validation")) == 100
    for record in all_qa():
        assert list(record) == ["id", "title", "question", "context", "answers"]
    assert len({record["id"] for record in all_qa()}) == len(all_qa())
    for split in ("train", "validation"):
        for record in pair_records(split):
            assert list(record) == ["idx", "sentence1", "sentence2", "label"]


def test_every_answer_start_points_at_the_answer_text():
    for record in all_qa():
        for (start, end), text in zip(spans(record), record["answers"]["text"]):
            assert record["context"][start:end] == text, record["id"]


def test_every_answer_starts_and_ends_on_token_boundaries():
    records = all_qa()
    encoded = tokenizer()([record["context"] for record in records], return_offsets_mapping=True)
    for record, offsets in zip(records, encoded["offset_mapping"]):
        starts = {start for start, end in offsets if end > start}
        ends = {end for start, end in offsets if end > start}
        for start, end in spans(record):
            assert start in starts and end in ends, (record["id"], record["context"][start:end])


def test_no_unknown_tokens_in_any_fixture_text():
    texts = [text for record in all_qa() for text in (record["question"], record["context"])]
    texts += [
        record[key]
        for split in ("train", "validation")
        for record in pair_records(split)
        for key in ("sentence1", "sentence2")
    ]
    unk = tokenizer().unk_token_id
    assert all(unk not in ids for ids in tokenizer()(texts)["input_ids"])


def test_a_fifth_to_a_quarter_of_contexts_need_several_windows():
    counts = context_token_counts()
    long = sum(count > MAX_SEQ_LENGTH for count in counts.values())
    assert 0.18 <= long / len(counts) <= 0.27
    assert max(counts.values()) + 20 <= get_task("qa").tiny_config().max_position_embeddings


def test_some_answers_lie_beyond_the_first_window():
    records = qa_records("train") + qa_records("validation")
    first_windows = tokenizer()(
        [record["question"] for record in records],
        [record["context"] for record in records],
        truncation="only_second",
        max_length=MAX_SEQ_LENGTH,
        return_offsets_mapping=True,
    )
    beyond = 0
    for index, record in enumerate(records):
        offsets = first_windows["offset_mapping"][index]
        window_end = max(end for (_, end), seq in zip(offsets, first_windows.sequence_ids(index)) if seq == 1)
        beyond += any(end > window_end for _, end in spans(record))
    assert beyond >= 10


def test_half_the_qa_examples_are_korean_with_particles_attached_to_answers():
    for split in QA_FILES:
        korean = [record for record in qa_records(split) if is_korean(record["context"])]
        assert abs(len(korean) - len(qa_records(split)) / 2) <= 2, split
    attached = [
        record
        for record in qa_records("train")
        if is_korean(record["context"]) and any(is_korean(record["context"][end]) for _, end in spans(record))
    ]
    assert len(attached) >= 100
    tokens = tokenizer().tokenize("김민준은 부산에서 태어났다.")
    assert tokens[tokens.index("부산") + 1] == "##에서"


def test_multi_word_answers_and_answers_next_to_punctuation():
    train = qa_records("train")
    followed = [record["context"][start : end + 1] for record in train for start, end in spans(record)]
    assert sum(" " in answer[:-1] for answer in followed) >= 20
    assert sum(answer[-1] in ",.)" for answer in followed) >= 100


def test_validation_has_examples_with_several_gold_answers():
    several = [record for record in qa_records("validation") if len(record["answers"]["text"]) > 1]
    assert len(several) >= 5
    assert all(len(record["answers"]["text"]) == 1 for record in qa_records("train"))


def test_validation_v2_mixes_answerable_and_unanswerable():
    unanswerable = [record for record in qa_records("validation_v2") if not record["answers"]["text"]]
    assert 0.25 <= len(unanswerable) / len(qa_records("validation_v2")) <= 0.5
    # An answerable first record keeps the answers column's type inference easy for `datasets`.
    assert qa_records("validation_v2")[0]["answers"]["text"]
    for record in unanswerable:
        assert record["answers"] == {"text": [], "answer_start": []}


def test_pair_labels_are_balanced():
    for split in ("train", "validation"):
        labels = [record["label"] for record in pair_records(split)]
        assert set(labels) == {0, 1}
        assert labels.count(1) == len(labels) // 2, split


def test_vocab_is_small_and_matches_the_configs():
    vocab = tiny.vocab_file().read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == len(set(vocab)) <= 3000
    for task in all_tasks():
        assert task.tiny_config().vocab_size == len(vocab)


@pytest.mark.skipif(not BUILD_SCRIPT.exists(), reason="the build script ships with the repository only")
def test_build_script_reproduces_the_bundled_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--out", str(tmp_path)], check=True)
    written = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert len(written) == 8
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (FIXTURES / relative).read_bytes(), relative
