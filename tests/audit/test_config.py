"""`[tool.qadiag]` select / ignore / output-format for audit-logs, as ruff reads `[tool.ruff]`: from the
nearest pyproject.toml that has the table, the command line winning, mistakes a one-line exit 2."""

import json

import pytest

from qadiag.cli import main as cli
from tests.hostile.builders import trainer_state

NAN_AND_UNPREFIXED = [{"loss": float("nan"), "step": 1}, {"eval_loss": 0.5, "exact_match": 1.0, "step": 2}]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project whose run has a NaN loss (QD205) and an un-prefixed metric (QD103), audited from a
    sub-directory of the project."""
    trainer_state(tmp_path / "runs" / "out", NAN_AND_UNPREFIXED)
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    return tmp_path


def pyproject(project, table):
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.qadiag]\n" + table)


def audit(capsys, project, *args):
    code = cli(["audit-logs", str(project / "runs"), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_select_ignore_and_format_from_the_nearest_table(project, capsys):
    # the plugin's keys are there too; audit-logs needs no trainer_factory and ignores them
    pyproject(project, 'select = ["QD2"]\noutput-format = "json"\ntask = "qa"\nsteps = 20\n')
    code, out, _ = audit(capsys, project)
    assert code == 1 and [item["code"] for item in json.loads(out)] == ["QD205"]


def test_the_command_line_wins(project, capsys):
    pyproject(project, 'ignore = ["QD2"]\noutput_format = "concise"\n')
    code, out, _ = audit(capsys, project, "--ignore", "QD1", "--output-format", "json")
    assert code == 1 and [item["code"] for item in json.loads(out)] == ["QD205"]
    code, out, _ = audit(capsys, project)
    assert out.count(": QD") == 1 and " QD103 " in out  # concise, QD2 ignored


def test_a_pyproject_without_the_table_is_passed_over(project, capsys):
    pyproject(project, 'ignore = ["QD1"]\n')
    (project / "src" / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    assert audit(capsys, project, "--format", "json")[1].count('"code"') == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('output-format = "xml"\n', "output-format = 'xml' is not a format (fix: use one of concise, full,"),
        ('select = "QD1"\n', "select = 'QD1' is not a list of code prefixes"),
        ('ignore = ["E501"]\n', "ignore: E501: codes start with QD"),
        ('select = ["QD77"]\n', "select: QD77 matches no finding code"),
        ('selct = ["QD1"]\n', "unknown key 'selct' (fix: did you mean 'select'?)"),
        ("select = [\n", "cannot read it"),
    ],
)
def test_a_value_it_cannot_use_is_one_line_and_exit_2(project, capsys, table, message):
    pyproject(project, table)
    code, out, err = audit(capsys, project)
    assert (code, out) == (2, "")
    assert err.startswith(f"qadiag audit-logs: error: {project / 'pyproject.toml'}") and message in err
    assert err.count("\n") == 1
