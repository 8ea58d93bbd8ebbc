"""report.md of real runs: the same sections as the HTML, tables where the HTML has plots, and the
GitHub job summary."""

from __future__ import annotations

import pytest

from qadiag.errors import InputError
from qadiag.report import write_report
from tests.report.helpers import SECTIONS, overfitting_history, write_state


@pytest.fixture(params=["qa_report", "pair_report"])
def report(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def test_markdown_has_every_section_in_order(report):
    headings = [line[3:] for line in report.markdown.splitlines() if line.startswith("## ")]
    assert headings == [title for _, title in SECTIONS]
    assert report.markdown.startswith(f"# qadiag report: {report.run_dir.name}\n")


def test_markdown_has_tables_where_the_html_has_plots(qa_report):
    markdown = qa_report.markdown
    assert "<svg" not in markdown and "<" not in markdown
    assert "| step | loss | eval\\_loss |" in markdown
    assert "| step | eval\\_loss | eval\\_exact\\_match | eval\\_f1 |" in markdown
    assert "| step | learning\\_rate |" in markdown
    assert "| step | correct | samples |" in markdown
    assert "(best) |" in markdown
    assert "eval\\_loss was lowest at step " in markdown


def test_markdown_shows_findings_with_fixes_and_counts(qa_report):
    markdown = qa_report.markdown
    assert "### log-keys: 1 finding(s), 4 occurrence(s)" in markdown
    assert "- **error QD101** evaluation metric logged without its eval\\_/test\\_ prefix (filed under train/) (×4)" \
        in markdown
    assert "  **Fix:** log through evaluate(metric\\_key\\_prefix='eval')" in markdown


def test_markdown_tables_the_samples_with_verdicts_and_the_window_note(qa_report):
    markdown = qa_report.markdown
    assert "### Step 10: " in markdown and "### Step 40: " in markdown
    assert "| \\# | question | prediction | gold | correct |" in markdown
    assert "| ✓ |" in markdown or "| ✗ |" in markdown


def test_the_markdown_is_appended_to_the_github_job_summary(tmp_path, monkeypatch):
    write_state(tmp_path / "run", overfitting_history())
    summary = tmp_path / "step_summary.md"
    summary.write_text("## Earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    paths = write_report(tmp_path / "run")
    assert paths.step_summary == summary
    assert summary.read_text() == "## Earlier step\n" + paths.markdown.read_text()
    write_report(tmp_path / "run", step_summary=False)
    assert summary.read_text().count("# qadiag report: run") == 1


def test_an_unwritable_job_summary_is_an_input_error_after_the_report_is_written(tmp_path, monkeypatch):
    write_state(tmp_path / "run", overfitting_history())
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "such" / "dir" / "summary.md"))
    with pytest.raises(InputError, match=r"the report was written, but \$GITHUB_STEP_SUMMARY cannot be appended"):
        write_report(tmp_path / "run")
    assert (tmp_path / "run" / "report.md").exists()
