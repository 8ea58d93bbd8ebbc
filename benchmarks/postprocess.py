"""QA post-processing: vectorised (qadiag) vs the straightforward per-feature Python loop.

    python benchmarks/postprocess.py [--examples 6000] [--repeats 3]

Both run on the same synthetic features (>= 10k by default), held in ``datasets.Dataset`` objects as
the Trainer hands them over, in one process; answers are checked to be identical, and the median
times and their ratio are printed side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qadiag.tasks.qa.postprocess import postprocess_qa_predictions
from tests.reference_postprocess import loop_postprocess, synthetic_qa


def median_seconds(function, repeats: int) -> tuple[float, dict]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import datasets

    raw_examples, raw_features, logits = synthetic_qa(
        args.examples, seed=0, window=96, stride=32, max_words=200
    )
    examples, features = datasets.Dataset.from_dict(raw_examples), datasets.Dataset.from_dict(raw_features)
    n_features = len(features)
    vectorised_s, vectorised = median_seconds(
        lambda: postprocess_qa_predictions(examples, features, logits), args.repeats
    )
    loop_s, looped = median_seconds(lambda: loop_postprocess(examples, features, logits), args.repeats)
    if vectorised != looped:
        differing = sum(vectorised[k] != looped[k] for k in looped)
        raise SystemExit(f"answers differ on {differing} of {len(looped)} examples")
    print(
        f"features: {n_features}  examples: {args.examples}  width: {logits[0].shape[1]} tokens  "
        f"(n_best_size 20, max_answer_length 30, median of {args.repeats})"
    )
    print(f"{'implementation':<16}{'seconds':>10}{'features/s':>14}")
    for name, seconds in (("per-feature loop", loop_s), ("vectorised", vectorised_s)):
        print(f"{name:<16}{seconds:>10.3f}{n_features / seconds:>14,.0f}")
    print(f"speed-up: {loop_s / vectorised_s:.1f}x (target >= 10x); answers identical: yes")


if __name__ == "__main__":
    main()
