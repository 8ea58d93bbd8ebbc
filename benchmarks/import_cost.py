"""Import cost: `import qadiag` and `qadiag --help` load neither torch nor transformers.

    python benchmarks/import_cost.py [--repeats 7]

Each line is a fresh interpreter, run in turn with the others so that noise hits all of them; the
table gives the median wall milliseconds, the cost above a bare interpreter, and whether torch or
transformers ended up imported. ``import transformers`` is the reference for what lazy imports save.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = "import sys; print(sorted({'torch', 'transformers'} & set(sys.modules)))"

CASES = {
    "python (bare interpreter)": "pass",
    "import qadiag": "import qadiag",
    "import qadiag.api": "import qadiag.api",
    "qadiag --help": (
        "import contextlib, io; from qadiag.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])"
    ),
    "qadiag audit-logs --help": (
        "import contextlib, io; from qadiag.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['audit-logs', '--help'])\n"
        "    except SystemExit: pass"
    ),
    "import transformers (reference)": "import transformers",
}


def run(code: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{HEAVY}"], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: dict[str, list[float]] = {name: [] for name in CASES}
    loaded: dict[str, str] = {}
    for _ in range(args.repeats):
        for name, code in CASES.items():
            seconds, loaded[name] = run(code, env)
            times[name].append(seconds)
    bare = statistics.median(times["python (bare interpreter)"])
    print(f"{'what':<34}{'median ms':>10}{'above bare':>12}  heavy modules loaded")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<34}{median * 1000:>10.0f}{(median - bare) * 1000:>+12.0f}  {loaded[name]}")


if __name__ == "__main__":
    main()
