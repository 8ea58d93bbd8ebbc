"""The report document -> GitHub-flavoured Markdown (``report.md``, and the job summary in CI).

A job summary cannot show inline SVG, so plots are left out and the tables of their key points that
follow them carry the curves. Strings from the run dir are escaped so that they stay text: HTML tags
and entities (GitHub renders raw HTML), table pipes, emphasis, code and link characters, and block
markers at the start of a line; newlines collapse to spaces so nothing can start a block of its own.
"""

from __future__ import annotations

import re

from qadiag.report.document import (
    Block,
    Document,
    FindingCard,
    Heading,
    Paragraph,
    Plot,
    Preformatted,
    Section,
    Table,
)

_INLINE = re.compile(r"([\\`*_\[\]|~#])")
_ENTITY = re.compile(r"&(?=#?\w+;)")
# What starts a list item when it opens a line ("*", "#" and ">" are escaped anywhere).
_BLOCK_START = re.compile(r"^(?:([-+])|(\d+)([.)]))(?=\s|$)")
_TONES = {"alert": "⚠️ ", "good": "✅ "}


def escape_markdown(text: str, *, line_start: bool = False) -> str:
    """``text`` as literal inline Markdown on one line (``line_start``: also when it opens a line)."""
    text = _ENTITY.sub("&amp;", " ".join(text.split())).replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    if line_start:
        text = _BLOCK_START.sub(lambda match: f"\\{match.group(1)}" if match.group(1) else
                                f"{match.group(2)}\\{match.group(3)}", text)
    return text


def render_markdown(document: Document) -> str:
    parts = [f"# {escape_markdown(document.title)}", escape_markdown(document.subtitle)]
    parts.extend(_section(section) for section in document.sections)
    return "\n\n".join(parts) + "\n"


def _section(section: Section) -> str:
    blocks = [_block(block) for block in section.blocks]
    # A plot without a caption renders as nothing: the table that follows it has its numbers.
    return "\n\n".join([f"## {escape_markdown(section.title)}", *(block for block in blocks if block)])


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        tone = _TONES.get(block.tone, "")
        return tone + escape_markdown(block.text, line_start=not tone)
    if isinstance(block, Heading):
        return f"### {escape_markdown(block.text)}"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Plot):
        return escape_markdown(block.caption, line_start=True)
    if isinstance(block, FindingCard):
        return _finding(block)
    if isinstance(block, Preformatted):
        fence = "`" * max(3, _longest_backtick_run(block.text) + 1)
        return f"{fence}text\n{block.text}\n{fence}"
    raise TypeError(f"no Markdown for {type(block).__name__}")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(escape_markdown(cell) or " " for cell in cells) + " |"


def _table(table: Table) -> str:
    lines = [_row(table.columns), "|" + " --- |" * len(table.columns)]
    lines.extend(_row(row) for row in table.rows)
    return "\n".join(lines)


def _finding(card: FindingCard) -> str:
    item = card.finding
    count = f" (×{item.count})" if item.count > 1 else ""
    title = f" {escape_markdown(item.title)}" if item.title else ""
    lines = [f"- **{escape_markdown(item.severity)} {escape_markdown(item.code)}**{title}{count}"]
    if item.where:
        lines.append(f"  Where: {escape_markdown(item.where)}")
    lines.append(f"  {escape_markdown(item.message)}")
    if item.fix:
        lines.append(f"  **Fix:** {escape_markdown(item.fix)}")
    return "\n\n".join(lines)
