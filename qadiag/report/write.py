"""Write ``report.html`` and ``report.md`` for a run dir, and append the Markdown to the GitHub job summary."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qadiag.errors import InputError
from qadiag.report.build import build_document
from qadiag.report.html import render_html
from qadiag.report.markdown import render_markdown
from qadiag.report.rundir import read_run_dir

HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    step_summary: Path | None = None  # where the Markdown was appended, when $GITHUB_STEP_SUMMARY is set


def write_report(
    run_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    *,
    step_summary: bool = True,
) -> ReportPaths:
    """Write the report of ``run_dir`` into ``output_dir`` (default: the run dir itself).

    With ``step_summary`` (the default) the Markdown is also appended to the file named by
    ``$GITHUB_STEP_SUMMARY`` when that is set. Raises :class:`qadiag.errors.InputError` when the run
    dir cannot be used or the files cannot be written; a damaged file in the run dir is a note in the
    report, not an error.
    """
    run = read_run_dir(run_dir)
    document = build_document(run)
    target = Path(output_dir).resolve() if output_dir is not None else run.path
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the report directory: {error.strerror or error}", source=str(target),
                         fix="pass --output-dir with a directory you can write to") from None
    markdown = render_markdown(document)
    paths = ReportPaths(_replace(target / HTML_FILE, render_html(document)), _replace(target / MARKDOWN_FILE, markdown))
    summary = os.environ.get(STEP_SUMMARY) if step_summary else None
    if summary:
        _append(Path(summary), markdown)
        return ReportPaths(paths.html, paths.markdown, Path(summary))
    return paths


def _replace(path: Path, text: str) -> Path:
    """Write through a new file renamed over ``path``: a link planted at ``path`` is replaced, not followed."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        raise InputError(f"cannot write the report: {error.strerror or error}", source=str(path),
                         fix="pass --output-dir with a directory you can write to") from None
    return path


def _append(path: Path, markdown: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as file:
            file.write(markdown)
    except OSError as error:
        raise InputError(
            f"the report was written, but ${STEP_SUMMARY} cannot be appended to: {error.strerror or error}",
            source=str(path),
            fix=f"unset {STEP_SUMMARY} outside GitHub Actions, or point it at a writable file",
        ) from None
