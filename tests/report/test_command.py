"""`qadiag report RUN_DIR [--output-dir DIR]`: paths printed, exit codes, one-line errors, a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qadiag.cli import USAGE, main
from tests.report.conftest import ROOT
from tests.report.helpers import overfitting_history, write_state


def test_report_writes_both_files_into_the_run_dir_and_prints_their_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_state(tmp_path, overfitting_history())
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out == f"report: {tmp_path / 'report.html'}\n        {tmp_path / 'report.md'}\n"
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_output_dir_and_job_summary(tmp_path, capsys, monkeypatch):
    write_state(tmp_path / "run", overfitting_history())
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    assert main(["report", str(tmp_path / "run"), "--output-dir", str(tmp_path / "out" / "new")]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "out" / "new" / "report.html") in out
    assert f"job summary: appended to {tmp_path / 'summary.md'}" in out
    assert not (tmp_path / "run" / "report.html").exists()


def test_an_unusable_run_dir_is_one_line_with_the_file_the_problem_and_the_fix(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"qadiag report: error: {tmp_path / 'nope'}: no such directory (fix: pass the output "
                          "directory of a training run")


def test_report_is_a_listed_command_with_help(capsys):
    assert "  report       write report.html and report.md" in USAGE
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--help"])
    assert exit_.value.code == 0
    assert "--output-dir DIR" in capsys.readouterr().out


def test_the_report_api_imports_and_plots_cheaply(tmp_path):
    """Neither importing nor writing a report (plots included) loads torch, transformers or matplotlib: the
    report is written at the end of every pytest --qadiag session, whose time users count."""
    write_state(tmp_path, overfitting_history())
    code = (
        "import json, sys\n"
        "from qadiag.report import write_report\n"
        "heavy = ('torch', 'transformers', 'matplotlib', 'matplotlib.pyplot')\n"
        "before = [m for m in heavy if m in sys.modules]\n"
        f"write_report({str(tmp_path)!r}, step_summary=False)\n"
        "print(json.dumps([before, [m for m in heavy if m in sys.modules]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [[], []]
