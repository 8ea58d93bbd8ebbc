"""Finding registry and the text/json/github formatters."""

import json

import pytest

from qadiag.errors import UnknownCodeError
from qadiag.findings import CODES, Severity, finding, select
from qadiag.formats import format_github, format_json, format_text


def test_every_code_is_in_its_documented_range():
    ranges = {
        "setup": "QD0",
        "log-keys": "QD1",
        "eval-loss": "QD2",
        "loss-swap": "QD3",
        "output-capture": "QD4",
        "alignment": "QD5",
        "consistency": "QD6",
        "readers": "QD9",
    }
    for code, info in CODES.items():
        assert code.startswith(ranges[info.area]), code


def test_unregistered_codes_are_refused():
    with pytest.raises(UnknownCodeError, match="QD999"):
        finding("QD999", "m", "f")


def test_finding_takes_area_and_severity_from_the_registry():
    item = finding("QD101", "msg", "fix it", step=3, key="f1", source="trainer_state.json")
    assert (item.probe, item.severity) == ("log-keys", Severity.ERROR)
    assert item.where == "trainer_state.json, step 3, key 'f1'"


def test_formatters_carry_code_location_and_fix():
    items = [
        finding("QD101", "f1 lands in train/f1", "prefix it", step=3, key="f1", source="a/b.json"),
        finding("QD902", "truncated", "rerun", source="run.wandb", offset=1234),
    ]
    text = format_text(items)
    assert "QD101 error" in text and "fix: prefix it" in text and "@byte 1234" in text
    assert "1 error(s), 1 warning(s)" in text
    parsed = json.loads(format_json(items))
    assert {row["code"] for row in parsed} == {"QD101", "QD902"}
    assert parsed[0]["fix"]
    github = format_github(items).splitlines()
    assert github[0].startswith("::error file=a/b.json,title=QD101")
    assert github[1].startswith("::warning file=run.wandb")


def test_github_annotations_escape_newlines_and_separators():
    line = format_github([finding("QD101", "a\nb", "c", source="x,y:z")])
    assert "\n" not in line and "%0A" in line and "file=x%2Cy%3Az" in line


def test_select_and_ignore_are_prefixes():
    items = [finding("QD101", "m", "f"), finding("QD201", "m", "f"), finding("QD902", "m", "f")]
    assert [i.code for i in select(items, select=["QD1", "QD9"])] == ["QD101", "QD902"]
    assert [i.code for i in select(items, ignore=["QD9"])] == ["QD101", "QD201"]


def test_merging_groups_is_adding_their_occurrences_one_by_one():
    from qadiag.findings import FindingGroups

    items = [finding("QD101", f"m{index}", "f", key=f"k{index % 3}", step=index) for index in range(20)]
    for cut in range(len(items) + 1):
        whole, first, second = FindingGroups(), FindingGroups(), FindingGroups()
        whole.extend(items)
        first.extend(items[:cut])
        second.extend(items[cut:])
        first.merge(second)
        assert [(f, f.count, f.evidence) for f in first.findings()] == [
            (f, f.count, f.evidence) for f in whole.findings()
        ]


def test_a_line_is_part_of_where_and_of_the_dict():
    item = finding("QD205", "nan", "fix", source="out/trainer_state.json", line=12, column=5, offset=300, step=3)
    assert item.where == "out/trainer_state.json:12, step 3"
    assert {"line": 12, "column": 5, "offset": 300}.items() <= item.to_dict().items()


def test_every_code_is_explained():
    from qadiag.rules_doc import RULE_DOCS

    assert set(RULE_DOCS) == set(CODES)
    for code, doc in RULE_DOCS.items():
        assert all(len(text) > 20 for text in (doc.what, doc.why, doc.fix)) and doc.example.strip(), code


def test_qadiag_rule(capsys):
    from qadiag.cli import main

    assert main(["rule", "QD201"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("QD201 (eval-loss, error): evaluation rows carry no eval loss\n")
    assert "\nWhy it matters: " in text and "\nFix: " in text and "\nExample:\n    " in text
    assert main(["rule", "--all", "--output-format", "json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [doc["code"] for doc in docs] == list(CODES)
    assert set(docs[0]) == {"code", "title", "area", "severity", "what", "why", "fix", "example"}
    assert main(["rule", "qd90"]) == 0 and capsys.readouterr().out.count("QD90") >= 9
    assert main(["rule", "QD999"]) == 2 and "no finding code matches 'QD999'" in capsys.readouterr().err
    assert main(["rule"]) == 2


def test_every_format_escapes_text_from_disk():
    from qadiag.formats import FORMATS, render

    hostile = "k\n::error::x\x1b[31m\u202e##[add-mask]\udcff\ufffe"
    items = [finding("QD102", hostile, hostile, source=f"runs/{hostile}/trainer_state.json", key=hostile, line=2)]
    for name in FORMATS:
        out = render(name, items)
        assert not any(char in out for char in "\x1b\u202e\udcff\ufffe"), name
        assert "##[" not in out and "\n::" not in out, name
        assert "\\x1b[31m" in out or "\\\\x1b[31m" in out or "%5Cx1b" in out, name
