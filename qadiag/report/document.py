"""The report as a document: sections of blocks that both renderers (HTML and Markdown) walk.

Building the content once and rendering it twice keeps the two files saying the same thing. Every
string in a block is plain text, much of it from the run dir (untrusted): the renderers escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qadiag.report.curves import Series
from qadiag.report.probe_report import ReportedFinding


@dataclass(frozen=True)
class Paragraph:
    text: str
    tone: str = ""  # "alert" for what needs attention, "good" for a clean bill


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    verdict_column: int | None = None  # the column holding ✓/✗
    plot_data: bool = False  # the numbers behind the plot above it: HTML folds them away


@dataclass(frozen=True)
class Line:
    label: str
    series: Series
    style: str = "-"  # "-", "--", ":" or "-."; markers are added for sparse series


@dataclass(frozen=True)
class Mark:
    step: float
    value: float
    label: str


@dataclass(frozen=True)
class Plot:
    """A line plot against the training step. HTML draws it; Markdown shows only its caption (the table
    that follows a plot has its numbers)."""

    name: str  # unique in the document: SVG ids are prefixed with it
    title: str
    y_label: str
    lines: tuple[Line, ...]
    marks: tuple[Mark, ...] = ()
    caption: str = ""
    small: bool = False  # one of several side by side (one per metric)


@dataclass(frozen=True)
class FindingCard:
    finding: ReportedFinding


@dataclass(frozen=True)
class Preformatted:
    text: str


Block = Paragraph | Heading | Table | Plot | FindingCard | Preformatted


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
