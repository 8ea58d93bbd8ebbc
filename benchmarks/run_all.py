"""Every benchmark, one after the other, with the settings benchmarks/README.md reports.

    python benchmarks/run_all.py              # about 25 minutes on 2 CPU cores; run on an idle machine
    python benchmarks/run_all.py --quick      # smaller sizes, about 35 s: checks they all run (CI runs it)

Prints the machine and versions, then each benchmark's own side-by-side table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = {
    "probe_overhead.py": ["--model", "base", "--seq", "384", "--steps", "24", "--batch", "2", "--repeats", "3"],
    "plugin_session.py": ["--repeats", "3"],
    "audit_scale.py": ["--size-mb", "500", "--rows", "1000000", "--repeats", "2"],
    "tfevents_scale.py": ["--size-mb", "200", "--before-mb", "20", "--repeats", "3"],
    "parallel_runs.py": ["--runs", "200", "--repeats", "3"],
    "postprocess.py": ["--examples", "6000", "--repeats", "3"],
    "import_cost.py": ["--repeats", "7"],
}
QUICK = {
    "probe_overhead.py": ["--model", "tiny", "--steps", "20", "--repeats", "1"],
    "plugin_session.py": ["--repeats", "1", "--collect-repeats", "2"],
    "audit_scale.py": ["--size-mb", "5", "--rows", "20000", "--leet-mb", "5"],
    "tfevents_scale.py": ["--size-mb", "5", "--before-mb", "1", "--repeats", "1"],
    "parallel_runs.py": ["--runs", "10", "--rows", "200", "--repeats", "1"],
    "postprocess.py": ["--examples", "1000", "--repeats", "1"],
    "import_cost.py": ["--repeats", "2"],
}


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if "model name" in line]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    packages = ", ".join(f"{name} {version(name)}" for name in ("torch", "transformers", "wandb", "tensorboard"))
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; {packages}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a check that every benchmark runs")
    args = parser.parse_args()
    print(machine(), flush=True)
    failed = []
    for script, options in (QUICK if args.quick else FULL).items():
        print(f"\n== {script} {' '.join(options)}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(HERE / script), *options]).returncode
        print(f"   ({time.perf_counter() - start:.0f} s{'' if code == 0 else f', exit code {code}'})", flush=True)
        if code:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
