"""``qadiag report RUN_DIR [--output-dir DIR]``: write the report and print where it is."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from qadiag.report.write import HTML_FILE, MARKDOWN_FILE, STEP_SUMMARY, write_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qadiag report",
        description=f"Write {HTML_FILE} (loss and metric curves, findings with fixes, sample predictions, run "
        f"facts; self-contained, opens from disk) and {MARKDOWN_FILE} for a training run directory. When "
        f"${STEP_SUMMARY} is set, the Markdown is appended to it.",
        epilog="exit status: 0 written, 2 the run dir cannot be used (one line says why and what to do)",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the training output directory (e.g. qadiag train "
                        "--output_dir), holding trainer_state.json, samples.jsonl, qadiag_report.json, ...")
    parser.add_argument("--output-dir", metavar="DIR", help="where to write the report (default: RUN_DIR)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    paths = write_report(args.run_dir, args.output_dir)
    print(f"report: {paths.html}")
    print(f"        {paths.markdown}")
    if paths.step_summary is not None:
        print(f"job summary: appended to {paths.step_summary}")
    return 0
