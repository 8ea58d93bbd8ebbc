"""Where the user's code is: ``file:line`` of their callables and the frames of a traceback that are
theirs (not qadiag's, transformers', torch's or any installed library's).

Every location qadiag prints for user code comes from here, so that a finding points at the line to
edit, never at a frame inside qadiag or a library.
"""

from __future__ import annotations

import ast
import inspect
import sysconfig
import textwrap
import traceback
from pathlib import Path
from typing import Any

_QADIAG_DIR = str(Path(__file__).resolve().parent)
_LIBRARY_DIRS = tuple(
    sorted(
        {
            str(Path(path).resolve())
            for name in ("stdlib", "platstdlib", "purelib", "platlib")
            if (path := sysconfig.get_paths().get(name))
        }
    )
)


def callable_name(function: Any) -> str:
    """``module:qualname`` of a function, method or callable object."""
    if function is None:
        return "<none>"
    target = getattr(function, "func", function)  # functools.partial
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}:{name}" if module else name


def callable_location(function: Any) -> str:
    """``file:line`` where ``function`` is defined, ``module:qualname`` when the source is unknown."""
    target = inspect.unwrap(getattr(function, "func", function))
    try:
        return f"{inspect.getsourcefile(target)}:{inspect.getsourcelines(target)[1]}"
    except (TypeError, OSError):
        return callable_name(function)


def is_user_file(filename: str) -> bool:
    """False for qadiag's own files, the standard library and installed packages (site-packages)."""
    if not filename or filename.startswith("<"):
        return False
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    if resolved.startswith(_QADIAG_DIR):
        return False
    return not any(resolved.startswith(directory) for directory in _LIBRARY_DIRS) and "site-packages" not in resolved


def user_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``error``'s traceback that are in the user's files, outermost first."""
    return [frame for frame in traceback.extract_tb(error.__traceback__) if is_user_file(frame.filename)]


def frame_location(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename}:{frame.lineno}"


def short_traceback(error: BaseException, frames: list[traceback.FrameSummary] | None = None, limit: int = 8) -> str:
    """A pytest ``--tb=short`` style traceback of the user's frames only, then the exception line."""
    frames = user_frames(error) if frames is None else frames
    lines = []
    for frame in frames[-limit:]:
        lines.append(f"{frame.filename}:{frame.lineno}: in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(f"{type(error).__name__}: {error}")
    return "\n".join(lines)


def full_traceback(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def defining_class_location(cls: type, name: str) -> str | None:
    """``file:line`` of ``cls.name`` as defined by the user (None when inherited from a library)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            function = vars(klass)[name]
            location = callable_location(function)
            file = location.rsplit(":", 1)[0]
            return location if is_user_file(file) else None
    return None


def parsed_source(target: Any) -> tuple[str, int, ast.AST, str] | None:
    """``(file, first line, syntax tree, source)`` of a user class, function or module; None for library
    code or source that cannot be read."""
    try:
        file = inspect.getsourcefile(target)
        # before reading: finding a class's lines parses its whole module (transformers' callbacks: 0.2 s)
        if file is None or not is_user_file(file):
            return None
        lines, first = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return None
    source = textwrap.dedent("".join(lines))
    try:
        return file, max(first, 1), ast.parse(source), source
    except SyntaxError:
        return None


def user_trainer_classes(trainer_class: type) -> list[type]:
    """The classes of ``trainer_class``'s MRO that subclass ``transformers.Trainer`` and are the user's."""
    from transformers import Trainer

    return [
        klass
        for klass in trainer_class.__mro__
        if klass is not Trainer and issubclass(klass, Trainer) and parsed_source(klass) is not None
    ]


__all__ = [
    "callable_location",
    "callable_name",
    "defining_class_location",
    "frame_location",
    "full_traceback",
    "is_user_file",
    "parsed_source",
    "short_traceback",
    "user_frames",
    "user_trainer_classes",
]
