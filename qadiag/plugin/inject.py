"""Call a user function with arguments injected by parameter name, like pytest fixtures."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from qadiag.errors import ConfigError
from qadiag.usercode import callable_location

Providers = Mapping[str, Callable[[], Any]]


def call_with_injection(
    function: Callable[..., Any], providers: Providers, *, role: str, extra: Mapping[str, Any] | None = None
) -> Any:
    """Call ``function``, passing each parameter whose name qadiag provides.

    Values are built lazily: a factory that does not ask for ``eval_examples`` never causes them to
    be built. A required parameter qadiag does not provide is an error that lists what it does.
    """
    values = dict(extra or {})
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        raise ConfigError(f"cannot inspect the signature of {role} {function!r}") from None
    kwargs = {}
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        name = parameter.name
        if name in values:
            kwargs[name] = values[name]
        elif name in providers:
            kwargs[name] = providers[name]()
        elif parameter.default is inspect.Parameter.empty:
            offered = sorted({*providers, *values})
            raise ConfigError(
                f"{role} {callable_location(function)} asks for {name!r}, which qadiag does not provide",
                fix=f"rename the parameter to one of: {', '.join(offered)}; or give it a default value",
            )
    return function(**kwargs)
