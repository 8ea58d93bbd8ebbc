"""Timing commands side by side: each in a fresh process, the variants alternated, the machine's load noted.

A command runs under a small Python parent that reports the command's wall time, its CPU time (user +
system, its worker processes included) and the peak RSS of its largest process (``getrusage(RUSAGE_CHILDREN)``),
so no tool beyond Python is needed. On a machine that other work shares, the wall time of a parallel run
depends on that work; the CPU time says what the run itself cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PARENT = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "with open(sys.argv[1], 'wb') as out:\n"
    "    code = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
    "seconds = time.perf_counter() - start\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'code': code, 'seconds': seconds, 'cpu': usage.ru_utime + usage.ru_stime,\n"
    "                  'rss_mb': usage.ru_maxrss / 1024}))\n"
)
PYTHON = sys.executable
AUDIT = [PYTHON, "-m", "qadiag", "audit-logs", "--format", "json", "-q"]


@dataclass
class Timing:
    seconds: float
    rss_mb: float
    code: int
    cpu: float = 0.0


def load() -> str:
    """The 1, 5 and 15 minute load averages, for the record next to every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def run(command: Sequence[str], output: str = os.devnull, env: Mapping[str, str] | None = None) -> Timing:
    """``command`` in a fresh process; its stdout goes to ``output``. Exit codes 0 and 1 (findings) are fine."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run(
        [PYTHON, "-c", _PARENT, output, *command], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: the measuring parent failed: {result.stderr[-2000:]}")
    numbers = json.loads(result.stdout.splitlines()[-1])
    if numbers["code"] not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {numbers['code']}")
    return Timing(numbers["seconds"], numbers["rss_mb"], numbers["code"], numbers["cpu"])


def alternate(variants: Mapping[str, Sequence[str]], repeats: int) -> dict[str, list[Timing]]:
    """Every variant ``repeats`` times, in turn (A B C A B C ...), so that machine noise hits all of them."""
    found: dict[str, list[Timing]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, command in variants.items():
            found[name].append(run(command))
    return found


def median(timings: Sequence[Timing]) -> Timing:
    middle = sorted(timings, key=lambda timing: timing.seconds)[(len(timings) - 1) // 2]
    seconds, cpu = statistics.median(t.seconds for t in timings), statistics.median(t.cpu for t in timings)
    return Timing(seconds, middle.rss_mb, middle.code, cpu)


def parser(description: str | None, repeats: int) -> argparse.ArgumentParser:
    """The command line of a benchmark: its docstring as help, and how many times each variant runs."""
    found = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    found.add_argument(
        "--repeats", type=int, default=repeats, help=f"runs of each variant, alternated (default {repeats})"
    )
    return found


def run_in_scratch_directory(
    arguments: argparse.ArgumentParser, prefix: str, work: Callable[[argparse.Namespace, Path], None]
) -> None:
    """Parse the command line, then ``work`` on a temporary directory, removed afterwards."""
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        work(args, Path(directory))
