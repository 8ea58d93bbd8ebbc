"""The check registry is the one place a probe is declared: items, --probes, attach() and the README
derive from it, and a new probe is one module plus one registration."""

import shutil

import pytest

import qadiag
from qadiag import checks
from qadiag.checks import CHECKS, Check, Kind, markdown_table, probe_names, resolve
from qadiag.errors import UnknownCheckError
from qadiag.findings import CODES, Code, Severity
from qadiag.tasks import TASK_NAMES
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "qa_project"

DUMMY_MODULE = '''
from qadiag.findings import finding
from qadiag.probes.base import Probe


class DummyProbe(Probe):
    name = "dummy"

    def on_train_end(self, args, state, control, **kwargs):
        self.record(finding("QD199", f"the dummy probe saw {state.global_step} steps", "nothing to fix"))
'''
DUMMY = Check(
    "dummy",
    probe="dummy",
    kind=Kind.CALLBACK,
    codes=("QD199",),
    target="dummy_probe:DummyProbe",
    summary="a probe that only says it ran",
)
DUMMY_CODE = Code("QD199", "dummy", Severity.WARNING, "the dummy probe ran")


@pytest.fixture
def dummy(tmp_path, monkeypatch):
    (tmp_path / "dummy_probe.py").write_text(DUMMY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(checks, "CHECKS", list(CHECKS))
    checks.register(DUMMY, DUMMY_CODE)
    yield DUMMY
    del CODES[DUMMY_CODE.code]


def test_the_readme_table_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "regenerate the README table: python scripts/update_readme.py"


def test_every_code_of_a_check_is_in_its_probes_area_and_every_probe_code_has_a_check():
    declared = {code for check in CHECKS for code in check.codes}
    for check in CHECKS:
        assert all(CODES[code].area == check.probe for code in check.codes), check.name
        assert all(task in TASK_NAMES for task in check.tasks), check.name
    for code, info in CODES.items():
        if info.area in probe_names():
            assert code in declared, f"{code} ({info.area}) is reported by no registered check"


def test_unknown_probe_names_list_the_registered_ones():
    with pytest.raises(UnknownCheckError) as error:
        resolve("loss-swapp")
    assert all(name in str(error.value) for name in probe_names())


def test_a_registered_check_is_a_probe_name_and_attaches(dummy, tmp_path):
    from qadiag.plugin.config import PluginConfig
    from qadiag.plugin.setup import TinySetup

    assert "dummy" in probe_names() and resolve("dummy") == ["dummy"]
    setup = TinySetup(PluginConfig(trainer_factory="qadiag_corpus.reference:plain_trainer"), ROOT, tmp_path)
    trainer = setup.build_trainer(args=setup.args(max_steps=2, eval_strategy="no"))
    run = qadiag.attach(trainer, ["dummy"], console=False)
    trainer.train()
    assert [(item.code, item.probe) for item in run.finish().findings] == [("QD199", "dummy")]


def test_a_registered_check_is_a_pytest_item(dummy, pytester):
    # pytester's in-process runs drop the modules a run imported; Rust extensions refuse to load twice
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments  # noqa: F401

    for path in EXAMPLE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = pytester.path / path.relative_to(EXAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    result = pytester.runpytest("--qadiag", "-p", "no:cacheprovider", "--co", "-q")
    result.stdout.fnmatch_lines(["qadiag::dummy"])
    result = pytester.runpytest("--qadiag", "-p", "no:cacheprovider", "-k", "dummy", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*QadiagWarning: QD199 the dummy probe saw 20 steps*"])


def test_train_help_lists_the_registered_probes():
    from qadiag.train import TaskArguments

    help_text = TaskArguments.__dataclass_fields__["probes"].metadata["help"]
    assert all(name in help_text for name in probe_names())
