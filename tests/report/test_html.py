"""report.html of real runs: valid HTML5, self-contained, every section, every plot, the findings and samples."""

from __future__ import annotations

import pytest

from tests.report.helpers import SECTIONS, SVG, external_references, html_parse_errors, parse_html, section_ids, text_of

SECTION_IDS = [key for key, _ in SECTIONS]


@pytest.fixture(params=["qa_report", "pair_report"])
def report(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def test_html_parses_without_a_single_html5_error(report):
    assert html_parse_errors(report.html) == []
    parse_html(report.html)  # strict mode: raises at the first error


def test_html_is_self_contained(report):
    html = report.html
    assert external_references(html) == []
    tree = parse_html(html)
    assert not list(tree.iter("script")), "the report needs no JavaScript"
    assert not [link for link in tree.iter("link")], "no external style sheet, icon or font"
    assert not [image for image in tree.iter("img")], "plots are inline SVG, not images"
    policy = [meta.get("content") for meta in tree.iter("meta") if meta.get("http-equiv") == "Content-Security-Policy"]
    assert policy == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_html_has_every_section_in_order_with_a_heading(report):
    tree = parse_html(report.html)
    assert section_ids(tree) == SECTION_IDS
    headings = [section.find("h2").text for section in tree.iter("section")]
    assert headings == [title for _, title in SECTIONS]
    links = [link.get("href") for link in tree.find(".//nav").iter("a")]
    assert links == [f"#{key}" for key in SECTION_IDS]


def _plots(tree, section: str) -> list[str]:
    found = next(element for element in tree.iter("section") if element.get("id") == section)
    return [figure.get("id") for figure in found.iter("figure") if figure.find(SVG) is not None]


def _sample_headers(section) -> list[list[str]]:
    headers = [[cell.text for cell in table.iter("th")] for table in section.iter("table")]
    return [header for header in headers if "prediction" in header]


def test_qa_report_plots_losses_each_metric_learning_rate_and_sample_accuracy(qa_report):
    tree = parse_html(qa_report.html)
    assert _plots(tree, "losses") == ["plot-losses"]
    assert _plots(tree, "metrics") == ["plot-metric-0", "plot-metric-1", "plot-metric-2"]
    assert _plots(tree, "learning-rate") == ["plot-learning-rate"]
    assert _plots(tree, "samples") == ["plot-sample-accuracy"]
    captions = [caption.text for caption in tree.iter("figcaption")]
    assert captions[0].startswith("eval_loss was lowest at step ")
    assert any(caption.startswith("eval_exact_match was highest at step ") for caption in captions)
    ids = [element.get("id") for element in tree.iter() if element.get("id")]
    assert len(ids) == len(set(ids)), "SVG ids are prefixed per plot, so plots sharing the page never clash"


def test_qa_report_shows_findings_grouped_by_probe_with_fixes_and_counts(qa_report):
    tree = parse_html(qa_report.html)
    findings = next(section for section in tree.iter("section") if section.get("id") == "findings")
    groups = [heading.text for heading in findings.iter("h3")]
    assert groups == ["log-keys: 1 finding(s), 4 occurrence(s)", "eval-loss: 1 finding(s), 1 occurrence(s)"]
    text = text_of(tree)
    assert "QD101 evaluation metric logged without its eval_/test_ prefix (filed under train/) (×4)" in text
    assert "Fix: log through evaluate(metric_key_prefix='eval')" in text
    assert "1 error(s), 1 warning(s), 0 info" in text


def test_qa_report_tables_every_capture_step_of_the_run(qa_report):
    tree = parse_html(qa_report.html)
    samples = next(section for section in tree.iter("section") if section.get("id") == "samples")
    steps = [heading.text.split(":")[0] for heading in samples.iter("h3")]
    assert steps == ["Step 10", "Step 20", "Step 30", "Step 40"]
    assert {tuple(header[:5]) for header in _sample_headers(samples)} == {("#", "question", "prediction", "gold",
                                                                          "correct")}
    verdicts = {cell.text for cell in samples.iter("td") if cell.get("class") in ("yes", "no")}
    assert verdicts <= {"✓", "✗"} and verdicts


def test_qa_report_states_run_facts(qa_report):
    text = text_of(parse_html(qa_report.html))
    for fact in ("transformers", "5.24.0", "per_device_train_batch_size", "eval_predictions.json",
                 "100 predictions", "qadiag train", "eval_f1"):
        assert fact in text


def test_pair_report_from_the_old_report_form_shows_sentence_pairs_and_labels(pair_report):
    tree = parse_html(pair_report.html)
    samples = next(section for section in tree.iter("section") if section.get("id") == "samples")
    assert {tuple(header) for header in _sample_headers(samples)} == {("#", "sentence pair", "prediction", "gold",
                                                                      "correct")}
    text = text_of(tree)
    assert "[CLS]" in text and "eval_accuracy" in text
    assert "Not recorded (qadiag_report.json schema version 1 records them)." in text
    assert pair_report.paths.html.parent == pair_report.run_dir
