"""The settings of ``audit-logs``: code selectors, and ``[tool.qadiag]`` in pyproject.toml.

As ruff reads ``[tool.ruff]``: ``select``, ``ignore`` and ``output-format`` come from the ``pyproject.toml``
of the current directory or of the nearest parent whose ``pyproject.toml`` has a ``[tool.qadiag]`` table;
the command line wins. The table's other keys belong to ``pytest --qadiag`` (``trainer_factory``...),
which ``audit-logs`` does not need. A value it cannot use, or a key that looks like a misspelt one of
its own, is a one-line error (exit 2) naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qadiag.errors import ConfigError
from qadiag.findings import CODES
from qadiag.formats import ALIASES, FORMATS

OUTPUT_FORMAT_KEYS = ("output-format", "output_format")
KEYS = ("select", "ignore", *OUTPUT_FORMAT_KEYS)


class SelectorError(ValueError):
    """A code selector that names no code."""


def selectors(text: str) -> list[str]:
    """``"QD1, qd204"`` -> ``["QD1", "QD204"]``: code prefixes, each naming at least one code."""
    return checked_selectors(part for part in text.split(","))


def checked_selectors(parts: Any) -> list[str]:
    chosen = [part.strip().upper() for part in parts if part.strip()]
    foreign = [code for code in chosen if not code.startswith("QD")]
    if foreign:
        raise SelectorError(f"{', '.join(foreign)}: codes start with QD (e.g. QD1, QD204)")
    unknown = [code for code in chosen if not any(known.startswith(code) for known in CODES)]
    if unknown:
        raise SelectorError(
            f"{', '.join(unknown)} matches no finding code (they run from {min(CODES)} to {max(CODES)}; "
            "`qadiag rule --all` lists them)"
        )
    return chosen


def output_format(name: str) -> str:
    """A format name as given (``text`` is the earlier name of ``full``)."""
    return ALIASES.get(name, name)


@dataclass(frozen=True)
class AuditSettings:
    select: list[str] | None = None
    ignore: list[str] | None = None
    output_format: str | None = None
    pyproject: Path | None = None


def find_table(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest ``pyproject.toml`` at or above ``start`` that has a ``[tool.qadiag]`` table, and the table."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if not candidate.is_file():
            continue
        table = _read_table(candidate)
        if table is not None:
            return candidate, table
    return None


def _read_table(pyproject: Path) -> dict[str, Any] | None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with pyproject.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get("qadiag")
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read it: {error}", source=str(pyproject)) from None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(
            "[tool.qadiag] is not a table", source=str(pyproject), fix="write it as a [tool.qadiag] section"
        )
    return table


def load_settings(start: Path | None = None) -> AuditSettings:
    """``select``, ``ignore`` and ``output-format`` from ``[tool.qadiag]`` (see the module docstring)."""
    found = find_table(start or Path.cwd())
    if found is None:
        return AuditSettings()
    pyproject, table = found
    where = f"{pyproject} [tool.qadiag]"
    _check_spelling(table, where)
    values: dict[str, Any] = {"pyproject": pyproject}
    for key in ("select", "ignore"):
        if key in table:
            values[key] = _selector_list(table[key], key, where)
    given = [key for key in OUTPUT_FORMAT_KEYS if key in table]
    if given:
        name = table[given[0]]
        choices = sorted([*FORMATS, *ALIASES])
        if not isinstance(name, str) or output_format(name) not in FORMATS:
            raise ConfigError(
                f"output-format = {name!r} is not a format", source=where, fix=f"use one of {', '.join(choices)}"
            )
        values["output_format"] = output_format(name)
    return AuditSettings(**values)


def _selector_list(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{key} = {value!r} is not a list of code prefixes",
            source=where,
            fix=f'write it as {key} = ["QD1", "QD204"]',
        )
    try:
        return checked_selectors(value)
    except SelectorError as error:
        raise ConfigError(
            f"{key}: {error}", source=where, fix=f'list code prefixes, e.g. {key} = ["QD1", "QD204"]'
        ) from None


def _check_spelling(table: dict[str, Any], where: str) -> None:
    """A key that is not audit-logs' but looks like one of its keys misspelt (and is not the plugin's)."""
    import difflib

    for key in table:
        if key in KEYS:
            continue
        close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.75)
        if close and key not in _plugin_keys():
            raise ConfigError(f"unknown key {key!r}", source=where, fix=f"did you mean {close[0]!r}?")


def _plugin_keys() -> Sequence[str]:
    from dataclasses import fields

    from qadiag.plugin.config import PluginConfig

    return [field.name for field in fields(PluginConfig)]
