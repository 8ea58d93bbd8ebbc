"""``qadiag audit-logs RUN_DIR [RUN_DIR ...]``: arguments, settings, progress, report, exit code.

ruff's conventions: ``--output-format`` (``--format`` is its alias, ``text`` the earlier name of ``full``),
``--select``/``--ignore`` code prefixes, ``--statistics``, ``--exit-zero``, ``-q``/``--quiet``; ``select``,
``ignore`` and ``output-format`` also from ``[tool.qadiag]`` (:mod:`qadiag.audit.config`), the command line
winning. The report goes to stdout, nothing else does: what was read, logger directories that were not
given and what ``--select``/``--ignore`` hid go to stderr (not with ``--quiet``).

Exit codes (DESIGN.md §1, ruff's convention): 0 no error-level findings (or ``--exit-zero``), 1 error-level
findings (warnings too with ``--strict``), 2 a usage error, nothing auditable found, or an internal error (a
bug in qadiag outside the readers: said so, with where to report it). A reader failing on a file is a QD910
finding for that file, not an exit 2: the other files and runs are still audited.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from qadiag.audit import REPORT_BUGS_AT
from qadiag.audit.config import SelectorError, load_settings, output_format, selectors
from qadiag.audit.discover import discover
from qadiag.audit.inputs import hidden_note, neighbour_warning, unread_neighbours, what_was_read
from qadiag.audit.pipeline import audit
from qadiag.audit.readers import looked_for
from qadiag.audit.records import Source
from qadiag.errors import QadiagError
from qadiag.findings import is_failure, select
from qadiag.formats import FORMATS, escape, render

# Show progress when there is this much to read (and stdout is a terminal).
PROGRESS_MIN_BYTES = 32 << 20
PROGRESS_EVERY_S = 0.2
PROGRESS_WIDTH = 100
DEFAULT_FORMAT = "full"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qadiag audit-logs",
        description="Audit finished runs' logs (trainer_state.json, W&B, TensorBoard, MLflow) for "
        "metrics outside their namespace, missing or non-finite losses, restarts, sources that disagree, "
        "and damaged files. `qadiag rule CODE` explains a finding code.",
        epilog="exit status: 0 no errors, 1 error-level findings (or warnings with --strict), "
        "2 usage error, nothing auditable found, or an internal error. select, ignore and output-format "
        "are also read from [tool.qadiag] in pyproject.toml (the command line wins).",
    )
    parser.add_argument(
        "run_dirs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="directories (searched recursively) or single log files",
    )
    parser.add_argument(
        "--output-format",
        "--format",
        dest="output_format",
        type=output_format,
        choices=sorted(FORMATS),
        default=None,
        metavar="{" + ",".join(FORMATS) + "}",
        help=f"report format (default: {DEFAULT_FORMAT}; `text` is accepted for full)",
    )
    parser.add_argument(
        "--select",
        type=_codes,
        default=None,
        metavar="CODES",
        help="only these code prefixes, comma-separated (e.g. QD1,QD20)",
    )
    parser.add_argument(
        "--ignore", type=_codes, default=None, metavar="CODES", help="leave out these code prefixes, comma-separated"
    )
    parser.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument(
        "--statistics", action="store_true", help="print how often each code was found instead of the findings"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=0,
        metavar="N",
        help="processes to read with (default 0: one per core); small audits use one",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print the report and nothing else (no progress, no notes on stderr)"
    )
    parser.add_argument("--no-progress", action="store_true", help="never show the progress line")
    return parser


def _codes(text: str) -> list[str]:
    try:
        return selectors(text)
    except SelectorError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (0: one per core)")
    return jobs


class Progress:
    """A one-line ``bytes read / total`` display on stderr, for big audits at a terminal."""

    def __init__(self, sources: Sequence[Source], stream: TextIO) -> None:
        self.stream = stream
        self.sizes = {source: source.size for source in sources}
        self.total = sum(self.sizes.values())
        self.done = 0
        self.last = 0.0

    def update(self, source: Source, offset: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self._show(self.done + min(offset, self.sizes[source]), source.name)

    def finished(self, source: Source) -> None:
        self.done += self.sizes[source]
        self._show(self.done, source.name)

    def _show(self, done: int, name: str) -> None:
        percent = 100 * done / self.total if self.total else 100
        status = f"audit-logs: {done / 2**20:,.1f}/{self.total / 2**20:,.1f} MB ({percent:.0f}%) "
        room = PROGRESS_WIDTH - len(status)
        name = escape(name)
        shown = name if len(name) <= room else "..." + name[-(room - 3) :]
        self.stream.write(f"\r{status}{shown:<{room}}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + " " * PROGRESS_WIDTH + "\r")
        self.stream.flush()


def _progress(sources: Sequence[Source], quiet: bool) -> Progress | None:
    if quiet or not sys.stdout.isatty() or not sys.stderr.isatty():
        return None
    progress = Progress(sources, sys.stderr)
    return progress if progress.total >= PROGRESS_MIN_BYTES else None


def main(argv: Sequence[str]) -> int:
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    try:
        return _audit(args)
    except (QadiagError, BrokenPipeError):
        raise
    except Exception as error:  # a bug in qadiag outside the readers: say so, never exit 1 (= "findings")
        _internal_error(error)
        return 2


def _note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        _write(sys.stderr, f"qadiag audit-logs: {text}\n")


def _audit(args: argparse.Namespace) -> int:
    settings = load_settings()
    chosen = args.select if args.select is not None else settings.select or []
    ignored = args.ignore if args.ignore is not None else settings.ignore or []
    report_format = args.output_format or settings.output_format or DEFAULT_FORMAT
    missing = [str(path) for path in args.run_dirs if not path.exists()]
    if missing:
        raise QadiagError(f"no such file or directory: {', '.join(missing)}", fix="pass existing run directories")
    found = discover(args.run_dirs)
    if not found.sources and not found.findings:
        raise QadiagError(
            f"nothing auditable under {', '.join(map(str, args.run_dirs))}: looked for {looked_for()}",
            fix="pass the training output dir, the wandb/ dir, the TensorBoard log dir or the mlruns/ dir",
        )
    progress = _progress(found.sources, args.no_progress or args.quiet)
    try:
        result = audit(found.sources, found.output_dirs, progress, found.findings, jobs=args.jobs)
    finally:
        if progress is not None:
            progress.close()
    shown = select(result.findings, chosen, ignored)
    _note(args, what_was_read(result.summaries, len(result.runs)))
    for neighbour, given in unread_neighbours(args.run_dirs):
        _note(args, neighbour_warning(neighbour, given))
    if len(shown) < len(result.findings):
        hidden = [item for item in result.findings if item not in shown]
        _note(args, hidden_note(hidden))
    if args.statistics:
        from qadiag.formats.statistics import format_statistics

        text = format_statistics(shown, as_json=report_format in ("json", "json-lines"))
    else:
        text = render(report_format, shown, strict=args.strict)
    if text:
        _write(sys.stdout, text + "\n")
    if args.exit_zero:
        return 0
    return 1 if any(is_failure(item, args.strict) for item in shown) else 0


def _write(stream: TextIO, text: str) -> None:
    """``text`` on ``stream`` whatever its encoding (an ASCII terminal gets backslash escapes, not a crash)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def _internal_error(error: Exception) -> None:
    details = "".join(traceback.format_exception(error))
    _write(
        sys.stderr,
        f"qadiag audit-logs: internal error: {escape(f'{type(error).__name__}: {error}')}\n"
        f"This is a bug in qadiag, not a problem in your runs: please report it at {REPORT_BUGS_AT}, "
        "with the details below and `qadiag --version`.\n"
        + "\n".join(escape(line) for line in details.splitlines())
        + "\n",
    )
