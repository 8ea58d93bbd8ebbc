"""qadiag.tiny and the tasks' tiny models: bundled file locations, the tokenizer, seeded tiny models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qadiag import tiny
from qadiag.errors import ConfigError
from qadiag.tasks import all_tasks, get_task

QA, PAIR = get_task("qa"), get_task("pair-classification")


def same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    left, right = first.state_dict(), second.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[name], right[name]) for name in left)


def test_importing_tiny_loads_neither_torch_nor_transformers():
    code = "import sys, qadiag.tiny; sys.exit(bool({'torch', 'transformers'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_bundled_files_exist():
    assert tiny.fixtures_dir().is_dir()
    for files in (task.bundled_files() for task in all_tasks()):
        assert set(files) == {"train", "validation"}
        assert all(Path(path).is_file() for path in files.values())
    assert tiny.vocab_file().is_file()


def test_tokenizer_keeps_hangul_and_case_and_maps_offsets_back_to_the_text():
    tokenizer = tiny.load_tokenizer()
    assert tokenizer.is_fast
    text = "김민준은 부산에서 태어났다. Anna Berg was born in New York City."
    encoding = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert tokenizer.unk_token not in tokens
    assert tokens[tokens.index("부산") : tokens.index("부산") + 2] == ["부산", "##에서"]
    for token, (start, end) in zip(tokens, encoding["offset_mapping"]):
        assert text[start:end] == token.removeprefix("##")


def test_tokenizer_accepts_an_explicit_vocab_file():
    assert tiny.load_tokenizer(tiny.vocab_file()).get_vocab() == tiny.load_tokenizer().get_vocab()


def test_configs_match_their_tasks():
    qa, pair = QA.tiny_config(), PAIR.tiny_config()
    assert qa.architectures == ["BertForQuestionAnswering"]
    assert pair.architectures == ["BertForSequenceClassification"]
    assert qa.num_labels == pair.num_labels == 2
    with pytest.raises(ConfigError, match="task 'summarization' is not supported"):
        get_task("summarization")


@pytest.mark.parametrize("build", [QA.tiny_model, PAIR.tiny_model], ids=["qa", "pair"])
def test_models_are_deterministic_by_seed_and_leave_the_global_rng_alone(build):
    state = torch.random.get_rng_state()
    assert same_weights(build(seed=3), build(seed=3))
    assert not same_weights(build(seed=3), build(seed=4))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_saved_qa_model_round_trips_through_from_pretrained(tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    directory = QA.save_tiny_model(tmp_path / "qa", seed=1)
    model = AutoModelForQuestionAnswering.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert same_weights(model, QA.tiny_model(seed=1))
    text = "김민준은 어디에서 태어났는가?"
    assert tokenizer(text)["input_ids"] == tiny.load_tokenizer()(text)["input_ids"]
    assert tokenizer.model_max_length == tiny.load_tokenizer().model_max_length


def test_saved_pair_model_round_trips_through_from_pretrained(tmp_path):
    from transformers import AutoModelForSequenceClassification

    directory = PAIR.save_tiny_model(tmp_path / "pair")
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    assert same_weights(model, PAIR.tiny_model())
    assert model.config.id2label == {0: "not_equivalent", 1: "equivalent"}
