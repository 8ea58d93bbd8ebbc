"""A new log format is one reader and one registry entry: a CSV-of-metrics reader defined here is
discovered, read, audited per row and against the other sources of its run, and named in the "looked
for" message, with no other edit to qadiag."""

import json
import math
import os
import re

import pytest

from qadiag.audit import readers
from qadiag.audit.files import open_regular
from qadiag.audit.readers.base import Reader
from qadiag.audit.records import LogRow
from qadiag.cli import main as cli
from tests.audit.make_logs import healthy_history, write_trainer_state


class CsvMetrics(Reader):
    """``metrics.csv``: a header line ``step,<key>,...``, then one logged row per line."""

    kind = "csv_metrics"
    looked_for = "metrics.csv files"
    file_names = re.compile(r"metrics\.csv")

    def read(self, source, log):
        for path in source.files:
            with log.reading(path) as problems, open_regular(path) as handle:
                header, *lines = handle.read().decode().splitlines()
                keys = header.split(",")
                if keys[0] != "step":
                    problems.wrong_format("a metrics CSV (step first)", header.encode())
                    continue
                for index, line in enumerate(lines):
                    step, *values = line.split(",")
                    row = {key: float(value) for key, value in zip(keys[1:], values) if value}
                    yield LogRow(source, str(path), index, int(step), row)


@pytest.fixture
def csv_registered(monkeypatch):
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, CsvMetrics()])


def csv_of(rows):
    keys = sorted({key for row in rows for key in row if key != "step"})
    lines = ["step," + ",".join(keys)]
    lines += [f"{row['step']}," + ",".join(str(row.get(key, "")) for key in keys) for row in rows]
    return "\n".join(lines) + "\n"


def audit(capsys, *args):
    code = cli(["audit-logs", *map(str, args), "--format", "json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out else None), captured.err


@pytest.fixture
def run(tmp_path):
    """An output dir with a healthy trainer_state.json and a metrics.csv that logged the evaluation
    metric without its prefix and a different loss at step 4."""
    out = tmp_path / "out"
    history = healthy_history()
    write_trainer_state(out, history)
    logged = [dict(row) for row in history]
    for row in logged:
        if row["step"] == 4 and "loss" in row:
            row["loss"] = 9.0
        if "eval_accuracy" in row:
            row["accuracy"] = row.pop("eval_accuracy")
    (out / "metrics.csv").write_text(csv_of(logged))
    return out


def test_a_registered_reader_is_discovered_read_and_audited(csv_registered, run, capsys):
    code, findings, _ = audit(capsys, run)
    assert code == 1
    from_csv = {(item["code"], item.get("key")) for item in findings if item["source"].endswith("metrics.csv")}
    # the row rules (QD103: an evaluation row prefixed in part) and the cross-source rules (QD602: its
    # loss disagrees with trainer_state.json, the reference, first in the registry)
    assert from_csv == {("QD103", "accuracy"), ("QD602", "loss")}
    disagreement = next(item for item in findings if item["code"] == "QD602")
    assert disagreement["step"] == 4 and disagreement["evidence"]["other_source"] == str(run)
    assert {item["run"] for item in findings} == {str(run)}


def test_the_registry_order_is_the_reference_order(monkeypatch, run, capsys):
    monkeypatch.setattr(readers, "READERS", [CsvMetrics(), *readers.READERS])
    _, findings, _ = audit(capsys, run, "--select", "QD602")
    (disagreement,) = findings
    assert disagreement["source"].endswith("trainer_state.json")
    assert "in csv_metrics" in disagreement["message"]


def test_the_looked_for_message_names_the_new_format(csv_registered, tmp_path, capsys):
    code, _, err = audit(capsys, tmp_path)
    assert code == 2 and err.rstrip().endswith("mlflow.db, metrics.csv files (fix: pass the training output dir, "
                                              "the wandb/ dir, the TensorBoard log dir or the mlruns/ dir)")


def test_a_failing_reader_costs_its_file_only(csv_registered, run, capsys):
    (run / "metrics.csv").write_text("step,loss\n1,not-a-number\n")
    code, findings, _ = audit(capsys, run)
    crashed = [item for item in findings if item["code"] == "QD910"]
    assert code == 1 and len(crashed) == 1
    assert crashed[0]["source"] == str(run / "metrics.csv") and "ValueError" in crashed[0]["message"]
    assert [item for item in findings if item["code"] != "QD910"] == []  # trainer_state.json was audited, clean


def test_a_link_named_like_the_new_format_is_not_read(csv_registered, run, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("step,loss\n1,0.5\n")
    (run / "metrics.csv").unlink()
    os.symlink(secret, run / "metrics.csv")
    code, findings, _ = audit(capsys, run)
    (linked,) = findings
    assert (code, linked["code"], linked["source"]) == (1, "QD909", str(run / "metrics.csv"))
    assert "0.5" not in json.dumps(findings) and math.isfinite(float(linked.get("offset", 0)))
