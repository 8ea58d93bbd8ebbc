"""`qadiag audit-logs` end to end: real runs in, findings and exit codes out."""

import json
import os
import subprocess
import sys

import pytest

from qadiag.cli import main as cli
from tests.audit.helpers import ROOT, only
from tests.audit.make_runs import reporters


def audit(capsys, *args):
    code = cli(["audit-logs", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def audit_json(capsys, *args):
    code, out, _ = audit(capsys, *args, "--format", "json")
    return code, json.loads(out)


def kind_of(source):
    if source.endswith(".wandb"):
        return "wandb"
    if "tfevents" in source:
        return "tensorboard"
    return "trainer_state" if source.endswith("trainer_state.json") else "mlflow"


def sources_of(item):
    """The files a finding covers: its own, and those of the same cause (grouped findings)."""
    return item.get("evidence", {}).get("covers", {}).get("sources", [item["source"]])


def kinds_with(findings, code):
    return {kind_of(source) for item in findings if item["code"] == code for source in sources_of(item)}


def test_a_clean_trainer_run_passes(hf_runs, capsys):
    code, out, _ = audit(capsys, hf_runs / "clean")
    assert (code, out.strip()) == (0, "no findings")


@pytest.mark.parametrize(
    ("variant", "code", "keys"),
    [
        ("unprefixed", "QD101", {"exact_match", "f1"}),
        ("wrong_prefix", "QD102", {"val_f1"}),
        ("partial_prefix", "QD103", {"f1"}),
    ],
)
def test_each_namespace_bug_is_one_finding_covering_every_source(hf_runs, capsys, variant, code, keys):
    exit_code, findings = audit_json(capsys, hf_runs / variant)
    assert exit_code == 1
    (bug,) = findings  # one cause, one finding, however many keys, steps and sources show it
    assert bug["code"] == code and bug["run"] == str(hf_runs / variant / "out")
    covers = bug["evidence"]["covers"]
    assert set(covers["keys"]) == keys and covers["steps"] == [4, 8, 12]
    assert kinds_with(findings, code) == {"trainer_state", *reporters()}
    # 3 evaluations, each logged to trainer_state.json and every reporter
    assert bug["count"] == 3 * len(keys) * (len(reporters()) + 1)
    assert f"the same cause in {len(reporters()) + 1} sources: trainer_state, wandb" in bug["message"]
    assert bug["source"].endswith("trainer_state.json") and bug["line"] > 1 and bug["column"] > 1


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("nan_hidden", {("QD206", "trainer_state"), ("QD205", "wandb"), ("QD205", "tensorboard")}),
        ("diverged", {("QD602", "wandb")}),
        ("eval_gaps", {("QD603", "wandb"), ("QD204", "wandb")}),
        ("no_eval_loss", {("QD201", "trainer_state"), ("QD201", "wandb"), ("QD201", "tensorboard")}),
        ("restart", {("QD601", "tensorboard")}),
    ],
)
def test_cross_source_problems(logger_runs, capsys, scenario, expected):
    _, findings = audit_json(capsys, logger_runs / scenario)
    found = {(item["code"], kind) for item in findings for kind in kinds_with([item], item["code"])}
    assert found == expected


def test_the_hidden_nan_names_the_step_the_sources_and_the_line(logger_runs, capsys):
    _, findings = audit_json(capsys, logger_runs / "nan_hidden", "--select", "QD206")
    (hidden,) = findings  # seen by W&B and by TensorBoard: one run, one cause
    assert (hidden["step"], hidden["key"], hidden["count"]) == (3, "loss", 2)
    assert hidden["message"].startswith("loss at step 3 is nan in wandb but 0.333333 here")
    assert hidden["source"].endswith("nan_hidden/out/trainer_state.json")
    state = (logger_runs / "nan_hidden" / "out" / "trainer_state.json").read_text().splitlines()
    assert '"step": 3' in "".join(state[hidden["line"] - 1 : hidden["line"] + 8])  # the row of step 3


