"""`qadiag train`: argument handling and bad input (one-line errors, exit 2, nothing written)."""

import json
import subprocess
import sys

import pytest

from qadiag.cli import main
from qadiag.train import parse_arguments


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


GOOD = {"id": "a", "question": "Where?", "context": "She lives in Busan.", "answers": {"text": ["Busan"],
                                                                                       "answer_start": [13]}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({k: v for k, v in GOOD.items() if k != "question"}, "field 'question' is missing"),
        ({**GOOD, "context": "   "}, "field 'context' is empty"),
        ({**GOOD, "answers": {"text": ["Busan"], "answer_start": [3]}}, "answer_start 3 points at ' live'"),
        ({**GOOD, "answers": {"text": ["Seoul"], "answer_start": [0]}}, "the text is not in the context"),
        ({**GOOD, "answers": {"text": ["Busan", "x"], "answer_start": [13]}}, "2 text(s) but 1 answer_start"),
        ({**GOOD, "answers": "Busan"}, "field 'answers' must be"),
    ],
)
def test_bad_qa_records_are_one_line_errors_naming_file_and_record(tmp_path, capsys, record, expected):
    train = write_jsonl(tmp_path / "train.jsonl", [GOOD, {**record, "id": "b"}])
    output_dir = tmp_path / "out"
    code = main(["train", "--train_file", str(train), "--validation_file", str(train),
                 "--output_dir", str(output_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert str(train) in err and "line 2" in err and expected in err
    assert not output_dir.exists()


def test_invalid_json_and_unreadable_files(tmp_path, capsys):
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(GOOD) + "\n{not json\n", encoding="utf-8")
    assert main(["train", "--train_file", str(broken), "--output_dir", str(tmp_path / "o")]) == 2
    assert "line 2" in capsys.readouterr().err
    assert main(["train", "--train_file", str(tmp_path / "missing.jsonl"), "--output_dir", str(tmp_path / "o")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["train", "--train_file", str(binary), "--output_dir", str(tmp_path / "o")]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_bad_pair_records(tmp_path, capsys):
    train = write_jsonl(tmp_path / "pairs.jsonl", [{"sentence1": "a", "sentence2": "b", "label": "yes"}])
    assert main(["train", "--task", "pair-classification", "--train_file", str(train),
                 "--output_dir", str(tmp_path / "o")]) == 2
    assert "field 'label' is 'yes'" in capsys.readouterr().err


def test_unknown_task_and_unknown_probe_exit_2_without_traceback(tmp_path):
    for extra in (["--task", "summarization"], ["--probes", "loss-swapp"]):
        result = subprocess.run([sys.executable, "-m", "qadiag", "train", "--output_dir", str(tmp_path / "o"), *extra],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
    assert "loss-swap" in result.stderr  # the unknown probe's error lists the real names


def test_defaults_are_tuned_for_the_tiny_model_but_explicit_flags_win():
    _task_args, args = parse_arguments(["--learning_rate", "0.01", "--output_dir", "x"])
    assert args.learning_rate == 0.01
    assert args.eval_strategy == "epoch" and args.do_train and args.do_eval
    assert args.report_to == [] or args.report_to == "none"
    _, args = parse_arguments(["--model_name_or_path", "somewhere", "--output_dir", "x"])
    assert args.learning_rate == 5e-5  # HF's default for a real checkpoint


def test_model_path_that_is_not_a_model_directory(tmp_path, capsys):
    assert main(["train", "--model_name_or_path", str(tmp_path), "--output_dir", str(tmp_path / "o")]) == 2
    assert "cannot load a model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "code",
    [
        "import qadiag, qadiag.api, qadiag.distributed",
        "from qadiag.cli import main; main(['--help'])",
        "from qadiag.cli import main\ntry: main(['audit-logs', '--help'])\nexcept SystemExit: pass",
    ],
    ids=["import", "help", "audit-logs-help"],
)
def test_import_and_help_load_neither_torch_nor_transformers(code):
    check = "import sys; sys.exit(' '.join(sorted({'torch', 'transformers'} & set(sys.modules))) or 0)"
    result = subprocess.run([sys.executable, "-c", f"{code}\n{check}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


PAIRS = [{"sentence1": "a b", "sentence2": "b a", "label": 0}, {"sentence1": "c d", "sentence2": "d c", "label": 1}]


def test_a_label_the_model_cannot_predict_stops_before_anything_is_written(tmp_path, capsys):
    train = write_jsonl(tmp_path / "pairs.jsonl", [*PAIRS, {"sentence1": "e", "sentence2": "f", "label": 2}])
    output_dir = tmp_path / "out"
    code = main(["train", "--task", "pair-classification", "--train_file", str(train), "--validation_file",
                 str(train), "--output_dir", str(output_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "line 3" in err and "predicts 2 classes" in err
    assert not output_dir.exists()


def test_an_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    occupied = tmp_path / "taken"
    occupied.write_text("not a directory", encoding="utf-8")
    assert main(["train", "--output_dir", str(occupied / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a file" in err
    assert occupied.read_text(encoding="utf-8") == "not a directory"


@pytest.mark.parametrize("checkpoint", ["latest", "no/such/checkpoint-5"])
def test_a_resume_checkpoint_that_is_not_there_is_one_line(tmp_path, capsys, checkpoint):
    output_dir = tmp_path / "run"
    assert main(["train", "--output_dir", str(output_dir), "--resume_from_checkpoint", checkpoint]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "resume_from_checkpoint" in err
    assert not output_dir.exists()


def test_an_unknown_flag_is_argparse_usage_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qadiag", "train", "--output_dir", str(tmp_path / "o"),
                             "--no_such_flag", "1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "usage: qadiag train" in result.stderr and "unrecognized arguments: --no_such_flag 1" in result.stderr
    assert "Traceback" not in result.stderr
