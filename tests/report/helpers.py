"""Run dirs for the report tests: the schema-1 qadiag_report.json, hand-written inputs, and checks on HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import html5lib

from qadiag.findings import finding

# What a run report must show, in this order (issue 13): written out here, not taken from the code under test.
SECTIONS = [
    ("summary", "Summary"),
    ("losses", "Losses"),
    ("metrics", "Evaluation metrics"),
    ("learning-rate", "Learning rate"),
    ("findings", "Findings"),
    ("samples", "Samples"),
    ("facts", "Run facts"),
    ("inputs", "Inputs read"),
]
HOSTILE = "<img src=x onerror=alert(1)>"
SVG = "{http://www.w3.org/2000/svg}svg"  # inline SVG keeps its namespace in the parsed tree


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # allow_nan: the Trainer writes bare NaN/Infinity into trainer_state.json, and so do these tests.
    path.write_text(json.dumps(data, indent=2, allow_nan=True), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


def write_state(run_dir: Path, rows: list[dict[str, Any]], name: str = "trainer_state.json") -> Path:
    return write_json(run_dir / name, {"global_step": max((r.get("step", 0) for r in rows), default=0),
                                       "log_history": rows})


def overfitting_history() -> list[dict[str, Any]]:
    """Training loss falls all the way; eval loss is lowest at step 150 (0.675) and rises to 0.834 by step 200."""
    rows: list[dict[str, Any]] = []
    eval_losses = {50: 1.2, 100: 0.81, 150: 0.675, 200: 0.834}
    for step in range(10, 201, 10):
        rows.append({"loss": round(2.0 - step * 0.0095, 4), "grad_norm": 1.0, "learning_rate": 5e-5 * (1 - step / 200),
                     "epoch": step / 10, "step": step})
        if step in eval_losses:
            rows.append({"eval_loss": eval_losses[step], "eval_f1": 40 + step / 10, "eval_runtime": 0.1,
                         "eval_samples_per_second": 100.0, "epoch": step / 10, "step": step})
    rows.append({"train_runtime": 12.0, "train_loss": 1.1, "epoch": 20.0, "step": 200})
    return rows


def schema_1_report(task: str, directory: Path, findings: list[dict[str, Any]] | None = None,
                    **fields: Any) -> dict[str, Any]:
    """A ``qadiag_report.json`` of schema version 1, as the lead's writer emits it; ``fields`` override."""
    findings = [] if findings is None else findings
    severity = {level: sum(1 for item in findings if item["severity"] == level) for level in ("error", "warning",
                                                                                              "info")}
    codes: dict[str, int] = {}
    for item in findings:
        codes[item["code"]] = codes.get(item["code"], 0) + item.get("count", 1)
    return {
        "schema_version": 1,
        "generated_by": "qadiag train",
        "versions": {"qadiag": "0.1.0", "transformers": "5.24.0", "torch": "2.13.0", "python": "3.11.7"},
        "task": task,
        "run_dir": str(directory),
        "probes": ["output-capture", "loss-swap", "log-keys", "eval-loss", "alignment"],
        "counts": {"severity": severity, "code": codes},
        "findings": findings,
        "crash": None,
        "outputs": {"samples": "samples.jsonl", "predictions": ["eval_predictions.json"], "wandb": None,
                    "tensorboard": None},
        "settings": {"learning_rate": 0.001, "max_steps": 40, "per_device_train_batch_size": 32,
                     "gradient_accumulation_steps": 1, "eval_strategy": "steps", "eval_steps": 10, "seed": 42,
                     "report_to": []},
        **fields,
    }


def sample_findings() -> list[dict[str, Any]]:
    """Findings the way the probes make them (through the code registry), as the report file holds them."""
    unprefixed = finding("QD101", "exact_match was logged without the eval_ prefix; W&B files it as "
                         "train/exact_match", "log through evaluate(metric_key_prefix='eval')", step=10,
                         key="exact_match", source="trainer_state.json")
    hidden_nan = finding("QD206", "2 non-finite training losses were replaced in the logs",
                         "set logging_nan_inf_filter=False while debugging", step=20)
    return [{**unprefixed.to_dict(), "count": 4}, hidden_nan.to_dict()]


def html_parse_errors(text: str) -> list[str]:
    """Parse errors of a real HTML5 parser (html5lib in strict mode raises at the first one)."""
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    parser.parse(text)
    return [f"line {line}, column {column}: {error} {data or ''}" for (line, column), error, data in parser.errors]


def parse_html(text: str) -> Any:
    """The document tree; raises on the first parse error (strict mode)."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


_LINKING = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "manifest"}
_CSS_REFERENCE = re.compile(r"""url\(\s*(?!['"]?#)|@import""", re.IGNORECASE)


def external_references(text: str) -> list[str]:
    """Everything in the page that would load something from outside it: a linking attribute (src, href,
    xlink:href, ...) that is not an in-page #fragment, or a CSS url(...)/@import in an attribute (style,
    clip-path, ...) or a style element. The report must have none: not http(s), not //host, not even a relative file."""
    found = []
    for element in parse_html(text).iter():
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1].split(":")[-1].lower()
            if (local in _LINKING and not value.startswith("#")) or _CSS_REFERENCE.search(value):
                found.append(f"<{element.tag} {name}={value!r}>")
        if str(element.tag).endswith("style") and element.text and _CSS_REFERENCE.search(element.text):
            found.append(f"<{element.tag}>: {_CSS_REFERENCE.search(element.text).group(0)}")
    return found


def section_ids(tree: Any) -> list[str]:
    return [element.get("id") for element in tree.iter("section")]


def text_of(tree: Any) -> str:
    """The text of the page, one space between the texts of elements (so table cells stay apart)."""
    return " ".join(" ".join(part.split()) for part in tree.find("body").itertext() if part.strip())
