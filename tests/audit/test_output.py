"""`audit-logs` output as the tools people already use read it: one bug is one finding in every format, SARIF
that GitHub code scanning accepts, GitHub annotations on files with lines, ruff's options, stderr notes."""

import json
import xml.etree.ElementTree as ET

import pytest

from qadiag.cli import main as cli
from qadiag.findings import CODES
from tests.audit.helpers import only
from tests.audit.make_runs import reporters
from tests.audit.sarif import check_github_sarif

FORMATS = ("full", "concise", "json", "json-lines", "github", "sarif", "junit", "gitlab")


def audit(capsys, monkeypatch, where, *args):
    """The audit of ``where``'s subdirectories, run from ``where`` (CI runs from the repository root)."""
    monkeypatch.chdir(where)
    code = cli(["audit-logs", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def codes_per_format(out, name):
    """The code of each finding a format printed."""
    if name == "github":
        return [line.split(",title=", 1)[1].split()[0] for line in out.splitlines()]
    if name in ("concise", "full"):
        return [code for line in out.splitlines() for code in CODES if f" {code} " in f" {line} "]
    if name == "json-lines":
        return [json.loads(line)["code"] for line in out.splitlines()]
    if name in ("json", "gitlab"):
        return [entry.get("code") or entry["check_name"] for entry in json.loads(out)]
    if name == "sarif":
        return [result["ruleId"] for result in json.loads(out)["runs"][0]["results"]]
    return [case.get("classname").split(".")[1] for case in ET.fromstring(out).findall("testsuite/testcase")]


@pytest.mark.parametrize("name", FORMATS)
def test_one_bug_is_one_finding_in_every_format(hf_runs, capsys, monkeypatch, name):
    """The un-prefixed metrics of evaluate(): 2 keys in every source, 8 findings before grouping."""
    code, out, _ = audit(capsys, monkeypatch, hf_runs, "unprefixed", "--output-format", name)
    assert code == 1 and codes_per_format(out, name) == ["QD101"]
    assert "keys 'exact_match', 'f1'" in out


def test_concise_is_path_line_column_code_message(hf_runs, capsys, monkeypatch):
    _, out, _ = audit(capsys, monkeypatch, hf_runs, "wrong_prefix", "--output-format", "concise")
    path, line, column, rest = out.strip().split(":", 3)
    assert path == "wrong_prefix/out/trainer_state.json"
    state = (hf_runs / path).read_text().splitlines()
    assert state[int(line) - 1][int(column) - 1] == "{"  # the row that logged val_f1
    assert '"val_f1"' in "".join(state[int(line) - 1 : int(line) + 8])
    assert rest.startswith(" QD102 'val_f1' is filed under 'train/val_f1'")


def test_files_without_lines_are_at_line_1_column_1(hf_runs, capsys, monkeypatch):
    wandb_file = only("run-*.wandb", hf_runs / "partial_prefix").relative_to(hf_runs)
    _, out, _ = audit(capsys, monkeypatch, hf_runs, wandb_file, "--output-format", "concise")
    assert out.startswith(f"{wandb_file}:1:1: QD103 ")


def test_github_annotations_point_at_a_file_and_line(hf_runs, capsys, monkeypatch):
    _, out, _ = audit(capsys, monkeypatch, hf_runs, "wrong_prefix", "--output-format", "github")
    (line,) = out.splitlines()
    assert line.startswith("::error file=wrong_prefix/out/trainer_state.json,line=")
    assert ",col=" in line and ",title=QD102 " in line


@pytest.mark.skipif("mlflow" not in reporters(), reason="mlflow-skinny is a dev dependency")
def test_an_mlflow_file_store_finding_names_the_metric_file(logger_runs, capsys, monkeypatch):
    """The run is a directory; the evidence is in metrics/<key>, at the line of the NaN."""
    _, out, _ = audit(capsys, monkeypatch, logger_runs, "mlflow_files", "--output-format", "github")
    (line,) = out.splitlines()
    file = line.split("file=", 1)[1].split(",", 1)[0]
    assert file.startswith("mlflow_files/mlruns/") and file.endswith("/metrics/loss")
    number = int(line.split(",line=", 1)[1].split(",", 1)[0])
    assert (logger_runs / file).read_text().splitlines()[number - 1].split()[1] == "nan"


@pytest.mark.parametrize(("name", "clean"), [("concise", ""), ("github", ""), ("json-lines", ""), ("json", "[]\n"),
                                             ("gitlab", "[]\n"), ("full", "no findings\n")])
def test_a_clean_run_prints_no_finding_line(hf_runs, capsys, monkeypatch, name, clean):
    code, out, _ = audit(capsys, monkeypatch, hf_runs, "clean", "--output-format", name)
    assert (code, out) == (0, clean)


def test_a_clean_run_is_an_empty_but_valid_sarif_and_junit(hf_runs, capsys, monkeypatch):
    sarif = json.loads(audit(capsys, monkeypatch, hf_runs, "clean", "--output-format", "sarif")[1])
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1 and sarif["runs"][0]["results"] == []
    junit = ET.fromstring(audit(capsys, monkeypatch, hf_runs, "clean", "--output-format", "junit")[1])
    assert (junit.tag, junit.get("tests"), junit.get("failures")) == ("testsuites", "0", "0")


def test_sarif_meets_github_code_scanning_requirements(hf_runs, logger_runs, capsys, monkeypatch):
    _, out, _ = audit(capsys, monkeypatch, hf_runs.parent, "hf", "logs", "--output-format", "sarif")
    document = json.loads(out)
    check_github_sarif(document)
    results = document["runs"][0]["results"]
    codes = {result["ruleId"] for result in results}
    assert {"QD101", "QD102", "QD103", "QD201", "QD205", "QD206", "QD601", "QD602", "QD603"} <= codes
    unprefixed = next(result for result in results if result["ruleId"] == "QD101")
    region = unprefixed["locations"][0]["physicalLocation"]["region"]
    assert unprefixed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("trainer_state.json")
    assert region["startLine"] > 1 and region["startColumn"] > 1
    assert {"wandb", "tfevents"} <= {
        "wandb" if ".wandb" in related["physicalLocation"]["artifactLocation"]["uri"] else "tfevents"
        for related in unprefixed["relatedLocations"]
        if "trainer_state" not in related["physicalLocation"]["artifactLocation"]["uri"]
    }
    rule = next(rule for rule in document["runs"][0]["tool"]["driver"]["rules"] if rule["id"] == "QD101")
    assert "Why it matters:" in rule["help"]["text"] and "Fix:" in rule["help"]["text"]


def test_a_directory_problem_is_a_sarif_notification_not_a_result(tmp_path, capsys, monkeypatch):
    (tmp_path / "deep").mkdir()
    folder = tmp_path / "deep"
    for _ in range(70):  # past the walk's 64 levels
        folder = folder / "d"
        folder.mkdir()
    code, out, _ = audit(capsys, monkeypatch, tmp_path, "deep", "--output-format", "sarif")
    document = json.loads(out)
    check_github_sarif(document)
    run = document["runs"][0]
    assert code == 1 and run["results"] == []
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["descriptor"]["id"] == "QD911" and "nested more than 64 levels" in note["message"]["text"]


def test_junit_fails_errors_and_passes_warnings(logger_runs, capsys, monkeypatch):
    _, out, _ = audit(capsys, monkeypatch, logger_runs, "nan_hidden", "diverged", "--output-format", "junit")
    suite = ET.fromstring(out).find("testsuite")
    failing = {case.get("classname") for case in suite if case.find("failure") is not None}
    passing = {case.get("classname") for case in suite if case.find("failure") is None}
    assert failing == {"qadiag.QD205"} and passing == {"qadiag.QD206", "qadiag.QD602"}
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    strict = ET.fromstring(audit(capsys, monkeypatch, logger_runs, "diverged", "--output-format", "junit",
                                 "--strict")[1])
    assert strict.get("failures") == "1"


def test_gitlab_code_quality_fields(hf_runs, capsys, monkeypatch):
    _, out, _ = audit(capsys, monkeypatch, hf_runs, "partial_prefix", "--output-format", "gitlab")
    (issue,) = json.loads(out)
    assert issue["check_name"] == "QD103" and issue["severity"] == "major"
    assert issue["location"]["path"] == "partial_prefix/out/trainer_state.json"
    assert issue["location"]["lines"]["begin"] > 1 and len(issue["fingerprint"]) == 32
    assert issue["description"].startswith("QD103 ")


def test_format_is_an_alias_and_text_the_old_name_of_full(hf_runs, capsys, monkeypatch):
    full = audit(capsys, monkeypatch, hf_runs, "unprefixed", "--output-format", "full")
    assert audit(capsys, monkeypatch, hf_runs, "unprefixed", "--format", "text") == full
    assert audit(capsys, monkeypatch, hf_runs, "unprefixed") == full


def test_statistics_count_per_code(logger_runs, capsys, monkeypatch):
    code, out, _ = audit(capsys, monkeypatch, logger_runs, "nan_hidden", "restart", "--statistics")
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 1 and [(row[1], row[2].strip()) for row in rows] == [
        ("QD205", "error"), ("QD206", "warning"), ("QD601", "warning")
    ]
    assert [row[0].strip() for row in rows] == ["2", "2", "1"]  # occurrences: QD205 in W&B and TensorBoard
    counted = json.loads(audit(capsys, monkeypatch, logger_runs, "nan_hidden", "--statistics", "--format", "json")[1])
    assert [(row["code"], row["count"], row["findings"]) for row in counted] == [("QD205", 2, 1), ("QD206", 2, 1)]


def test_exit_zero_and_strict(logger_runs, capsys, monkeypatch):
    assert audit(capsys, monkeypatch, logger_runs, "nan_hidden", "--exit-zero")[0] == 0
    assert audit(capsys, monkeypatch, logger_runs, "diverged", "--strict")[0] == 1
    assert audit(capsys, monkeypatch, logger_runs, "diverged", "--strict", "--exit-zero")[0] == 0
    assert audit(capsys, monkeypatch, logger_runs, "missing", "--exit-zero")[0] == 2  # usage errors stay 2


def test_stderr_says_what_was_read_what_was_left_and_what_was_hidden(hf_runs, capsys, monkeypatch):
    code, out, err = audit(capsys, monkeypatch, hf_runs, "unprefixed/out", "--ignore", "QD1", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    lines = err.splitlines()
    assert lines[0] == (
        "qadiag audit-logs: read 1 run: 1 trainer_state source (3 files, 13 rows), "
        "1 tensorboard source (1 file, 13 rows)"
    )
    assert "qadiag audit-logs: warning: unprefixed/wandb is next to unprefixed/out but was not given" in err
    assert "(add it: qadiag audit-logs unprefixed/out unprefixed/wandb)" in err
    assert lines[-1] == "qadiag audit-logs: --select/--ignore hid 1 finding (QD101)"
    assert audit(capsys, monkeypatch, hf_runs, "unprefixed/out", "-q", "--ignore", "QD1")[2] == ""


def test_a_selector_that_names_no_code_is_a_usage_error(hf_runs, capsys, monkeypatch):
    code, _, err = audit(capsys, monkeypatch, hf_runs, "clean", "--select", "QD999")
    assert code == 2 and "QD999 matches no finding code" in err


@pytest.mark.parametrize("jobs", ["-1", "two"])
def test_jobs_is_a_number_of_processes(hf_runs, capsys, monkeypatch, jobs):
    code, _, err = audit(capsys, monkeypatch, hf_runs, "clean", "--jobs", jobs)
    assert code == 2 and "is not a number of processes (0: one per core)" in err
