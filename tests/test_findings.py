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
