"""Every probe fails on each bug of the corpus and passes on its fixed twin (DESIGN.md section 3).

The cases run through the same session as ``pytest --qadiag`` (tiny setup, injected factory, shared
run, dataset and experiment checks), so this also proves the plugin's session on every bug class.
"""

import pytest
from qadiag_corpus import CASES, Case

from qadiag import compat
from qadiag.findings import Severity
from qadiag.plugin.config import PluginConfig
from qadiag.plugin.session import PluginSession
from tests.conftest import ROOT

STEPS = 12


def findings_for(config: PluginConfig, tmp_path, probes) -> list:
    session = PluginSession(config, ROOT, tmp_path)
    session.selected = list(probes)
    found = []
    for probe in probes:
        outcome = session.outcome(probe)
        assert outcome.not_run is None, outcome.not_run
        found += outcome.findings
    return [item for item in found if item.severity is not Severity.INFO]


def config_for(case: Case, twin: str) -> PluginConfig:
    return PluginConfig(**case.settings(twin), steps=STEPS, capture_every=4, samples=2, overfit_steps=20)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_probe_catches_the_bug(case, tmp_path):
    if compat.transformers_version() < case.needs:
        pytest.skip(f"{case.name} only manifests on transformers >= {'.'.join(map(str, case.needs))}")
    found = findings_for(config_for(case, "buggy"), tmp_path, [case.probe])
    assert case.code in {item.code for item in found}, [f"{i.code}: {i.message}" for i in found]
    caught = next(item for item in found if item.code == case.code)
    assert caught.fix and caught.message


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fixed_twin_passes_the_probe(case, tmp_path):
    found = findings_for(config_for(case, "fixed"), tmp_path, [case.probe])
    assert found == [], [f"{i.code}: {i.message}" for i in found]


@pytest.mark.parametrize(
    "factory",
    ["qadiag_corpus.reference:question_answering_trainer", "qadiag_corpus.reference:plain_trainer"],
)
def test_no_false_positives_on_reference_trainers(factory, tmp_path):
    config = PluginConfig(trainer_factory=factory, steps=STEPS, capture_every=4, samples=2, overfit_steps=20)
    assert findings_for(config, tmp_path, config.probes) == []
