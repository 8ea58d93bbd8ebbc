"""``[tool.qadiag]`` in the user's pyproject.toml, command-line overrides, and ``module:callable`` imports."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qadiag.checks import resolve
from qadiag.errors import ConfigError
from qadiag.tasks import TASK_NAMES


@dataclass
class PluginConfig:
    trainer_factory: str
    task: str = "qa"
    loss: str | None = None
    prepare_train_features: str | None = None
    prepare_validation_features: str | None = None
    decode: str | None = None
    probes: list[str] = field(default_factory=lambda: ["all"])
    steps: int = 20
    capture_every: int = 10
    samples: int = 4
    strict: bool = False
    overfit_steps: int = 30
    alignment_examples: int = 30
    num_labels: int | None = None
    source: str = "pyproject.toml"

    def __post_init__(self) -> None:
        self.probes = resolve(self.probes if isinstance(self.probes, list) else str(self.probes))


CALLABLE_KEYS = ("trainer_factory", "loss", "prepare_train_features", "prepare_validation_features", "decode")
_INT_KEYS = ("steps", "capture_every", "samples", "overfit_steps", "alignment_examples", "num_labels")
# Keys of [tool.qadiag] that belong to `qadiag audit-logs`, not to the plugin.
AUDIT_KEYS = frozenset({"select", "ignore", "output-format", "output_format"})


def _read_table(pyproject: Path) -> dict[str, Any]:
    if not pyproject.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with pyproject.open("rb") as handle:
            return tomllib.load(handle).get("tool", {}).get("qadiag", {})
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {error}", source=str(pyproject)) from None


def load_config(rootdir: Path, *, trainer: str | None = None, strict: bool = False) -> PluginConfig:
    """Read ``[tool.qadiag]``; ``--qadiag-trainer`` and ``--qadiag-strict`` override it."""
    pyproject = rootdir / "pyproject.toml"
    table = {key: value for key, value in _read_table(pyproject).items() if key not in AUDIT_KEYS}
    where = f"{pyproject} [tool.qadiag]"
    known = {f.name for f in fields(PluginConfig)} - {"source"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)}", source=where, fix=f"known keys: {', '.join(sorted(known))}"
        )
    if trainer:
        table["trainer_factory"] = trainer
    if "trainer_factory" not in table:
        raise ConfigError(
            "no trainer factory configured",
            source=where,
            fix='add trainer_factory = "mypkg.training:build_trainer" to [tool.qadiag] in pyproject.toml, '
            "or pass --qadiag-trainer mypkg.training:build_trainer",
        )
    _check_types(table, where)
    if table.get("task", "qa") not in TASK_NAMES:
        raise ConfigError(
            f"task = {table['task']!r} is not supported", source=where, fix=f"use one of: {', '.join(TASK_NAMES)}"
        )
    config = PluginConfig(**table, source=str(pyproject))
    config.strict = config.strict or strict
    return config


def _check_types(table: dict[str, Any], where: str) -> None:
    for key in CALLABLE_KEYS:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or ":" not in value):
            raise ConfigError(
                f"{key} = {value!r} is not a 'module:callable' string",
                source=where,
                fix=f'{key} = "mypkg.module:function"',
            )
    for key in _INT_KEYS:
        value = table.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ConfigError(f"{key} = {value!r} must be a positive integer", source=where)
    if "strict" in table and not isinstance(table["strict"], bool):
        raise ConfigError(f"strict = {table['strict']!r} must be true or false", source=where)


def resolve_callable(spec: str, *, key: str, rootdir: Path) -> Callable[..., Any]:
    """Import ``module:attr.path``.

    A module that does not exist, or lacks the attribute, is a :class:`ConfigError` (the configuration is
    wrong). Anything the user's module raises while it is imported (an API a newer transformers removed,
    a syntax error) propagates as it is: that is a crash of their code, reported as a finding.
    """
    module_name, _, attribute = spec.partition(":")
    if str(rootdir) not in sys.path:
        sys.path.insert(0, str(rootdir))
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not (module_name == error.name or module_name.startswith(f"{error.name}.")):
            raise  # a module *their* module imports is missing: their code's crash
        raise ConfigError(
            f"{key} = {spec!r}: there is no module {error.name!r}",
            fix="check the module path (it is imported from the pytest rootdir and sys.path)",
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            public = sorted(name for name in dir(target) if not name.startswith("_"))
            raise ConfigError(
                f"{key} = {spec!r}: {getattr(target, '__name__', module_name)!r} has no attribute {part!r}",
                fix=f"it defines: {', '.join(public[:20]) or '(nothing public)'}",
            )
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{key} = {spec!r} is a {type(target).__name__}, not a callable")
    return target


def check_callables(config: PluginConfig, rootdir: Path) -> None:
    """Import every configured ``module:callable`` at collection, so that a wrong path is one clear error
    before anything runs. A module that raises while it is imported is left to the session, which reports
    that crash as a finding (with the transformers API it used, when one was removed)."""
    for key in CALLABLE_KEYS:
        spec = getattr(config, key)
        if spec:
            try:
                resolve_callable(spec, key=key, rootdir=rootdir)
            except ConfigError:
                raise
            except Exception:
                continue
