"""Probe overhead: the same training with and without qadiag's probes, side by side in one process.

    python benchmarks/probe_overhead.py                      # tiny QA model, bundled data
    python benchmarks/probe_overhead.py --model base --steps 24 --seq 384   # BERT-base config, random init

Runs alternate (plain, probed, plain, probed, ...) so that machine noise hits both; reports the
median seconds per optimizer step and the ratio. Also checks the final weights are bit-identical.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(model_kind: str, seq: int, steps: int, batch: int, output_dir: str):
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, DataCollatorWithPadding, TrainingArguments, set_seed

    from qadiag import tiny
    from qadiag.tasks import get_task
    from qadiag.tasks.base import FeatureSizes
    from qadiag.tasks.qa.trainer import QuestionAnsweringTrainer

    qa = get_task("qa")
    tokenizer = tiny.load_tokenizer()
    examples = qa.load_examples(qa.bundled_files()["train"])
    sizes = FeatureSizes(max_seq_length=seq, doc_stride=seq // 4)
    features = qa.features(examples, qa.prepare_train(tokenizer, sizes), "train features")
    if model_kind == "tiny":
        model = qa.tiny_model(0)
    else:
        set_seed(0)
        config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=512)  # BERT-base sizes
        model = BertForQuestionAnswering(config)
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=1e-4,
        logging_steps=max(1, steps // 4),
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    return QuestionAnsweringTrainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=DataCollatorWithPadding(tokenizer, padding="max_length", max_length=seq),
        processing_class=tokenizer,
    )


def timed_run(model_kind: str, seq: int, steps: int, batch: int, probed: bool, capture_every: int):
    import qadiag

    with tempfile.TemporaryDirectory() as output_dir:
        trainer = build(model_kind, seq, steps, batch, output_dir)
        run = qadiag.attach(trainer, capture_every=capture_every, console=False) if probed else None
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        if run is not None:
            run.finish()
        return seconds / steps, {k: v.clone() for k, v in trainer.model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny", "base"], default="tiny")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--capture-every", type=int, default=20)
    args = parser.parse_args()

    import torch

    plain_times, probed_times = [], []
    identical = True
    for _ in range(args.repeats):
        plain, plain_weights = timed_run(args.model, args.seq, args.steps, args.batch, False, args.capture_every)
        probed, probed_weights = timed_run(args.model, args.seq, args.steps, args.batch, True, args.capture_every)
        plain_times.append(plain)
        probed_times.append(probed)
        identical &= all(torch.equal(plain_weights[k], probed_weights[k]) for k in plain_weights)
    plain_median, probed_median = statistics.median(plain_times), statistics.median(probed_times)
    print(
        f"model: {args.model}  seq: {args.seq}  batch: {args.batch}  steps: {args.steps}  "
        f"repeats: {args.repeats}  torch threads: {torch.get_num_threads()}"
    )
    print(f"{'run':<16}{'s/step (median)':>18}")
    print(f"{'without probes':<16}{plain_median:>18.4f}")
    print(f"{'with probes':<16}{probed_median:>18.4f}")
    print(
        f"overhead: {100 * (probed_median / plain_median - 1):+.1f}%  (ratio {probed_median / plain_median:.3f}); "
        f"final weights bit-identical: {'yes' if identical else 'NO'}"
    )


if __name__ == "__main__":
    main()
