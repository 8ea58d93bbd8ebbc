"""Rewrite the probes table in README.md from the check registry (qadiag.checks.markdown_table)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qadiag.checks import markdown_table  # noqa: E402

HEADER = "| probe | checks (kind) | codes | catches |"
END = "\n\nOther codes:"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(HEADER), text.index(END)
    readme.write_text(text[:start] + markdown_table() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
