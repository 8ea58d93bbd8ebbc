"""`pytest --qadiag` on the example project vs a bare tiny training of the same steps, side by side.

    python benchmarks/plugin_session.py [--repeats 3]

Each measurement is a fresh process (imports included, as in CI), alternating so that machine noise
hits all of them:
- ``bare training``: the example project's trainer factory on qadiag's tiny model and data, trained
  for the same steps and evaluated, no probes (what a user's own smoke test would cost); both run
  with one torch thread (``OMP_NUM_THREADS=1``), as the plugin's tiny runs do;
- ``pytest --qadiag``: the whole plugin session (shared probed run, alignment, gradient accumulation
  and overfit checks, the project's own tests);
- ``pytest --collect-only`` with the plugin installed and with ``-p no:qadiag``: what merely having
  qadiag installed costs a pytest run without the flag (the project's own tests need the flag's
  fixtures, so only collection can run without it).
Reports median wall seconds and the ratios.

Python's bytecode cache is on, as in any default setup: with ``PYTHONDONTWRITEBYTECODE=1`` (set on some
CI images and sandboxes) pytest cannot cache the modules it rewrites for assertions, which include every
module of a package that ships a pytest plugin (hypothesis and qadiag), and re-parses them on every run:
``--keep-env-bytecode-setting`` measures that condition.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "qa_project"

BARE_TRAINING = """
from pathlib import Path
from qadiag.plugin.config import load_config
from qadiag.plugin.setup import TinySetup

root = Path.cwd()
setup = TinySetup(load_config(root), root, Path({workdir!r}))
trainer = setup.build_trainer()
trainer.train()
trainer.evaluate()
"""


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--collect-repeats", type=int, default=15, help="runs of each collection-only command")
    parser.add_argument(
        "--keep-env-bytecode-setting",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE from the environment (default: bytecode cache on)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qadiag-plugin-bench-"))
    project = work / "qa_project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "PYTHONPATH": os.pathsep.join([str(project / "src"), str(ROOT)]),
        # the same torch threads for both: the plugin runs its tiny trainings on one thread, and a bare run
        # with two on a busy 2-core machine measures the thread fight, not qadiag's overhead
        "OMP_NUM_THREADS": "1",
    }
    if not args.keep_env_bytecode_setting:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    commands = {
        "bare training": [sys.executable, "-c", BARE_TRAINING.format(workdir=str(work / "bare"))],
        "pytest --qadiag": [*pytest, "--qadiag"],
        "collect (plugin installed)": [*pytest, "--collect-only"],
        "collect -p no:qadiag": [*pytest, "--collect-only", "-p", "no:qadiag"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            times[name].append(timed(command, project, env))
    for _ in range(args.collect_repeats - args.repeats):  # a ~10 ms difference needs more samples
        for name in ("collect (plugin installed)", "collect -p no:qadiag"):
            times[name].append(timed(commands[name], project, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    cache = "off (PYTHONDONTWRITEBYTECODE)" if env.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"bytecode and pytest rewrite cache: {cache}")
    print(
        f"example project: {EXAMPLE.relative_to(ROOT)}, {args.repeats} runs each "
        f"({max(args.repeats, args.collect_repeats)} of collection only), median wall seconds"
    )
    print(f"{'what':<28}{'seconds':>9}")
    for name, seconds in medians.items():
        print(f"{name:<28}{seconds:>9.2f}")
    print(f"pytest --qadiag / bare training: {medians['pytest --qadiag'] / medians['bare training']:.2f}x")
    overhead = medians["collect (plugin installed)"] - medians["collect -p no:qadiag"]
    print(f"collection overhead of the installed plugin without --qadiag: {overhead * 1000:+.0f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
