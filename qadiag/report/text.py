"""Text helpers shared by the HTML and Markdown renderers: clipping and number formatting."""

from __future__ import annotations

import math


def clip(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters (an ellipsis marks the cut)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def number(value: float) -> str:
    """A metric value for people: 4 significant digits, NaN and infinities spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def step(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
