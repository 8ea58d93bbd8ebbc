"""report.html in a real browser (headless Chromium): it renders, every plot has a size, nothing is
logged, nothing is fetched. CI installs Chromium (.ci/run), so there the test never skips."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from tests.report.browser import CHROMIUM, render

if not os.access(CHROMIUM, os.X_OK):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing on CI: .ci/run installs Debian's chromium package; run it as root")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it and runs this test",
                allow_module_level=True)


def test_report_renders_in_chromium_with_every_plot_and_a_silent_console(qa_report, tmp_path):
    page = render(qa_report.paths.html)

    image = Image.open(io.BytesIO(page.screenshot))
    assert image.format == "PNG"
    assert image.width >= 1200 and image.height > 2000, "the full page, not an empty viewport"
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "a blank or single-colour screenshot"
    (tmp_path / "report.png").write_bytes(page.screenshot)  # kept for a look after a failure

    figures = {svg["id"] for svg in page.svgs}
    assert figures == {"plot-losses", "plot-metric-0", "plot-metric-1", "plot-metric-2", "plot-learning-rate",
                       "plot-sample-accuracy"}
    for svg in page.svgs:
        assert svg["width"] > 300 and svg["height"] > 150, svg
        assert svg["drawn"] > 20, f"{svg['id']} rendered without its lines and labels"

    assert page.console == []
    assert page.scripts == 0
    assert page.requests == [qa_report.paths.html.resolve().as_uri()], "the page fetched something besides itself"
