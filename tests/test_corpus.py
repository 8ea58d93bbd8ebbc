"""Every probe fails on each bug of the corpus and passes on its fixed twin (DESIGN.md section 3).

The cases run through the same machinery as ``pytest --qadiag`` (tiny setup, injected factory,
shared run, extra checks), so this also proves the plugin's session on every bug class.
"""

import pytest
from qadiag_corpus import CASES, Case

from qadiag import compat
from qadiag.findings import Severity
from qadiag.plugin import session
from qadiag.plugin.config import PluginConfig
from tests.conftest import ROOT

STEPS = 12


def config_for(case: Case, twin: str) -> PluginConfig:
    return PluginConfig(**case.settings(twin), steps=STEPS, capture_every=4, samples=2, overfit_steps=20)


def findings_for(case: Case, twin: str, tmp_path) -> list:
    config = config_for(case, twin)
    setup = session.TinySetup(config, ROOT, tmp_path)
    if case.probe == "alignment":
        return session.alignment_check(config, setup)
    if case.code == "QD307":
        return session.gradient_accumulation_check(config, ROOT, setup)
    run = session.run_shared(config, ROOT, tmp_path)
    return run.findings


def probe_findings(found, probe):
    return [item for item in found if item.probe == probe and item.severity is not Severity.INFO]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_probe_catches_the_bug(case, tmp_path):
    if compat.transformers_version() < case.needs:
        pytest.skip(f"{case.name} only manifests on transformers >= {'.'.join(map(str, case.needs))}")
    found = probe_findings(findings_for(case, "buggy", tmp_path), case.probe)
    assert case.code in {item.code for item in found}, [f"{i.code}: {i.message}" for i in found]
    caught = next(item for item in found if item.code == case.code)
    assert caught.fix and caught.message


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fixed_twin_passes_the_probe(case, tmp_path):
    found = probe_findings(findings_for(case, "fixed", tmp_path), case.probe)
    assert found == [], [f"{i.code}: {i.message}" for i in found]


@pytest.mark.parametrize(
    "factory",
    ["qadiag_corpus.reference:question_answering_trainer", "qadiag_corpus.reference:plain_trainer"],
)
def test_no_false_positives_on_reference_trainers(factory, tmp_path):
    config = PluginConfig(trainer_factory=factory, steps=STEPS, capture_every=4, samples=2, overfit_steps=20)
    setup = session.TinySetup(config, ROOT, tmp_path)
    found = session.run_shared(config, ROOT, tmp_path).findings
    found += session.alignment_check(config, setup)
    found += session.gradient_accumulation_check(config, ROOT, setup)
    assert [item for item in found if item.severity is not Severity.INFO] == []
