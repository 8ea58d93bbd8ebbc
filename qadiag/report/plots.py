"""Plots as inline SVG, written directly: a line chart against the training step needs axes, ticks, a
grid, polylines, a legend and a few markers, and writing those by hand costs milliseconds where
matplotlib cost 0.3 s to import and 0.06 s a plot (the report is written at the end of every
``pytest --qadiag`` session and every ``qadiag train``).

Every string drawn (titles, metric keys, legend labels) came from the run dir: it is written as escaped
SVG text, never parsed (a ``$`` in a key is not math). The SVG has no ids, so several plots can share one
HTML document, and no script, link or external reference.
"""

from __future__ import annotations

import math
from html import escape

from qadiag.report.document import Line, Mark, Plot

# Ends and rises of sparse series are easier to read with a marker on each point.
_MARKERS_UP_TO = 60
_NON_FINITE_LINES = 200
_BAD = "#c62828"
_BEST = "#2e7d32"
_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
_DASHES = {"-": "", "--": "6 3", ":": "1.5 2.5", "-.": "6 2.5 1.5 2.5"}
_FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
# The plot area inside the SVG: room for the title above, tick labels and axis labels left and below.
_LEFT, _RIGHT, _TOP, _BOTTOM = 66, 14, 30, 40
_TICKS = 6


def render_svg(plot: Plot) -> str:
    """The plot as an ``<svg>`` element for an HTML document."""
    width, height = (500, 280) if plot.small else (750, 320)
    frame = _Frame(plot, width, height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" {_FONT} font-size="11" role="img" aria-label="{escape(plot.title)}">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        *frame.axes(plot.y_label),
        f'<text x="{_LEFT}" y="18" font-size="12">{escape(plot.title)}</text>',
    ]
    legend: list[tuple[str, str]] = []
    for index, line in enumerate(plot.lines):
        colour = _COLOURS[index % len(_COLOURS)]
        parts.extend(frame.line(line, colour))
        legend.append((line.label, _legend_line(colour, _DASHES.get(line.style, ""))))
        non_finite = line.series.non_finite_steps[:_NON_FINITE_LINES]
        parts.extend(frame.vertical(at) for at in non_finite)
        if non_finite:
            legend.append((f"{line.label}: NaN or infinite", _legend_line(_BAD, "", opacity=0.5)))
    for mark in plot.marks:
        parts.append(frame.star(mark))
        legend.append((mark.label, _star(8, 0, 4.5)))
    parts.extend(frame.legend(legend, plot))
    parts.append("</svg>")
    return "".join(parts)


class _Frame:
    """Data coordinates to SVG coordinates, for the steps and values a plot shows."""

    def __init__(self, plot: Plot, width: int, height: int) -> None:
        steps = [at for line in plot.lines for at, _ in line.series.points] + [mark.step for mark in plot.marks]
        values = [value for line in plot.lines for _, value in line.series.finite] + [
            mark.value for mark in plot.marks if math.isfinite(mark.value)
        ]
        self.x_range, self.y_range = _padded(_span(steps)), _padded(_span(values))
        self.x_ticks, self.y_ticks = _nice_ticks(*self.x_range), _nice_ticks(*self.y_range)
        self.left, self.right = _LEFT, width - _RIGHT
        self.top, self.bottom = _TOP, height - _BOTTOM

    def x(self, step: float) -> float:
        return self.left + _fraction(step, self.x_range) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - _fraction(value, self.y_range) * (self.bottom - self.top)

    def axes(self, y_label: str) -> list[str]:
        parts = []
        x_labels = _tick_labels(self.x_ticks)
        for tick, label in zip(self.x_ticks, x_labels):
            x = self.x(tick)
            parts.append(f'<path d="M{x:.1f} {self.top}V{self.bottom}" stroke="#000" stroke-opacity="0.12"/>')
            parts.append(f'<text x="{x:.1f}" y="{self.bottom + 14}" text-anchor="middle">{label}</text>')
        for tick, label in zip(self.y_ticks, _tick_labels(self.y_ticks)):
            y = self.y(tick)
            parts.append(f'<path d="M{self.left} {y:.1f}H{self.right}" stroke="#000" stroke-opacity="0.12"/>')
            parts.append(f'<text x="{self.left - 5}" y="{y + 3.5:.1f}" text-anchor="end">{label}</text>')
        parts.append(f'<path d="M{self.left} {self.top}V{self.bottom}H{self.right}" stroke="#000" fill="none"/>')
        middle_x, middle_y = (self.left + self.right) / 2, (self.top + self.bottom) / 2
        parts.append(f'<text x="{middle_x:.1f}" y="{self.bottom + 32}" text-anchor="middle">step</text>')
        parts.append(
            f'<text x="14" y="{middle_y:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle_y:.1f})">{escape(y_label)}</text>'
        )
        return parts

    def line(self, line: Line, colour: str) -> list[str]:
        """The series as a path broken at NaN/infinite values, with a marker per point when sparse."""
        commands, pen_down = [], False
        for step, value in line.series.points:
            if not math.isfinite(value):
                pen_down = False
                continue
            commands.append(f"{'L' if pen_down else 'M'}{self.x(step):.1f} {self.y(value):.1f}")
            pen_down = True
        dashes = _DASHES.get(line.style, "")
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        parts = [f'<path d="{"".join(commands)}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>']
        finite = line.series.finite
        if len(line.series.points) <= _MARKERS_UP_TO:
            parts.extend(
                f'<circle cx="{self.x(step):.1f}" cy="{self.y(value):.1f}" r="2.2" fill="{colour}"/>'
                for step, value in finite
            )
        return parts

    def vertical(self, step: float) -> str:
        x = self.x(step)
        return f'<path d="M{x:.1f} {self.top}V{self.bottom}" stroke="{_BAD}" stroke-opacity="0.4"/>'

    def star(self, mark: Mark) -> str:
        return _star(self.x(mark.step), self.y(mark.value), 7)

    def legend(self, entries: list[tuple[str, str]], plot: Plot) -> list[str]:
        """Each entry's sample and label, in the corner of the plot area that covers the fewest points."""
        if not entries:
            return []
        labels = [_shortened(label) for label, _ in entries]
        box_width, box_height = 30 + 6 * max(map(len, labels)), 15 * len(entries) + 4
        points = [(self.x(at), self.y(value)) for line in plot.lines for at, value in line.series.finite]
        corners = [
            (self.right - box_width, self.top),
            (self.left + 6, self.top),
            (self.right - box_width, self.bottom - box_height),
            (self.left + 6, self.bottom - box_height),
        ]
        x, y = min(corners, key=lambda corner: _inside(points, corner, box_width, box_height))
        parts = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_width}" height="{box_height}" fill="#fff" '
                 'fill-opacity="0.8"/>']
        for row, ((_, sample), label) in enumerate(zip(entries, labels)):
            row_y = y + 10 + row * 15
            parts.append(f'<g transform="translate({x + 4:.1f} {row_y:.1f})">{sample}</g>')
            parts.append(f'<text x="{x + 28:.1f}" y="{row_y + 3.5:.1f}" font-size="10">{escape(label)}</text>')
        return parts


