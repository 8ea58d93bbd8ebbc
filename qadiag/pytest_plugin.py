"""``pytest --qadiag``: one test item per probe, run against the user's trainer factory.

Registered through the ``pytest11`` entry point. Without ``--qadiag`` it only adds its command-line
options and some lazily evaluated fixtures: nothing heavy is imported (transformers and torch load
when a qadiag item or fixture runs).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

ITEM_ORDER = ("alignment", "output-capture", "loss-swap", "log-keys", "eval-loss")


class QadiagWarning(UserWarning):
    """A warning-level finding (fails the item only with ``--qadiag-strict`` / ``strict = true``)."""


class QadiagFindings(Exception):
    """Error-level findings of one probe."""


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "qadiag: a qadiag probe item")


class QadiagState:
    """Configuration and lazily computed results shared by the items and fixtures of one session."""

    def __init__(self, config: pytest.Config) -> None:
        self.pytest_config = config
        self.rootdir = Path(str(config.rootpath))
        self._config: Any = None
        self._results: dict[str, Any] = {}
        self._setup: Any = None

    @property
    def config(self) -> Any:
        if self._config is None:
            from qadiag.plugin.config import load_config

            option = self.pytest_config.getoption
            self._config = load_config(self.rootdir, trainer=option("qadiag_trainer"), strict=option("qadiag_strict"))
        return self._config

    def resolve_callables(self) -> None:
        """Import every configured ``module:callable`` now, so a typo is one clear error at collection."""
        from qadiag.plugin.config import CALLABLE_KEYS, resolve_callable

        for key in CALLABLE_KEYS:
            spec = getattr(self.config, key)
            if spec:
                resolve_callable(spec, key=key, rootdir=self.rootdir)

    def setup(self) -> Any:
        if self._setup is None:
            import tempfile

            from qadiag.plugin.session import TinySetup

            self._setup = TinySetup(self.config, self.rootdir, Path(tempfile.mkdtemp(prefix="qadiag-")))
        return self._setup

    def result(self, name: str) -> Any:
        if name not in self._results:
            self._results[name] = self._compute(name)
        return self._results[name]

    def _compute(self, name: str) -> Any:
        from qadiag.plugin import session

        if name == "run":
            return session.run_shared(self.config, self.rootdir, self.setup().workdir)
        if name == "gradient-accumulation":
            return session.gradient_accumulation_check(self.config, self.rootdir, self.setup())
        if name == "overfit":
            return session.overfit_check(self.config, self.rootdir, self.setup())
        if name == "alignment":
            return session.alignment_check(self.config, self.setup())
        raise KeyError(name)


_STATE = pytest.StashKey[QadiagState]()


def _state(config: pytest.Config) -> QadiagState:
    if _STATE not in config.stash:
        config.stash[_STATE] = QadiagState(config)
    return config.stash[_STATE]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("qadiag"):
        return
    from qadiag.errors import QadiagError

    state = _state(config)
    try:
        probes = state.config.probes
        state.resolve_callables()
    except QadiagError as error:
        raise pytest.UsageError(f"qadiag: {error}") from None
    collector = QadiagCollector.from_parent(
        session, name="qadiag", path=state.rootdir / "pyproject.toml", nodeid="qadiag"
    )
    items.extend(QadiagItem.from_parent(collector, name=name, probe=name) for name in ITEM_ORDER if name in probes)


class QadiagCollector(pytest.Collector):
    def collect(self) -> list[pytest.Item]:  # items are created directly in pytest_collection_modifyitems
        return []


class QadiagItem(pytest.Item):
    def __init__(self, *, probe: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe
        self.add_marker("qadiag")

    def runtest(self) -> None:
        from qadiag.errors import QadiagError

        state = _state(self.config)
        try:
            found = self._findings(state)
        except QadiagError as error:
            raise QadiagFindings(f"qadiag could not run the {self.probe} probe: {error}") from None
        self._raise_or_warn(found, state.config.strict)

    def _findings(self, state: QadiagState) -> list[Any]:
        if self.probe == "alignment":
            return state.result("alignment")
        run = state.result("run")
        found = [item for item in run.findings if item.probe == self.probe]
        if run.crash is not None and run.crash.probe != self.probe:
            raise QadiagFindings(
                f"the shared tiny run crashed, so {self.probe} could not observe it; the crash is reported by "
                f"qadiag::{run.crash.probe}:\n  {run.crash.finding.message}"
            )
        if run.crash is None and self.probe == "loss-swap":
            found += state.result("gradient-accumulation")
        if run.crash is None and self.probe == "output-capture":
            found += state.result("overfit")
        return found

    def _raise_or_warn(self, found: list[Any], strict: bool) -> None:
        from qadiag.findings import Severity, is_failure
        from qadiag.formats import format_text

        for item in found:
            self.user_properties.append((item.code, f"{item.severity.value}: {item.message} | fix: {item.fix}"))
        failures = [item for item in found if is_failure(item, strict)]
        for item in found:
            if item.severity is Severity.WARNING and item not in failures:
                warnings.warn(QadiagWarning(f"{item.code} {item.message} (fix: {item.fix})"), stacklevel=1)
        if failures:
            raise QadiagFindings(format_text(failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, QadiagFindings):
            return f"qadiag::{self.probe} found problems:\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"qadiag::{self.probe}"


# -- fixtures for users' own tests ------------------------------------------------------------------
@pytest.fixture(scope="session")
def qadiag_setup(pytestconfig: pytest.Config) -> Any:
    """The tiny setup (model/tokenizer/examples/features builders) for the configured task."""
    return _state(pytestconfig).setup()


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
    """Your trainer factory run once on the tiny setup with all probes: ``.samples``, ``.log_history``,
    ``.findings``, ``.crash``, ``.output_dir``."""
    return _state(pytestconfig).result("run")
