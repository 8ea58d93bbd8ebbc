"""``qadiag audit-logs`` on a directory of many runs, on one core and on all of them.

    python benchmarks/parallel_runs.py                     # 200 runs
    python benchmarks/parallel_runs.py --runs 20 --repeats 1

Each run is what a Trainer run with W&B and TensorBoard leaves: ``run-N/out/trainer_state.json``, a ``.wandb``
under ``run-N/wandb/`` and an event file under ``run-N/out/runs/``, all logging the same rows (and, as
custom ``evaluate()`` overrides do, un-prefixed ``exact_match``/``f1`` every evaluation). The audit runs with
``-j 1`` and with ``-j 2``, alternated, each in a fresh process; the two reports must be the same.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import AUDIT, load, median, parser, run_in_scratch_directory
from benchmarks.measure import run as run_command

EVAL_EVERY = 50


def history(rows: int) -> list[dict]:
    found = []
    for step in range(1, rows + 1):
        found.append({"loss": 1 / step, "grad_norm": 0.3, "learning_rate": 1e-4, "epoch": step / 1e3, "step": step})
        if step % EVAL_EVERY == 0:
            found.append({"eval_loss": 1 / step, "eval_runtime": 0.5, "epoch": step / 1e3, "step": step})
            found.append({"exact_match": 50.0, "f1": 60.0, "epoch": step / 1e3, "step": step})
    return found


def write_run(home: Path, rows: list[dict]) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from wandb.proto import wandb_internal_pb2 as pb

    from qadiag.namespaces import logger_key
    from tests.audit.framing import WandbLogWriter, tfrecord

    out = home / "out"
    (out / "runs" / "Jan01").mkdir(parents=True)
    state = {"global_step": rows[-1]["step"], "log_history": rows}
    (out / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    writer, events = WandbLogWriter(), []
    config = pb.Record(num=0)  # the output dir the run logged for: W&B's rows join the run's other logs
    config.config.update.add(key="output_dir", value_json=json.dumps(str(out)))
    writer.add(config.SerializeToString())
    for number, row in enumerate(rows, start=1):
        record = pb.Record(num=number)
        for key, value in row.items():
            if key != "step":
                record.history.item.add(nested_key=[logger_key(key)], value_json=repr(value))
                scalar = summary_pb2.Summary.Value(tag=logger_key(key), simple_value=value)
                summary = summary_pb2.Summary(value=[scalar])
                event = event_pb2.Event(wall_time=1.7e9 + number, step=row["step"], summary=summary)
                events.append(tfrecord(event.SerializeToString()))
        record.history.item.add(nested_key=["train/global_step"], value_json=str(row["step"]))
        record.history.step.num = number
        writer.add(record.SerializeToString())
    wandb_dir = home / "wandb" / "offline-run-20260101_000000-bench"
    wandb_dir.mkdir(parents=True)
    (wandb_dir / "run-bench.wandb").write_bytes(bytes(writer.data))
    (out / "runs" / "Jan01" / "events.out.tfevents.1700000000.bench").write_bytes(b"".join(events))


def main() -> None:
    arguments = parser(__doc__, repeats=3)
    arguments.add_argument("--runs", type=int, default=200, help="run directories (default 200)")
    arguments.add_argument("--rows", type=int, default=2000, help="training steps logged per run (default 2,000)")
    run_in_scratch_directory(arguments, "qadiag-runs-", run)


def run(args: argparse.Namespace, root: Path) -> None:
    start = time.perf_counter()
    rows = history(args.rows)
    for number in range(args.runs):
        write_run(root / f"run-{number:03d}", rows)
    size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / 2**20
    print(f"generated {args.runs} runs, {size:,.0f} MB, in {time.perf_counter() - start:.0f} s under {root}")
    outputs = {jobs: root / f"report-j{jobs}.json" for jobs in (1, 2)}
    print(f"before: {load()}")
    timings: dict[int, list] = {1: [], 2: []}
    for _ in range(args.repeats):
        for jobs in (1, 2):
            timings[jobs].append(run_command([*AUDIT, "-j", str(jobs), str(root)], output=str(outputs[jobs])))
    print(f"after:  {load()}")
    one, two = median(timings[1]), median(timings[2])
    same = outputs[1].read_bytes() == outputs[2].read_bytes()
    findings = len(json.loads(outputs[1].read_text()))
    print(f"{'what':<22}{'median s':>10}{'best s':>8}{'MB/s':>8}{'CPU s':>8}{'peak RSS MB':>13}")
    for jobs, timing in ((1, one), (2, two)):
        best = min(t.seconds for t in timings[jobs])
        print(
            f"{f'audit-logs -j {jobs}':<22}{timing.seconds:>10.2f}{best:>8.2f}{size / timing.seconds:>8.1f}"
            f"{timing.cpu:>8.2f}{timing.rss_mb:>13.0f}"
        )
    best_ratio = min(t.seconds for t in timings[1]) / min(t.seconds for t in timings[2])
    print(
        f"-j 2 is {one.seconds / two.seconds:.2f}x faster than -j 1 by the medians, {best_ratio:.2f}x by the best "
        f"runs (target >= 1.7x); it costs {two.cpu / one.cpu:.2f}x the CPU time; the reports are "
        f"{'the same' if same else 'DIFFERENT'} ({findings} findings)"
    )
    if not same:
        sys.exit("the -j 1 and -j 2 reports differ")


if __name__ == "__main__":
    main()
