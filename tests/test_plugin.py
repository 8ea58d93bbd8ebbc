"""`pytest --qadiag` end to end with pytester, on the example project and on copies with planted bugs."""

import json
import re
import shutil

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "qa_project"
ITEMS = ["alignment", "output-capture", "loss-swap", "log-keys", "eval-loss"]


@pytest.fixture(scope="module", autouse=True)
def heavy_modules_loaded_once():
    """pytester's in-process runs drop the modules a run imported; Rust extensions (tokenizers,
    safetensors) refuse to load twice in one process, so load everything a qadiag run needs up front."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments  # noqa: F401



@pytest.fixture
def project(pytester):
    for path in EXAMPLE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = pytester.path / path.relative_to(EXAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    # keep the example's own assertions out of the bug variants: only the qadiag items matter there
    return pytester


def plant(pytester, relative, old, new):
    path = pytester.path / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run(pytester, *args):
    return pytester.runpytest("--qadiag", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", *args)


def outcomes(result):
    lines = result.stdout.lines
    return {name: ("FAILED" if any(f"FAILED qadiag::{name}" in line for line in lines) else "ok") for name in ITEMS}


def test_correct_project_passes_every_item_and_its_own_tests(project):
    result = run(project, "-v")
    result.assert_outcomes(passed=len(ITEMS) + 3)
    for name in ITEMS:
        result.stdout.fnmatch_lines([f"*qadiag::{name} PASSED*"])
    result.stdout.fnmatch_lines(
        ["qadiag: * samples captured at steps *, * decoded exactly right", "qadiag: report in *.qadiag: *report.html*"]
    )
    report = json.loads((project.path / ".qadiag" / "qadiag_report.json").read_text(encoding="utf-8"))
    assert report["schema_version"] == 1 and report["generated_by"] == "pytest --qadiag"
    assert report["findings"] == [] and report["counts"]["severity"]["error"] == 0
    assert {"qadiag", "transformers", "torch", "python"} <= set(report["versions"])
    assert (project.path / ".qadiag" / "samples.jsonl").is_file()
    assert "<svg" in (project.path / ".qadiag" / "report.html").read_text(encoding="utf-8")


def test_unprefixed_metrics_fail_log_keys_with_the_code_and_fix(project):
    plant(
        project,
        "src/qa_project/training.py",
        'metrics[key if key.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{key}"] = value',
        "metrics[key] = value",
    )
    result = run(project, "-k", "qadiag")
    assert outcomes(result)["log-keys"] == "FAILED"
    result.stdout.fnmatch_lines(
        ["*QD103 error*log-keys*exact_match*", "*fix: in your evaluate(), prefix every metric*"]
    )


def test_missing_eval_labels_fail_eval_loss_with_the_cause(project):
    plant(
        project,
        "src/qa_project/preprocessing.py",
        """    tokenized["start_positions"], tokenized["end_positions"] = _positions(tokenized, examples, tokenizer)
    sample_mapping""",
        "    sample_mapping",
    )
    plant(project, "src/qa_project/training.py", "labels = (inputs.pop", "labels = (inputs.pop")
    result = run(project, "-k", "eval-loss")
    result.stdout.fnmatch_lines(["*QD201 error*has no end_positions, start_positions column*"])


SEED_003_GUARD = (
    """        labels = (inputs.pop("start_positions"), inputs.pop("end_positions"))
        outputs = model(**inputs)
        loss = smoothed_span_loss(outputs, labels, num_items_in_batch)""",
    """        labels = None
        if self.label_smoother is not None:
            labels = (inputs.pop("start_positions"), inputs.pop("end_positions"))
        outputs = model(**inputs)
        loss = smoothed_span_loss(outputs, labels, num_items_in_batch) if labels else outputs["loss"]""",
)


def test_bypassed_custom_loss_fails_loss_swap(project):
    plant(project, "src/qa_project/training.py", *SEED_003_GUARD)
    result = run(project, "-k", "loss-swap")
    result.stdout.fnmatch_lines(["*QD301 error*loss-swap*smoothed_span_loss*"])


def test_stale_signature_is_a_finding_not_a_traceback(project):
    plant(
        project,
        "src/qa_project/training.py",
        "def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):",
        "def compute_loss(self, model, inputs, return_outputs=False):",
    )
    plant(
        project,
        "src/qa_project/training.py",
        "smoothed_span_loss(outputs, labels, num_items_in_batch)",
        "smoothed_span_loss(outputs, labels)",
    )
    result = run(project, "-k", "loss-swap or log-keys", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*QD304 error*does not accept num_items_in_batch*"])
    result.stdout.fnmatch_lines(["SKIPPED*qadiag::log-keys not run: QD304 at *training.py:18 stopped the run*"])
    assert "Traceback" not in result.stdout.str()
    assert result.stdout.str().count("QD304 error") == 1, "one cause, one finding"


def test_off_by_one_preprocessing_fails_alignment_with_a_minimal_example(project):
    plant(
        project,
        "src/qa_project/preprocessing.py",
        "        ends.append(token_end + 1)",
        "        ends.append(token_end + 2)",
    )
    result = run(project, "-k", "alignment")
    result.stdout.fnmatch_lines(["*QD501 error*alignment*labels*decode to*"])


def test_whitespace_normalised_context_fails_alignment_on_generated_examples_shrunk_by_hypothesis(project):
    """KLUE-MRC code often collapses whitespace in the context and keeps answer_start: right on the fixtures
    (single spaces), wrong where a double space or a newline precedes the answer, which only the generated
    examples have; hypothesis then shrinks the failing example."""
    plant(
        project,
        "src/qa_project/preprocessing.py",
        '        examples["context"],\n',
        '        [" ".join(context.split()) for context in examples["context"]],\n',
    )
    result = run(project, "-k", "alignment")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*QD50* error*alignment*(minimal generated example)*"])


def test_warnings_pass_unless_strict(project):
    plant(project, "pyproject.toml", 'loss = "qa_project.losses:smoothed_span_loss"\n', "")
    plant(project, "src/qa_project/training.py", *SEED_003_GUARD)
    relaxed = run(project, "-k", "loss-swap")
    relaxed.assert_outcomes(passed=1, warnings=1)
    relaxed.stdout.fnmatch_lines(["*QadiagWarning: QD302*"])
    strict = run(project, "-k", "loss-swap", "--qadiag-strict")
    strict.assert_outcomes(failed=1)


def test_junit_xml_names_the_failing_probe_and_code(project):
    plant(
        project,
        "src/qa_project/training.py",
        'metrics[key if key.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{key}"] = value',
        "metrics[key] = value",
    )
    xml = project.path / "report.xml"
    result = run(project, "-k", "log-keys", f"--junitxml={xml}", "-rf")
    text = xml.read_text(encoding="utf-8")
    assert re.search(r'<testcase[^>]*name="log-keys"', text)
    assert re.search(r'<property name="QD103" value="error: [^"\n]*exact_match', text)
    assert "<failure" in text
    # the short test summary names the first finding, not just the item
    result.stdout.fnmatch_lines(["FAILED qadiag::log-keys - QD103 *exact_match*"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('trainer_factory = "qa_project.training:build_trainer"', 'trainer_factory = "qa_project.nope:build"'),
            "there is no module 'qa_project.nope'",
        ),
        (
            ('trainer_factory = "qa_project.training:build_trainer"', 'trainer_factory = "qa_project.training:nope"'),
            "has no attribute 'nope'",
        ),
        (('trainer_factory = "qa_project.training:build_trainer"\n', ""), "no trainer factory configured"),
        (('task = "qa"', 'task = "ner"'), "task = 'ner' is not supported"),
        (('task = "qa"', 'task = "qa"\nstepz = 3'), "unknown key(s) stepz"),
    ],
)
def test_broken_config_is_one_clear_error(project, edit, message):
    plant(project, "pyproject.toml", *edit)
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: qadiag:*{message}*"])
    assert "Traceback" not in result.stderr.str()


def test_factory_asking_for_an_unknown_parameter_lists_what_is_provided(project):
    plant(
        project,
        "src/qa_project/training.py",
        "compute_metrics, post_process_function):",
        "compute_metrics, post_process_function, scheduler):",
    )
    result = run(project, "-k", "log-keys")
    result.stdout.fnmatch_lines(
        ["*QD001*training.py:*asks for 'scheduler', which qadiag does not provide*", "*fix: rename the parameter*"]
    )


def test_without_the_flag_nothing_is_added_or_imported(pytester):
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_heavy_modules_not_imported():
            assert "transformers" not in sys.modules and "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    assert "qadiag::" not in result.stdout.str()
