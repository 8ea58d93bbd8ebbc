"""qadiag_report.json, either form -> findings grouped by probe, the crash and the run facts."""

from __future__ import annotations

from qadiag.report.probe_report import MAX_FINDINGS, parse_probe_report
from tests.report.helpers import sample_findings, schema_1_report


def test_schema_1_gives_findings_grouped_by_probe_errors_first(tmp_path):
    findings = [*sample_findings(), {"code": "QD404", "probe": "output-capture", "severity": "info",
                                     "title": "no samples", "message": "m", "fix": "f"}]
    report = parse_probe_report(schema_1_report("qa", tmp_path, findings=list(reversed(findings))))
    assert report.problems == []
    assert list(report.by_probe()) == ["log-keys", "eval-loss", "output-capture"]
    unprefixed = report.by_probe()["log-keys"][0]
    assert (unprefixed.count, unprefixed.severity) == (4, "error")
    assert unprefixed.where == "trainer_state.json, step 10, key 'exact_match'"
    assert report.severity_counts() == {"error": 1, "warning": 1, "info": 1}
    assert report.versions["transformers"] == "5.24.0" and report.settings["eval_steps"] == "10"
    assert report.outputs["predictions"] == ["eval_predictions.json"]


def test_the_old_form_has_findings_and_probes_only():
    report = parse_probe_report({"probes": ["log-keys"], "findings": sample_findings()[:1]})
    assert (report.schema_version, report.versions, report.settings) == (None, {}, {})
    assert report.probes == ["log-keys"] and len(report.findings) == 1


def test_a_newer_schema_is_read_as_far_as_it_is_known(tmp_path):
    report = parse_probe_report({**schema_1_report("qa", tmp_path), "schema_version": 2})
    assert report.versions and report.problems == [(
        "qadiag_report.json has schema_version 2; this qadiag reads version 1, so only the fields it knows are shown",
        "upgrade qadiag to the version that wrote the run",
    )]


def test_unusable_findings_are_counted_and_too_many_are_cut(tmp_path):
    many = sample_findings()[:1] * (MAX_FINDINGS + 5)
    report = parse_probe_report({"findings": [*many, "text", {"message": "no code"}, {"code": 7}]})
    assert len(report.findings) == MAX_FINDINGS and report.findings_left_out == 5
    assert report.problems[0][0] == "qadiag_report.json: 3 finding(s) are not objects with a 'code' string; " \
                                    "they were left out"


def test_a_crash_keeps_the_end_of_its_traceback_with_indentation():
    traceback = "\n".join(f"  line {number}" for number in range(100))
    report = parse_probe_report({"findings": [], "crash": {"code": "QD308", "message": "boom",
                                                           "location": "train.py:3", "traceback": traceback}})
    lines = report.crash.traceback.splitlines()
    assert lines[0] == "  line 40" and lines[-1] == "  line 99" and len(lines) == 60
