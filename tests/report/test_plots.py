"""The SVG plots written without a plotting library: round ticks inside the data's range, lines broken at
NaN/infinite values, and finite coordinates whatever the numbers."""

import math
import re
import xml.etree.ElementTree as ET

import pytest

from qadiag.report.curves import Series
from qadiag.report.document import Line, Mark, Plot
from qadiag.report.plots import render_svg

SVG = "{http://www.w3.org/2000/svg}"


def plot_of(points, marks=()):
    return Plot("p", "eval_loss", "loss", (Line("eval loss", Series("eval_loss", tuple(points)), "--"),), marks)


def texts(svg):
    return ["".join(element.itertext()) for element in ET.fromstring(svg).iter(f"{SVG}text")]


def coordinates(svg):
    """Every number in the geometry attributes (positions, path data, points, transforms)."""
    geometry = {"x", "y", "cx", "cy", "r", "width", "height", "d", "points", "transform", "viewBox"}
    attributes = " ".join(
        value for element in ET.fromstring(svg).iter() for name, value in element.attrib.items() if name in geometry
    )
    assert "nan" not in attributes.lower() and "inf" not in attributes.lower()
    return [float(number) for number in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", attributes)]


def test_ticks_are_round_and_inside_the_data_range():
    svg = render_svg(plot_of([(step, 1 / step) for step in range(20, 1261, 20)]))
    labels = texts(svg)
    assert {"0", "250", "500", "750", "1000", "1250"} <= set(labels)
    assert "1500" not in labels  # no empty stretch after the last step


@pytest.mark.parametrize(
    "points",
    [
        [(1, 0.5), (2, math.nan), (3, math.inf), (4, 0.25)],
        [(1, 1.0), (2, 1.0)],  # a flat line
        [(5, 1e-300), (6, 1.7e308), (7, -1.7e308)],  # near the float limits
        [(1, math.nan)],  # nothing finite
    ],
)
def test_any_numbers_give_well_formed_svg_with_finite_coordinates(points):
    svg = render_svg(plot_of(points, marks=(Mark(1, 0.5, "best"),)))
    assert all(math.isfinite(number) and abs(number) < 10_000 for number in coordinates(svg))


def test_a_line_is_broken_at_non_finite_values_and_they_are_marked():
    svg = render_svg(plot_of([(1, 0.5), (2, math.nan), (3, 0.4), (4, 0.3)]))
    paths = [element.get("d") for element in ET.fromstring(svg).iter(f"{SVG}path")]
    assert any(d.count("M") == 2 for d in paths if d), "the series restarts after the NaN"
    assert "eval loss: NaN or infinite" in texts(svg)
