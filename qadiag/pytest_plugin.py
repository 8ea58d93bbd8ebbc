"""``pytest --qadiag``: one test item per probe, run against the user's trainer factory.

Registered through the ``pytest11`` entry point. Without ``--qadiag`` it only adds its command-line
options and some lazily evaluated fixtures: nothing heavy is imported (transformers and torch load
when a qadiag item or fixture runs). The items, their order and what each runs come from the check
registry (:mod:`qadiag.checks`); the session logic is in :mod:`qadiag.plugin.session`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

DEFAULT_REPORT_DIR = ".qadiag"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qadiag", "qadiag: diagnostics for Hugging Face Trainer code")
    group.addoption(
        "--qadiag",
        action="store_true",
        default=False,
        help="run the qadiag probes against the trainer factory in [tool.qadiag]",
    )
    group.addoption(
        "--qadiag-trainer",
        metavar="MODULE:CALLABLE",
        default=None,
        help="trainer factory to probe (overrides trainer_factory in pyproject.toml)",
    )
    group.addoption(
        "--qadiag-strict", action="store_true", default=False, help="warning-level findings fail their item too"
    )
    group.addoption(
        "--qadiag-report",
        metavar="DIR",
        default=None,
        help=f"where qadiag_report.json, samples.jsonl and full tracebacks go (default: {DEFAULT_REPORT_DIR}/ "
        "under the rootdir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "qadiag: a qadiag probe item")


class QadiagState:
    """Configuration and the session shared by the items and fixtures of one pytest run."""

    def __init__(self, config: pytest.Config) -> None:
        self.pytest_config = config
        self.rootdir = Path(str(config.rootpath))
        self._config: Any = None
        self._session: Any = None
        self.reports: list[Path] = []

    def has_session(self) -> bool:
        return self._session is not None

    @property
    def config(self) -> Any:
        if self._config is None:
            from qadiag.plugin.config import load_config

            option = self.pytest_config.getoption
            self._config = load_config(self.rootdir, trainer=option("qadiag_trainer"), strict=option("qadiag_strict"))
        return self._config

    @property
    def report_dir(self) -> Path:
        option = self.pytest_config.getoption("qadiag_report")
        return Path(option) if option else self.rootdir / DEFAULT_REPORT_DIR

    def session(self) -> Any:
        if self._session is None:
            import tempfile

            from qadiag.plugin.session import PluginSession

            workdir = Path(tempfile.mkdtemp(prefix="qadiag-"))
            self._session = PluginSession(self.config, self.rootdir, workdir, report_dir=self.report_dir)
        return self._session


_STATE = pytest.StashKey[QadiagState]()


def _state(config: pytest.Config) -> QadiagState:
    if _STATE not in config.stash:
        config.stash[_STATE] = QadiagState(config)
    return config.stash[_STATE]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("qadiag"):
        return
    from _pytest.runner import collect_one_node

    from qadiag.errors import QadiagError

    state = _state(config)
    try:
        from qadiag.plugin.config import check_callables

        check_callables(state.config, state.rootdir)
    except QadiagError as error:
        raise pytest.UsageError(f"qadiag: {error}") from None
    collector = QadiagCollector.from_parent(
        session, name="qadiag", path=state.rootdir / "pyproject.toml", nodeid="qadiag"
    )
    # Collected like any other node, so that "N tests collected" and --co count these items.
    report = collect_one_node(collector)
    config.hook.pytest_collectreport(report=report)
    items.extend(node for node in report.result if isinstance(node, pytest.Item))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not session.config.getoption("qadiag") or _STATE not in session.config.stash:
        return
    state = _state(session.config)
    if state.has_session() and state.session().outcomes:
        state.reports = state.session().write_reports()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.getoption("qadiag") or _STATE not in config.stash:
        return
    state = _state(config)
    if not state.reports:
        return
    result = state.session().shared_result()
    if result is not None and result.samples:
        correct = sum(bool(sample.get("correct")) for sample in result.samples)
        steps = sorted({sample["step"] for sample in result.samples})
        terminalreporter.write_line(
            f"qadiag: {len(result.samples)} samples captured at steps {steps[0]}-{steps[-1]}, {correct} decoded "
            "exactly right"
        )
    terminalreporter.write_line(f"qadiag: report in {state.report_dir}: " + ", ".join(p.name for p in state.reports))


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.getoption("qadiag") and _STATE in session.config.stash:
        selected = [item.probe for item in session.items if isinstance(item, QadiagItem)]
        state = _state(session.config)
        if selected:
            state.session().selected = selected


class QadiagCollector(pytest.Collector):
    def collect(self) -> list[pytest.Item]:
        from qadiag.checks import probe_names

        probes = _state(self.config).config.probes
        return [QadiagItem.from_parent(self, name=name, probe=name) for name in probe_names() if name in probes]


class QadiagItem(pytest.Item):
    def __init__(self, *, probe: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe
        self.add_marker("qadiag")

    def runtest(self) -> None:
        state = _state(self.config)
        outcome = state.session().outcome(self.probe)
        self._raise_or_warn(outcome.findings, state.config.strict)
        if outcome.not_run:
            pytest.skip(outcome.not_run)

    def _raise_or_warn(self, found: list[Any], strict: bool) -> None:
        from qadiag.errors import FindingsFailed, QadiagWarning
        from qadiag.findings import Severity, is_failure
        from qadiag.formats import format_text

        for item in found:  # JUnit XML properties: the code and the one-line message
            self.user_properties.append((item.code, f"{item.severity.value}: {' '.join(item.message.split())}"))
        failures = [item for item in found if is_failure(item, strict)]
        for item in found:
            if item.severity is Severity.WARNING and item not in failures:
                warnings.warn(QadiagWarning(f"{item.code} {item.message} (fix: {item.fix})"), stacklevel=1)
        if failures:
            tracebacks = [item.evidence["traceback"] for item in failures if item.evidence.get("traceback")]
            body = format_text(failures)
            if tracebacks:
                body += "\n\nyour code, innermost call last:\n" + "\n".join(tracebacks)
            first = failures[0]
            more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
            raise FindingsFailed(body, f"{first.code} {' '.join(first.message.split())}{more}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from qadiag.errors import FindingsFailed

        if isinstance(excinfo.value, FindingsFailed):
            # The first line is what pytest's short test summary shows: the first finding's code and message.
            return f"{excinfo.value.headline}\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"qadiag::{self.probe}"


# -- fixtures for users' own tests ------------------------------------------------------------------
@pytest.fixture(scope="session")
def qadiag_setup(pytestconfig: pytest.Config) -> Any:
    """The tiny setup (model/tokenizer/examples/features builders) for the configured task."""
    return _state(pytestconfig).session().setup


@pytest.fixture(scope="session")
def qadiag_tokenizer(qadiag_setup: Any) -> Any:
    """The bundled WordPiece tokenizer (fast)."""
    return qadiag_setup.tokenizer()


@pytest.fixture
def qadiag_model(qadiag_setup: Any) -> Any:
    """A fresh tiny model for the configured task (seeded, so the same weights every time)."""
    return qadiag_setup.model()


@pytest.fixture(scope="session")
def qadiag_examples(qadiag_setup: Any) -> dict[str, Any]:
    """Raw bundled examples: ``{"train": Dataset, "validation": Dataset}``."""
    return {split: qadiag_setup.examples(split) for split in ("train", "validation")}


@pytest.fixture(scope="session")
def qadiag_features(qadiag_setup: Any) -> dict[str, Any]:
    """Features built with the preprocessing in use (yours when configured)."""
    return {split: qadiag_setup.features(split) for split in ("train", "validation")}


@pytest.fixture(scope="session")
def qadiag_run(pytestconfig: pytest.Config) -> Any:
    """Your trainer factory run once on the tiny setup with all probes (a :class:`qadiag.api.Result`:
    ``.samples``, ``.log_history``, ``.findings``, ``.crash``, ``.output_dir``)."""
    return _state(pytestconfig).session().shared_run()
