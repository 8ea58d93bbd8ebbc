"""Everything from the run dir is untrusted (a pull request can shape it in CI): hostile metric keys,
questions, predictions, findings, settings and paths come out as inert text in HTML and Markdown."""

from __future__ import annotations

import re

import pytest

from qadiag.report import write_report
from qadiag.report.markdown import escape_markdown
from tests.report.helpers import (
    HOSTILE,
    external_references,
    html_parse_errors,
    parse_html,
    schema_1_report,
    text_of,
    write_json,
    write_jsonl,
    write_state,
)

SCRIPT = "</td></tr></table></pre><script>alert(1)</script>"
PIPES = "| a | b |"
TICKS = "``` `x` ```"
HEADING = "# not a heading"
SVG_ESCAPE = "--> ]]> <svg onload=alert(1)> $\\frac{1}{0}$"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    run = tmp_path_factory.mktemp("hostile") / "run"
    key = f"eval_{HOSTILE}"
    write_state(run, [
        {"loss": 1.0, "learning_rate": 1e-3, "step": 1},
        {key: 0.5, f"eval_{SVG_ESCAPE}": 1.0, "eval_loss": 0.9, "step": 1},
        {"loss": 0.8, "learning_rate": 1e-3, "step": 2},
        {HEADING: 3.0, "step": 2},
        {key: 0.7, f"eval_{SVG_ESCAPE}": 2.0, "eval_loss": 0.8, "step": 2},
    ])
    write_jsonl(run / "samples.jsonl", [
        {"step": 1, "sample": HOSTILE, "question": HOSTILE, "prediction": SCRIPT, "gold": PIPES, "note": TICKS},
        {"step": 2, "sample": 0, "text": HEADING, "prediction": PIPES, "gold": HOSTILE, "rank": SCRIPT},
    ])
    finding = {"code": f"QD101{HOSTILE}", "probe": f"<i>{HOSTILE}</i>", "severity": SCRIPT, "title": TICKS,
               "message": f"{HOSTILE} {PIPES}", "fix": f"{HEADING} {SCRIPT}", "source": HOSTILE, "key": PIPES,
               "evidence": {HOSTILE: SCRIPT}}
    crash = {"code": "QD308", "message": HOSTILE, "location": SCRIPT,
             "traceback": f"Traceback:\n  {SCRIPT}\n```\n{HOSTILE}\n````"}
    write_json(run / "qadiag_report.json", schema_1_report(
        HOSTILE, run, findings=[finding], crash=crash, run_dir=SCRIPT,
        settings={HOSTILE: "javascript:alert(1)", "report_to": [SCRIPT]},
        outputs={"wandb": "https://evil.example/x.js", "tensorboard": [HOSTILE], "predictions": [SCRIPT]},
        versions={"qadiag": HOSTILE}, generated_by=SCRIPT))
    paths = write_report(run, step_summary=False)
    return paths.html.read_text(encoding="utf-8"), paths.markdown.read_text(encoding="utf-8")


def test_hostile_strings_are_text_in_the_html(hostile_report):
    html, _ = hostile_report
    assert html_parse_errors(html) == []
    tree = parse_html(html)
    tags = {element.tag.rsplit("}", 1)[-1] for element in tree.iter() if isinstance(element.tag, str)}
    assert not tags & {"img", "script", "i", "iframe", "object", "embed"}
    handlers = [(element.tag, name) for element in tree.iter() for name in element.attrib
                if name.rsplit("}", 1)[-1].lower().startswith("on")]
    assert handlers == []
    assert external_references(html) == []
    text = text_of(tree)
    for hostile in (HOSTILE, "<script>alert(1)</script>", PIPES, "javascript:alert(1)", "https://evil.example/x.js"):
        assert hostile in text


def test_hostile_metric_keys_are_text_in_the_plots(hostile_report):
    html, _ = hostile_report
    titles = [
        "".join(text.itertext()) for text in parse_html(html).iter("{http://www.w3.org/2000/svg}text")
    ]
    assert f"eval_{HOSTILE}" in titles
    assert f"eval_{SVG_ESCAPE}" in titles  # math text off: drawn as written, not parsed


def _outside_code(markdown: str) -> str:
    return re.sub(r"^(`{3,})text\n.*?\n\1$", "", markdown, flags=re.DOTALL | re.MULTILINE)


def test_hostile_strings_are_text_in_the_markdown(hostile_report):
    _, markdown = hostile_report
    prose = _outside_code(markdown)
    assert "<" not in prose and ">" not in prose.replace("&gt;", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in prose
    assert re.search(r"(?<!\\)`", prose) is None, "every backtick outside the code block is escaped"
    headings = [line for line in prose.splitlines() if line.startswith("#")]
    assert all(re.match(r"#{1,3} [^#]", line) for line in headings)
    assert "\\# not a heading" in prose
    assert _table_rows_with_a_wrong_cell_count(prose) == []


def _cells(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line)) - 2


def _table_rows_with_a_wrong_cell_count(markdown: str) -> list[str]:
    """Rows whose unescaped pipes give another number of cells than their table's header."""
    wrong, columns = [], None
    lines = markdown.splitlines()
    for line, following in zip(lines, [*lines[1:], ""]):
        if not line.startswith("|"):
            columns = None
        elif columns is None and following.startswith("| ---"):
            columns = _cells(line)
        elif not line.startswith("| ---") and _cells(line) != columns:
            wrong.append(line)
    return wrong


def test_the_traceback_is_fenced_longer_than_any_backtick_run_in_it(hostile_report):
    _, markdown = hostile_report
    fence = re.search(r"^(`{3,})text$", markdown, flags=re.MULTILINE).group(1)
    assert len(fence) == 5
    block = markdown.split(f"{fence}text\n", 1)[1].split(f"\n{fence}\n", 1)[0]
    assert "````" in block and "<script>alert(1)</script>" in block


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        (HOSTILE, "&lt;img src=x onerror=alert(1)&gt;"),
        ("a | b", "a \\| b"),
        ("`code`", "\\`code\\`"),
        ("# title", "\\# title"),
        ("*bold* _it_ ~x~ [link](x)", "\\*bold\\* \\_it\\_ \\~x\\~ \\[link\\](x)"),
        ("&amp; & &#60;", "&amp;amp; & &amp;\\#60;"),
        ("line\nbreak\n\n## two", "line break \\#\\# two"),
    ],
)
def test_escape_markdown(text, escaped):
    assert escape_markdown(text) == escaped


@pytest.mark.parametrize(("text", "escaped"), [("- item", "\\- item"), ("12. item", "12\\. item"), ("4.869", "4.869")])
def test_escape_markdown_at_the_start_of_a_line(text, escaped):
    assert escape_markdown(text, line_start=True) == escaped
