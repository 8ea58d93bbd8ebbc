"""Strings from disk (folder and file names, metric keys, settings) through every output format: shown
with visible escapes, never able to start a workflow command, a terminal escape or a new line."""

import os

import pytest

from tests.hostile.builders import event, mlflow_file_run, tensorboard_file, trainer_state, wandb_run
from tests.hostile.harness import check, run_audit

HOSTILE = {
    "workflow-command": "x\n::error file=a.py,line=1::injected",
    "carriage-return": "x\r::error::injected",
    "ansi": "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "v1-command": "##[add-mask]hidden",
    "percent": "%0A::warning::x%25",
    "separators": "x,y:z;w",
    "c1-nel": "a\x85b\x9bc",
    "unicode-lines": "a\u2028b\u2029c",
    "bidi": "safe\u202etxt.exe",
    "delete-and-nul-free": "a\x7fb\x08c\x00"[:-1],
}
# What each must look like once escaped (in text and JSON alike).
SHOWN = {
    "workflow-command": "x\\n::error file=a.py,line=1::injected",
    "carriage-return": "x\\r::error::injected",
    "ansi": "\\x1b[31mred\\x1b[0m\\x1b]0;title\\x07",
    "v1-command": "##\\x5badd-mask]hidden",
    "percent": "%0A::warning::x%25",
    "separators": "x,y:z;w",
    "c1-nel": "a\\x85b\\x9bc",
    "unicode-lines": "a\\u2028b\\u2029c",
    "bidi": "safe\\u202etxt.exe",
    "delete-and-nul-free": "a\\x7fb\\x08c",
}


def github_lines(outcome):
    return [line for line in outcome.out["github"].splitlines() if line]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_folder_name(run_dir, audit, name):
    folder = run_dir / HOSTILE[name]
    (folder / "wandb").mkdir(parents=True)
    (folder / "wandb" / "run-empty.wandb").write_bytes(b"")
    trainer_state(folder / "out", [{"exact_match": 1.0, "eval_loss": 0.5, "step": 1}])
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD907", "QD103"}
    assert len(github_lines(outcome)) == len(outcome.findings) == 2  # no line the name could add
    assert SHOWN[name] in outcome.out["full"]
    assert all(SHOWN[name] in item["source"] for item in outcome.findings)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_metric_key_in_each_format(run_dir, audit, name):
    key = "val_" + HOSTILE[name]
    trainer_state(run_dir / "out", [{key: 1.0, "eval_loss": 0.5, "step": 1}])
    wandb_row = {"train/" + key: "1", "eval/loss": "0.5", "train/global_step": "1"}
    wandb_run(run_dir / "wandb" / "offline-run-1", [wandb_row])
    tensorboard_file(run_dir / "out" / "runs" / "x", [event(1, "train/" + key, 1.0), event(1, "eval/loss", 0.5)])
    settings = {"metric_for_best_model": key, "output_dir": str(run_dir / "out")}
    mlflow_file_run(run_dir / "mlruns" / "0" / "r1", {"epoch": "1 1 1\n"}, settings)
    outcome = audit(run_dir)
    # each source files it as a misnamed (QD102) or bare (QD103) eval metric, whichever the text reads as
    covered = {
        source.rsplit("/", 1)[-1]
        for item in outcome.findings
        if "val_" + SHOWN[name] in item.get("evidence", {}).get("covers", {}).get("keys", [item.get("key")])
        for source in item.get("evidence", {}).get("covers", {}).get("sources", [item["source"]])
    }
    assert covered == {"trainer_state.json", "run-hostile.wandb", "events.out.tfevents.1.host"}
    assert len(github_lines(outcome)) == len(outcome.findings)
    assert "QD204" in outcome.codes_found  # the hostile setting quoted, escaped, in a message


def test_undecodable_file_names(run_dir, audit):
    folder = os.fsencode(run_dir) + b"/bad-\xff\xfe-name"
    os.makedirs(folder + b"/out")
    with open(folder + b"/out/trainer_state.json", "w") as handle:
        handle.write('{"log_history": [{"loss": NaN, "step": 1}]}')
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD205"}
    assert "bad-\\udcff\\udcfe-name" in outcome.out["full"]


def test_a_usage_error_quoting_a_hostile_argument(run_dir, tmp_path):
    """Nothing auditable under a folder whose name is a workflow command: exit 2, the name escaped."""
    folder = run_dir / HOSTILE["workflow-command"]
    folder.mkdir()
    outcome = run_audit(folder, results=tmp_path / "results")
    check(outcome, allowed_codes=frozenset({2}))
    assert f"nothing auditable under {run_dir}/{SHOWN['workflow-command']}: looked for" in outcome.err["full"]
