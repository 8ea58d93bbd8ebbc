"""Run by tests/test_ddp.py under ``torchrun --nproc_per_node 2``: loss-swap on a 2-process DDP run.

A pair classifier trains with ``compute_loss_func`` = cross-entropy summed and divided by
``num_items_in_batch`` (which, with ``average_tokens_across_devices``, counts the items of *both* ranks,
so compute_loss multiplies the loss by the world size). Declaring that same loss must pass; declaring
plain mean cross-entropy while label-smoothed cross-entropy is optimized must be caught. Rank 0 writes
``{case: {"codes": [...], "scale": ...}}`` to the JSON file named on the command line. In the
``undistributed`` mode the processes are launched but TrainingArguments lacks ``use_cpu`` on a
CPU-only machine, so each trains alone: QD309.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

import qadiag
from qadiag import compat, distributed, tiny
from qadiag.tasks import get_task
from qadiag.tasks.base import FeatureSizes

PAIR = get_task("pair-classification")


def summed_cross_entropy(outputs, labels, num_items_in_batch=None):
    total = torch.nn.functional.cross_entropy(outputs["logits"], labels, reduction="sum")
    return total / (num_items_in_batch if num_items_in_batch is not None else labels.numel())


def smoothed_cross_entropy(outputs, labels, num_items_in_batch=None):
    total = torch.nn.functional.cross_entropy(outputs["logits"], labels, reduction="sum", label_smoothing=0.3)
    return total / (num_items_in_batch if num_items_in_batch is not None else labels.numel())


def mean_cross_entropy(outputs, labels, num_items_in_batch=None):
    return torch.nn.functional.cross_entropy(outputs["logits"], labels)


def probe_run(output_dir: str, optimized, declared, use_cpu: bool = True) -> dict:
    tokenizer = tiny.load_tokenizer()
    examples = PAIR.load_examples(PAIR.bundled_files()["train"]).select(range(64))
    args = TrainingArguments(
        output_dir=output_dir,
        use_cpu=use_cpu,  # without it, on a CPU-only machine, transformers leaves the processes undistributed
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        average_tokens_across_devices=True,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=PAIR.tiny_model(seed=0),
        args=args,
        train_dataset=PAIR.features(examples, PAIR.prepare_train(tokenizer, FeatureSizes(max_seq_length=64)), "pairs"),
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_loss_func=optimized,
        processing_class=tokenizer,
    )
    run = qadiag.attach(trainer, ["loss-swap"], loss=declared, console=False)
    trainer.train()
    report = run.finish()
    return {
        "codes": sorted({item.code for item in report.findings}),
        "ranks": [item.evidence.get("ranks") for item in report.findings],
        "world_size": distributed.world_size(),
        "scale": compat.loss_scale_across_devices(trainer, 1),
    }


def main(result_path: str, output_dir: str, mode: str = "distributed") -> None:
    if mode == "undistributed":
        results = {"undistributed": probe_run(output_dir, summed_cross_entropy, summed_cross_entropy, use_cpu=False)}
    else:
        results = {
            "declared_loss_optimized": probe_run(output_dir, summed_cross_entropy, summed_cross_entropy),
            "other_loss_optimized": probe_run(output_dir, smoothed_cross_entropy, mean_cross_entropy),
        }
    if os.environ.get("RANK", "0") == "0":
        with open(result_path, "w", encoding="utf-8") as handle:
            json.dump(results, handle)
    distributed.shut_down()


if __name__ == "__main__":
    main(*sys.argv[1:])
