"""``qadiag audit-logs`` on a large TensorBoard event file, against ``tbparse.SummaryReader`` (scalars).

    python benchmarks/tfevents_scale.py                    # 200 MB file
    python benchmarks/tfevents_scale.py --size-mb 5 --repeats 1

The file is what the Trainer's TensorBoard callback writes: one scalar ``Event`` per key (``train/loss``,
``train/grad_norm``, ``train/learning_rate``, ``train/epoch`` every step; an evaluation every 50 steps),
serialized by tensorboard's protobufs and framed as TFRecords. Variants, each in a fresh process, alternated:

- ``audit-logs`` on all cores (the default) and with ``-j 1``;
- ``audit-logs -j 1`` with CRC-32C in pure Python (google-crc32c's own fallback, what the audit computed
  with before it used the C extension), on a prefix of the file (``--before-mb``), compared per MB;
- ``tbparse.SummaryReader(dir, pivot=False).scalars`` (``pip install tbparse``; skipped, and said so, when it
  is not installed: it is not a dependency of qadiag).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import AUDIT, PYTHON, alternate, load, median, parser, run_in_scratch_directory

EVAL_EVERY = 50
TRAIN_TAGS = ("train/loss", "train/grad_norm", "train/learning_rate", "train/epoch")
EVAL_TAGS = ("eval/loss", "eval/accuracy", "eval/runtime", "eval/samples_per_second", "train/epoch")
PURE_PYTHON_CRC = (
    "import sys, warnings; warnings.simplefilter('ignore'); sys.modules['google_crc32c.cext'] = None;"
    "from qadiag.cli import main; sys.exit(main(sys.argv[1:]))"
)
TBPARSE = "import sys; from tbparse import SummaryReader; SummaryReader(sys.argv[1], pivot=False).scalars"


def write_events(path: Path, size: int) -> int:
    """An event file of about ``size`` bytes; returns the number of scalar events."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tests.audit.framing import tfrecord

    path.parent.mkdir(parents=True)
    count = written = step = 0
    with open(path, "wb") as handle:
        while written < size:
            step += 1
            records = []
            for tags in (TRAIN_TAGS, EVAL_TAGS) if step % EVAL_EVERY == 0 else (TRAIN_TAGS,):
                for index, tag in enumerate(tags):
                    value = summary_pb2.Summary.Value(tag=tag, simple_value=1.0 / (step + index))
                    event = event_pb2.Event(
                        wall_time=1.7e9 + step * 0.05, step=step, summary=summary_pb2.Summary(value=[value])
                    )
                    records.append(tfrecord(event.SerializeToString()))
            count += len(records)
            written += handle.write(b"".join(records))
    return count


def prefix(path: Path, megabytes: int, target: Path) -> Path:
    """The records of ``path`` that fit in its first ``megabytes`` (a whole file, as if the run were going on)."""
    import struct

    limit, data = megabytes << 20, path.read_bytes()
    end = 0
    while end < len(data):
        length = struct.unpack_from("<Q", data, end)[0]
        if end + 16 + length > limit:
            break
        end += 16 + length
    target.parent.mkdir(parents=True)
    target.write_bytes(data[:end])
    return target


def main() -> None:
    arguments = parser(__doc__, repeats=3)
    arguments.add_argument("--size-mb", type=int, default=200, help="size of the event file (default 200)")
    arguments.add_argument("--before-mb", type=int, default=20, help="prefix audited with pure-Python CRC (default 20)")
    run_in_scratch_directory(arguments, "qadiag-tfevents-", run)


def run(args: argparse.Namespace, work: Path) -> None:
    events = work / "runs" / "run" / "events.out.tfevents.1700000000.bench"
    start = time.perf_counter()
    count = write_events(events, args.size_mb << 20)
    before = prefix(events, min(args.before_mb, args.size_mb), work / "before" / "run" / events.name)
    print(f"generated {count:,} scalar events in {time.perf_counter() - start:.0f} s under {work}")
    sizes = {"whole": events.stat().st_size / 2**20, "before": before.stat().st_size / 2**20}
    variants = {
        "audit-logs (all cores)": ([*AUDIT, str(events.parent.parent)], "whole"),
        "audit-logs -j 1": ([*AUDIT, "-j", "1", str(events.parent.parent)], "whole"),
        "audit-logs -j 1, pure-Python CRC": (
            [PYTHON, "-c", PURE_PYTHON_CRC, "audit-logs", "--format", "json", "-q", "-j", "1", str(before.parent)],
            "before",
        ),
    }
    if importlib.util.find_spec("tbparse") is None:
        print("tbparse is not installed (`pip install tbparse`): its comparison is skipped")
    else:
        variants["tbparse SummaryReader scalars"] = ([PYTHON, "-c", TBPARSE, str(events.parent)], "whole")
    print(f"before: {load()}")
    timings = alternate({name: command for name, (command, _) in variants.items()}, args.repeats)
    print(f"after:  {load()}")
    print(f"{'what':<36}{'MB':>8}{'median s':>10}{'MB/s':>8}{'CPU s':>8}{'peak RSS MB':>13}")
    rates = {}
    for name, (_, which) in variants.items():
        timing = median(timings[name])
        rates[name] = sizes[which] / timing.seconds
        print(
            f"{name:<36}{sizes[which]:>8.1f}{timing.seconds:>10.2f}{rates[name]:>8.1f}{timing.cpu:>8.2f}"
            f"{timing.rss_mb:>13.0f}"
        )
    ours = rates["audit-logs (all cores)"]
    print(
        f"audit-logs (all cores): {ours:.1f} MB/s (target >= 50); "
        f"{ours / rates['audit-logs -j 1, pure-Python CRC']:.1f}x the pure-Python CRC audit (per MB)"
    )
    if "tbparse SummaryReader scalars" in rates:
        print(f"audit-logs (all cores) / tbparse: {ours / rates['tbparse SummaryReader scalars']:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
