"""Plots as inline SVG, drawn with matplotlib, which is imported here only when a plot is drawn.

pyplot is never imported: a ``Figure`` saved straight to SVG needs no GUI backend, so plotting works
headless and leaves the matplotlib backend of the calling process (a user's test session) alone.
Text is written as SVG text, not paths (smaller, and matplotlib escapes it), math parsing is off so a
metric key with ``$`` is drawn as it is, and every SVG id is prefixed with the plot's name because
several plots share one HTML document.
"""

from __future__ import annotations

import io
import math
import re

from qadiag.report.document import Plot

_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# Ends and rises of sparse series are easier to read with a marker on each point.
_MARKERS_UP_TO = 60
_NON_FINITE_LINES = 200
_BAD = "#c62828"
_BEST = "#2e7d32"
_TAG = re.compile(r"<[^>]*>")
_REFERENCES = re.compile(r'(\bid="|url\(#|href="#)')


def render_svg(plot: Plot) -> str:
    """The plot as an ``<svg>`` element for an HTML document (no XML prolog, ids prefixed)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({**_RC, "svg.hashsalt": plot.name}):
        figure = Figure(figsize=(5.0, 2.8) if plot.small else (7.5, 3.2), layout="constrained")
        axes = figure.add_subplot()
        for line in plot.lines:
            steps = [at for at, _ in line.series.points]
            values = [value if math.isfinite(value) else math.nan for _, value in line.series.points]
            marker = "o" if len(steps) <= _MARKERS_UP_TO else None
            axes.plot(steps, values, line.style, marker=marker, markersize=3, linewidth=1.4, label=line.label)
            for index, at in enumerate(line.series.non_finite_steps[:_NON_FINITE_LINES]):
                label = f"{line.label}: NaN or infinite" if index == 0 else None
                axes.axvline(at, color=_BAD, alpha=0.4, linewidth=1, label=label)
        for mark in plot.marks:
            axes.plot([mark.step], [mark.value], linestyle="none", marker="*", markersize=11, color=_BEST,
                      label=mark.label)
        axes.set_title(plot.title, loc="left")
        axes.set_xlabel("step")
        axes.set_ylabel(plot.y_label)
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize=8, frameon=False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    return _inline(buffer.getvalue(), plot.name)


def _inline(svg: str, prefix: str) -> str:
    # Text between tags is escaped by matplotlib, so "<...>" only ever matches a tag.
    def prefixed(tag: re.Match[str]) -> str:
        return _REFERENCES.sub(lambda ref: f"{ref.group(1)}{prefix}-", tag.group(0))

    return _TAG.sub(prefixed, svg[svg.index("<svg"):]).strip()
