"""``qadiag audit-logs`` at scale: a big synthetic ``.wandb`` and a ``trainer_state.json`` of many rows.

    python benchmarks/audit_scale.py                       # quick: 20 MB .wandb, 50k rows
    python benchmarks/audit_scale.py --size-mb 500 --rows 1000000

Both files look like what a Trainer run writes (history records of ``train/loss``, ``grad_norm``,
``learning_rate``, ``epoch``, ``train/global_step``, each after its ``summary`` record, an evaluation
every 50 steps; ``trainer_state.json`` as ``TrainerState.save_to_json`` writes it). Each is audited in
a fresh process (``python -m qadiag audit-logs DIR --format json``), on all cores (the default: a large
``.wandb`` is read in parts, in parallel) and with ``-j 1``; ``wandb leet inspect --json`` is timed on the same
``.wandb`` (or, with ``--leet-mb``, on a prefix of it cut at a block boundary: the ratio is then per MB),
output to /dev/null. The variants alternate (``--repeats``); wall time and peak RSS come from
:mod:`benchmarks.measure`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import AUDIT, PYTHON, alternate, load, median, parser  # noqa: E402
from tests.audit.framing import BLOCK, WandbLogWriter  # noqa: E402

EVAL_EVERY = 50
LEET = [PYTHON, "-m", "wandb", "leet", "inspect", "--json"]
TRAIN_KEYS = ("train/loss", "train/grad_norm", "train/learning_rate", "train/epoch", "train/global_step")
EVAL_KEYS = ("eval/loss", "eval/accuracy", "eval/runtime", "eval/samples_per_second", "train/epoch")


def history_record(pb, num: int, step: int, keys: tuple[str, ...]) -> tuple[bytes, bytes]:
    """The summary and history records wandb-core writes for one ``wandb.log`` call."""
    values = {
        "_step": str(num),
        "_runtime": f"{step * 0.0371:.9g}",
        "_timestamp": f"{1.7e9 + step * 0.0371:.17g}",
        **{key: repr(1.0 / (step + index + 1)) for index, key in enumerate(keys)},
    }
    values["train/global_step"] = str(step)
    history = pb.Record(num=2 * num + 1)
    summary = pb.Record(num=2 * num)
    for key, value in values.items():
        history.history.item.add(nested_key=[key], value_json=value)
        summary.summary.update.add(nested_key=[key], value_json=value)
    history.history.step.num = num
    return summary.SerializeToString(), history.SerializeToString()


def write_wandb(path: Path, size: int) -> int:
    """A ``.wandb`` of about ``size`` bytes; returns the number of history rows."""
    from wandb.proto import wandb_internal_pb2 as pb

    writer = WandbLogWriter()
    path.parent.mkdir(parents=True)
    rows = written = 0
    with open(path, "wb") as handle:
        while written < size:
            step = rows + 1
            keys = EVAL_KEYS if step % EVAL_EVERY == 0 else TRAIN_KEYS
            for payload in history_record(pb, rows, step, keys):
                writer.add(payload)
            rows += 1
            if len(writer.data) > 1 << 22:
                written += handle.write(writer.drain())
        handle.write(writer.drain())
    return rows


def write_trainer_state(path: Path, rows: int) -> None:
    history = []
    for step in range(1, rows + 1):
        if step % EVAL_EVERY == 0:
            row = {"eval_loss": 1 / step, "eval_accuracy": 0.5, "eval_runtime": 0.1}
        else:
            row = {"loss": 1 / step, "grad_norm": 0.3, "learning_rate": 1e-4}
        history.append({**row, "epoch": step / 1e4, "step": step})
    state = {"global_step": rows, "log_history": history, "best_metric": None, "logging_steps": 1}
    path.parent.mkdir(parents=True)
    with open(path, "w") as handle:
        for piece in json.JSONEncoder(indent=2, sort_keys=True).iterencode(state):
            handle.write(piece)


def prefix(path: Path, megabytes: int, target: Path) -> Path:
    """The first whole blocks of a ``.wandb`` (a valid file, as if the run were still going)."""
    size = min(path.stat().st_size, (megabytes << 20) // BLOCK * BLOCK)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as source, open(target, "wb") as handle:
        handle.write(source.read(size))
    return target


def main() -> None:
    arguments = parser(__doc__, repeats=1)
    arguments.add_argument("--size-mb", type=int, default=20, help="size of the synthetic .wandb (default 20)")
    arguments.add_argument("--rows", type=int, default=50_000, help="log_history rows (default 50,000)")
    arguments.add_argument("--leet-mb", type=int, default=None, help="time leet on this prefix only (MB)")
    arguments.add_argument("--keep", type=Path, default=None, help="write the files into this new dir and keep them")
    args = arguments.parse_args()
    if args.keep is not None:
        run(args, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="qadiag-audit-scale-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    wandb_file = work / "wandb" / "offline-run-20260101_000000-bench" / "run-bench.wandb"
    state_file = work / "out" / "trainer_state.json"
    start = time.perf_counter()
    history_rows = write_wandb(wandb_file, args.size_mb << 20)
    write_trainer_state(state_file, args.rows)
    print(f"generated in {time.perf_counter() - start:.0f} s under {work}")
    leet_file = wandb_file if args.leet_mb is None else prefix(wandb_file, args.leet_mb, work / "leet" / "run-p.wandb")
    variants = {
        "audit-logs .wandb (all cores)": (wandb_file, history_rows, [*AUDIT, str(wandb_file.parent.parent)]),
        "audit-logs .wandb -j 1": (wandb_file, history_rows, [*AUDIT, "-j", "1", str(wandb_file.parent.parent)]),
        "audit-logs trainer_state": (state_file, args.rows, [*AUDIT, str(state_file.parent)]),
        "wandb leet inspect --json": (leet_file, None, [*LEET, str(leet_file)]),
    }
    print(f"before: {load()}")
    timings = alternate({name: command for name, (_, _, command) in variants.items()}, args.repeats)
    print(f"after:  {load()}")
    print(f"{'what':<32}{'MB':>9}{'rows':>11}{'seconds':>9}{'MB/s':>8}{'rows/s':>11}{'CPU s':>8}{'peak RSS MB':>13}")
    rates = {}
    for name, (path, rows, _) in variants.items():
        timing = median(timings[name])
        megabytes = path.stat().st_size / 2**20
        rates[name] = megabytes / timing.seconds
        per_row = f"{rows / timing.seconds:>11,.0f}" if rows else " " * 11
        print(
            f"{name:<32}{megabytes:>9,.1f}{rows or '':>11}{timing.seconds:>9.2f}{rates[name]:>8.1f}{per_row}"
            f"{timing.cpu:>8.2f}{timing.rss_mb:>13.0f}"
        )
    scope = "same file" if args.leet_mb is None else f"leet on a {args.leet_mb} MB prefix, compared per MB"
    leet = rates["wandb leet inspect --json"]
    print(
        f"audit-logs / leet throughput on .wandb: {rates['audit-logs .wandb (all cores)'] / leet:.1f}x on all cores, "
        f"{rates['audit-logs .wandb -j 1'] / leet:.1f}x with -j 1 ({scope}; target >= 8x)"
    )


if __name__ == "__main__":
    main()
