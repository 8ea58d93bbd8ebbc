"""Command-line entry point: argument dispatch only; the work lives in train.py, audit/ and report/."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: qadiag <command> [options]

commands:
  train        train a QA or sentence-pair model the right way, with all probes attached
  audit-logs   audit finished runs (trainer_state.json, W&B, TensorBoard, MLflow)
  report       write report.html and report.md for a run dir (curves, findings, samples, run facts)
  rule         explain a finding code: what it means, why it matters, the fix, an example

run `qadiag <command> --help` for the options of a command"""


def main(argv: Sequence[str] | None = None) -> int:
    from qadiag import __version__
    from qadiag.errors import QadiagError

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"qadiag {__version__}")
        return 0
    command, rest = args[0], args[1:]
    try:
        if command == "train":
            from qadiag.train import main as run
        elif command == "audit-logs":
            from qadiag.audit.command import main as run
        elif command == "report":
            from qadiag.report.command import main as run
        elif command == "rule":
            from qadiag.rules_doc import main as run
        else:
            print(f"qadiag: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
            return 2
        return run(rest)
    except QadiagError as error:
        from qadiag.formats import escape  # the message quotes paths and records: never print them raw

        print(f"qadiag {command}: error: {escape(str(error))}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # `qadiag ... | head`: the reader went away; that is not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"qadiag {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