def test_full_report_groups_by_run_and_source_with_the_fix(hf_runs, capsys):
    code, out, _ = audit(capsys, hf_runs / "unprefixed")
    lines, out_dir = out.splitlines(), hf_runs / "unprefixed" / "out"
    assert code == 1 and lines[0] == f"== {out_dir} | {out_dir / 'trainer_state.json'}"
    assert lines[1].startswith("QD101 error   log-keys step 4 [exact_match] line ")
    assert lines[2].startswith("    fix: in your evaluate(), prefix every metric")
    assert lines[3].startswith("    also in: ") and ".wandb" in lines[3] and "tfevents" in lines[3]
    assert lines[4:] == ["1 error(s), 0 warning(s), 0 info"]


def test_github_annotations(hf_runs, capsys):
    _, out, _ = audit(capsys, hf_runs / "wrong_prefix", "--format", "github")
    lines = out.strip().splitlines()
    assert lines and all(line.startswith("::error file=") and ",title=QD102 " in line for line in lines)


def test_select_ignore_and_strict(logger_runs, capsys):
    diverged = logger_runs / "diverged"
    assert audit(capsys, diverged)[0] == 0  # a warning only
    assert audit(capsys, diverged, "--strict")[0] == 1
    assert audit(capsys, diverged, "--strict", "--ignore", "QD6")[0:2] == (0, "no findings\n")
    assert audit_json(capsys, logger_runs, "--select", "qd60,QD2")[1]
    assert {i["code"][:4] for i in audit_json(capsys, logger_runs, "--select", "qd60,QD2")[1]} == {
        "QD60",
        "QD20",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "looked for trainer_state.json"),
        (["--select", "E501"], "codes start with QD"),
        (["--format", "xml"], "invalid choice"),
    ],
)
def test_usage_errors_and_empty_trees_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "notes.txt").write_text("no logs here")
    code, _, err = audit(capsys, tmp_path, *args)
    assert code == 2 and message in err


def test_a_missing_directory_exits_2(tmp_path, capsys):
    code, _, err = audit(capsys, tmp_path / "nope")
    assert code == 2 and "no such file or directory" in err


def test_symlinks_and_overlapping_arguments_count_once(hf_runs, capsys):
    home = hf_runs / "unprefixed"
    assert (home / "wandb" / "latest-run").is_symlink()
    _, once = audit_json(capsys, home)
    mlruns = [home / "mlruns"] if (home / "mlruns").exists() else []
    _, twice = audit_json(capsys, home, home / "out", home / "wandb" / "latest-run", *mlruns)
    assert len(twice) == len(once) == 1
    assert twice[0]["count"] == once[0]["count"] == 2 * 3 * (len(reporters()) + 1)


def test_auditing_writes_nothing(logger_runs, capsys):
    def snapshot():
        return {p: p.stat().st_mtime_ns for p in logger_runs.rglob("*") if not p.is_symlink()}

    before = snapshot()
    audit(capsys, logger_runs)
    assert snapshot() == before


def test_importing_the_audit_loads_no_ml_framework():
    code = (
        "import sys, qadiag.audit.command, qadiag.audit.rules, qadiag.audit.readers.trainer_state;"
        "heavy = {'torch', 'transformers', 'wandb', 'tensorboard', 'mlflow'} & set(sys.modules);"
        "sys.exit(sorted(heavy) or 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_a_single_log_file_can_be_audited(hf_runs, capsys):
    wandb_file = only("run-*.wandb", hf_runs / "partial_prefix")
    code, findings = audit_json(capsys, wandb_file)
    assert code == 1 and {(item["code"], item["source"]) for item in findings} == {("QD103", str(wandb_file))}


def test_progress_line_counts_bytes_of_the_sources(hf_runs):
    import io

    from qadiag.audit.command import Progress
    from qadiag.audit.discover import discover

    sources = discover([hf_runs / "clean"]).sources
    stream = io.StringIO()
    progress = Progress(sources, stream)
    for source in sources:
        progress.finished(source)
    progress.close()
    shown = stream.getvalue().split("\r")
    assert "(100%)" in shown[-3] and shown[-3].rstrip().endswith(sources[-1].name[-40:])
    assert all(len(line) <= 100 for line in shown)
    assert shown[-1] == "" and shown[-2].strip() == ""
