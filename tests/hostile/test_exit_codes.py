"""Exit codes as ruff has them: 0 clean, 1 findings, 2 abnormal. A reader that fails on one file costs that
file (QD910) and the audit goes on; a failure outside the readers is exit 2, said to be an internal error,
with where to report it (it used to exit 1, the same as "error findings")."""

import json
import math
import subprocess
import sys

from qadiag.audit import REPORT_BUGS_AT, rules
from qadiag.audit.readers import trainer_state
from qadiag.cli import main as cli
from tests.audit.helpers import ROOT
from tests.hostile.builders import trainer_state as write_state


def audit(capsys, *args):
    code = cli(["audit-logs", *map(str, args), "--format", "json"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def two_runs(run_dir):
    write_state(run_dir / "a", [{"loss": math.nan, "step": 1}])
    write_state(run_dir / "b", [{"loss": math.nan, "step": 1}])


def test_a_reader_failing_on_one_file_costs_that_file_only(run_dir, capsys, monkeypatch):
    two_runs(run_dir)
    real = trainer_state._step

    def failing_in_a(row, problems, offset):
        if "/a/" in problems.file:
            raise RuntimeError("a bug in a reader\n::error::x")
        return real(row, problems, offset)

    monkeypatch.setattr(trainer_state, "_step", failing_in_a)
    code, out, _ = audit(capsys, run_dir)
    findings = {(item["code"], item["source"].split("/")[-2]) for item in json.loads(out)}
    assert code == 1 and findings == {("QD910", "a"), ("QD205", "b")}
    crashed = next(item for item in json.loads(out) if item["code"] == "QD910")
    assert "RuntimeError: a bug in a reader\\n::error::x" in crashed["message"]  # escaped, as data
    assert REPORT_BUGS_AT in crashed["fix"]


def test_an_error_outside_the_readers_exits_2_and_says_so(run_dir, capsys, monkeypatch):
    two_runs(run_dir)

    def failing(self, row, kind):
        raise ZeroDivisionError("a bug in a rule")

    monkeypatch.setattr(rules.StepOrder, "check", failing)
    code, out, err = audit(capsys, run_dir)
    assert (code, out) == (2, "")
    assert err.startswith("qadiag audit-logs: internal error: ZeroDivisionError: a bug in a rule\n")
    assert f"please report it at {REPORT_BUGS_AT}" in err
    assert "qadiag/audit/pipeline.py" in err and "in failing" in err  # the traceback, for the report


def test_the_command_line_exit_codes(run_dir, tmp_path):
    """0, 1 and 2 as the installed command returns them (a real interpreter, not main() in-process)."""
    write_state(run_dir / "clean", [{"loss": 0.5, "step": 1}])
    write_state(run_dir / "nan", [{"loss": math.nan, "step": 1}])

    def exit_code(*args):
        command = [sys.executable, "-m", "qadiag", "audit-logs", *map(str, args)]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True).returncode

    assert exit_code(run_dir / "clean") == 0
    assert exit_code(run_dir / "nan") == 1
    assert exit_code(tmp_path / "missing") == 2
    assert exit_code(run_dir, "--select", "E501") == 2