def _fraction(number: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    width = high - low
    if not math.isfinite(width) or width <= 0:
        return 0.5
    return (number - low) / width


def _inside(points: list[tuple[float, float]], corner: tuple[float, float], width: float, height: float) -> int:
    x, y = corner
    return sum(x <= px <= x + width and y <= py <= y + height for px, py in points)


def _shortened(label: str, limit: int = 48) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _span(numbers: list[float]) -> tuple[float, float]:
    finite = [number for number in numbers if math.isfinite(number)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def _padded(bounds: tuple[float, float]) -> tuple[float, float]:
    """A margin of 3 % on each side, so that the first and last points are not drawn on the axes."""
    low, high = bounds
    margin = (high - low) * 0.03
    return (low - margin, high + margin) if math.isfinite(margin) else bounds


def _nice_ticks(low: float, high: float) -> list[float]:
    """Four to seven round ticks (1, 2, 2.5 or 5 times a power of ten) between ``low`` and ``high``."""
    raw = (high - low) / _TICKS
    if not math.isfinite(raw) or raw <= 0:  # values near the float limits: the ends alone
        return [low, high]
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw)
    first, last = math.ceil(low / step), math.floor(high / step)
    ticks = [index * step for index in range(first, last + 1)]
    return ticks if len(ticks) >= 2 else [low, high]


def _tick_labels(ticks: list[float]) -> list[str]:
    step = ticks[1] - ticks[0]
    largest = max(abs(ticks[0]), abs(ticks[-1]))
    if not math.isfinite(step) or step <= 0 or largest >= 1e7 or 0 < largest < 1e-3:
        return [f"{tick:.2e}" for tick in ticks]
    magnitude = math.floor(math.log10(step))
    two_and_a_half = math.isclose(step / 10**magnitude, 2.5)
    decimals = max(0, -magnitude + two_and_a_half)
    return [f"{tick:.{decimals}f}" for tick in ticks]


def _legend_line(colour: str, dashes: str, opacity: float = 1.0) -> str:
    dash = f' stroke-dasharray="{dashes}"' if dashes else ""
    return f'<path d="M0 0H18" stroke="{colour}" stroke-width="1.5" stroke-opacity="{opacity}"{dash}/>'


def _star(x: float, y: float, radius: float) -> str:
    points = []
    for corner in range(10):
        angle = math.pi / 2 + corner * math.pi / 5
        length = radius if corner % 2 == 0 else radius * 0.45
        points.append(f"{x + length * math.cos(angle):.1f},{y - length * math.sin(angle):.1f}")
    return f'<polygon points="{" ".join(points)}" fill="{_BEST}"/>'
