"""The report document -> one self-contained HTML file.

Self-contained: the style sheet is inline, the plots are inline SVG, and there is no script, font,
image or link to anything outside the file, so it opens from disk, from a CI artifact, offline. A
Content-Security-Policy that allows nothing but inline style backs that up: even a string that got
past escaping could not load or run anything. Every string from the run dir is escaped with
:func:`html.escape` (quotes included, so it is safe in attributes too).
"""

from __future__ import annotations

import itertools
from html import escape

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
from qadiag.report.plots import render_svg

_STYLE = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa;
        --bad: #b42318; --warn: #9a6700; --good: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1.5rem; color: var(--fg); line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
header p { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; padding: 0; margin: 1rem 0; list-style: none; }
section { border-top: 1px solid var(--line); padding-top: .5rem; margin-top: 1.5rem; }
h2 { font-size: 1.3rem; } h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; overflow-wrap: anywhere; }
p { margin: .4rem 0; overflow-wrap: anywhere; }
p.alert { border-left: 4px solid var(--bad); padding: .2rem .6rem; background: #fff5f5; }
p.good { border-left: 4px solid var(--good); padding: .2rem .6rem; background: #f3fbf5; }
figure { margin: .6rem 0; }
figure svg { display: block; width: 100%; max-width: 760px; height: auto; }
figcaption { margin: .2rem 0; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: .5rem 1.5rem; }
.plots figure { margin: 0; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: .4rem 0; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; max-width: 32rem; }
th { background: var(--bg2); white-space: nowrap; }
td.yes { color: var(--good); font-weight: 600; text-align: center; }
td.no { color: var(--bad); font-weight: 600; text-align: center; }
details { margin: .3rem 0; } summary { cursor: pointer; color: var(--muted); }
pre { background: var(--bg2); padding: .6rem; overflow-x: auto; font-size: .8rem; }
.finding { border: 1px solid var(--line); border-left-width: 4px; border-radius: 4px; padding: .4rem .7rem;
           margin: .5rem 0; }
.finding.error { border-left-color: var(--bad); } .finding.warning { border-left-color: var(--warn); }
.finding .head { font-weight: 600; overflow-wrap: anywhere; }
.finding .where { color: var(--muted); font-size: .9rem; }
.severity { text-transform: uppercase; font-size: .75rem; letter-spacing: .04em; }
.error .severity { color: var(--bad); } .warning .severity { color: var(--warn); }
"""
# Nothing may be fetched or run; inline style (the sheet above, SVG style attributes) is all there is.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def render_html(document: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{escape(document.title)}</h1><p>{escape(document.subtitle)}</p></header>",
        _contents(document),
        "<main>",
        *(_section(section) for section in document.sections),
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _contents(document: Document) -> str:
    links = "".join(f'<li><a href="#{section.id}">{escape(section.title)}</a></li>' for section in document.sections)
    return f'<nav aria-label="sections"><ul>{links}</ul></nav>'


def _section(section: Section) -> str:
    parts = []
    for small, blocks in itertools.groupby(section.blocks, key=lambda block: isinstance(block, Plot) and block.small):
        rendered = "\n".join(_block(block) for block in blocks)
        parts.append(f'<div class="plots">\n{rendered}\n</div>' if small else rendered)
    body = "\n".join(parts)
    return f'<section id="{section.id}">\n<h2>{escape(section.title)}</h2>\n{body}\n</section>'


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        tone = f' class="{block.tone}"' if block.tone else ""
        return f"<p{tone}>{escape(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{escape(block.text)}</h3>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Plot):
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure id="plot-{block.name}">{caption}{render_svg(block)}</figure>'
    if isinstance(block, FindingCard):
        return _finding(block)
    if isinstance(block, Preformatted):
        return f"<pre>{escape(block.text)}</pre>"
    raise TypeError(f"no HTML for {type(block).__name__}")


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in table.columns)
    rows = []
    for row in table.rows:
        cells = []
        for index, cell in enumerate(row):
            verdict = ""
            if index == table.verdict_column:
                verdict = ' class="yes"' if cell == "✓" else ' class="no"'
            cells.append(f"<td{verdict}>{escape(cell)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    html = f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    if table.plot_data:
        return f"<details><summary>the numbers at key steps</summary>{html}</details>"
    return html


def _finding(card: FindingCard) -> str:
    item = card.finding
    count = f" (×{item.count})" if item.count > 1 else ""
    title = f" {escape(item.title)}" if item.title else ""
    parts = [
        f'<div class="finding {escape(item.severity)}">',
        f'<div class="head"><span class="severity">{escape(item.severity)}</span> {escape(item.code)}{title}'
        f"{count}</div>",
    ]
    if item.where:
        parts.append(f'<div class="where">{escape(item.where)}</div>')
    parts.append(f"<p>{escape(item.message)}</p>")
    if item.fix:
        parts.append(f"<p><strong>Fix:</strong> {escape(item.fix)}</p>")
    if item.evidence:
        parts.append(f"<details><summary>evidence</summary><pre>{escape(item.evidence)}</pre></details>")
    parts.append("</div>")
    return "".join(parts)
