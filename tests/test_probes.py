"""Probe behaviour on the tiny QA setup: observation without interference, outputs, edge cases."""

import functools
import json

import pytest
import torch

import qadiag
from qadiag import compat
from qadiag.api import run_check
from qadiag.checks import CHECKS
from qadiag.plugin.config import PluginConfig
from qadiag.plugin.setup import TinySetup
from qadiag.probes.signatures import check_overrides
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    config = PluginConfig(trainer_factory="qadiag_corpus.reference:question_answering_trainer", steps=8)
    return TinySetup(config, ROOT, tmp_path_factory.mktemp("probes"))


def make_trainer(setup, output_dir, **overrides):
    settings = {"output_dir": str(output_dir), "max_steps": 8, "eval_steps": 4, "logging_steps": 2}
    args = setup.args(**{**settings, **overrides})
    return setup.build_trainer(args=args)


def test_probes_do_not_change_what_they_observe(setup, tmp_path):
    plain = make_trainer(setup, tmp_path / "plain")
    plain.train()
    plain.evaluate()
    probed = make_trainer(setup, tmp_path / "probed")
    run = qadiag.attach(probed, capture_every=2, samples=3, console=False)
    probed.train()
    probed.evaluate()
    report = run.finish()
    assert report.samples, "the probes ran"
    for (name, expected), actual in zip(plain.model.state_dict().items(), probed.model.state_dict().values()):
        assert torch.equal(expected, actual), f"{name} differs with probes attached"

    def comparable(history):
        return [{k: v for k, v in row.items() if "runtime" not in k and "per_second" not in k} for row in history]

    assert comparable(plain.state.log_history) == comparable(probed.state.log_history)


def test_finish_restores_the_trainer(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path)
    before = set(vars(trainer))
    run = qadiag.attach(trainer, console=False)
    assert "compute_loss" in vars(trainer)
    run.finish()
    assert set(vars(trainer)) == before
    assert trainer.model._forward_hooks == {}


def test_samples_jsonl_has_one_line_per_sample_with_prediction_and_gold(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path)
    run = qadiag.attach(trainer, ["output-capture"], capture_every=4, samples=2, console=False)
    trainer.train()
    run.finish()
    lines = (tmp_path / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["step"], r["sample"]) for r in records] == [(4, 0), (4, 1), (8, 0), (8, 1)]
    for record in records:
        assert {"question", "prediction", "gold", "pred_start", "pred_end"} <= set(record)
        assert record["pred_start"] <= record["pred_end"]


def test_console_output_is_readable_and_truncated(setup, tmp_path, capsys):
    trainer = make_trainer(setup, tmp_path)
    run = qadiag.attach(trainer, ["output-capture"], capture_every=8, samples=2)
    trainer.train()
    run.finish()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[qadiag step 8")]
    assert len(lines) == 2
    assert all("pred:" in line and "gold:" in line and len(line) < 220 for line in lines)


def test_no_logits_is_reported_with_the_keys_seen(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path)
    forward = trainer.model.forward
    trainer.model.forward = functools.wraps(forward)(lambda *args, **kwargs: forward(*args, **kwargs).to_tuple())
    run = qadiag.attach(trainer, ["output-capture"], capture_every=2, console=False)
    trainer.train()
    found = run.finish().for_probe("output-capture")
    codes = {item.code for item in found}
    assert "QD401" in codes, [f.message for f in found]
    assert "[0]" in next(f for f in found if f.code == "QD401").message


def test_capture_interval_longer_than_the_run_is_a_warning(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path)
    run = qadiag.attach(trainer, ["output-capture"], capture_every=1000, console=False)
    trainer.train()
    found = run.finish().findings
    assert [item.code for item in found] == ["QD404"]


def test_predict_metrics_are_not_expected_in_the_logs(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path)
    run = qadiag.attach(trainer, ["log-keys"], console=False)
    trainer.predict(setup.features("validation"), setup.examples("validation"))
    assert run.finish().findings == []


def test_stale_override_signatures_are_reported_before_training():
    from qadiag_corpus.stale_compute_loss import StaleTrainer
    from qadiag_corpus.stale_log import StaleLogTrainer

    found = check_overrides(StaleTrainer) + check_overrides(StaleLogTrainer)
    # 4.46 calls log(logs) without start_time: a log(self, logs) override is still callable there
    assert [item.code for item in found] == ["QD304"] + (["QD305"] if compat.log_takes_start_time() else [])
    assert "num_items_in_batch=None" in found[0].fix
    assert "stale_compute_loss.py" in found[0].source


def test_overfit_check_fails_a_loss_that_does_not_train_and_passes_the_reference(tmp_path):
    overfit_check = next(check for check in CHECKS if check.name == "overfit")

    def overfit(factory):
        config = PluginConfig(trainer_factory=factory, overfit_steps=25)
        return run_check(overfit_check, TinySetup(config, ROOT, tmp_path / factory[-5:]).check_context())

    assert [item.code for item in overfit("qadiag_corpus.detached_loss:buggy")] == ["QD403"]
    assert overfit("qadiag_corpus.reference:question_answering_trainer") == []


def test_eval_steps_without_an_eval_strategy_is_a_setting_that_never_takes_effect(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path, eval_strategy="no", eval_steps=4)
    run = qadiag.attach(trainer, ["loss-swap"], console=False)
    trainer.train()
    found = [item for item in run.finish().findings if item.code == "QD310"]
    assert [item.key for item in found] == ["eval_steps"]
    assert "eval_strategy='steps'" in found[0].fix
