"""Real run directories for the audit tests, written by the real loggers (run in a subprocess).

    python -m tests.audit.make_runs ROOT

For each variant below: a plain HF ``Trainer`` on a tiny BERT with random token ids, reporting to
W&B (offline) and TensorBoard (and MLflow's file store when mlflow is installed), laid out as a user
would have it: ``ROOT/<variant>/out`` (trainer_state.json, checkpoint-*/, runs/ with TensorBoard
events), ``ROOT/<variant>/wandb`` and ``ROOT/<variant>/mlruns``. The buggy variants override
``evaluate()`` the way DESIGN.md bug class 1 describes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

VARIANTS = ("clean", "unprefixed", "wrong_prefix", "partial_prefix")
STEPS, EVAL_EVERY, LOG_EVERY, SAVE_EVERY = 12, 4, 2, 6


def extra_metrics(variant: str) -> dict[str, float]:
    """What the variant's evaluate() logs besides the Trainer's own eval row."""
    return {
        "clean": {},
        "unprefixed": {"exact_match": 50.0, "f1": 60.0},
        "wrong_prefix": {"val_f1": 60.0},
        "partial_prefix": {"eval_exact_match": 50.0, "f1": 60.0},
    }[variant]


def make_trainer_class(variant: str) -> Any:
    from transformers import Trainer

    class VariantTrainer(Trainer):
        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
            metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
            if extra_metrics(variant):
                self.log(extra_metrics(variant))
            return metrics

    return VariantTrainer


def random_dataset(size: int, seed: int) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (size, 12), generator=generator)
    labels = torch.randint(0, 2, (size,), generator=generator)
    return [
        {"input_ids": ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": labels[i]}
        for i in range(size)
    ]


def reporters() -> list[str]:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return ["wandb", "tensorboard"]
    return ["wandb", "tensorboard", "mlflow"]


def train(root: Path, variant: str) -> None:
    import wandb
    from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

    home = root / variant
    home.mkdir(parents=True)
    # wandb reads WANDB_DIR once per process: start the run here (the callback then logs to it)
    wandb.init(dir=str(home), project="qadiag-audit-tests", name=variant)
    os.environ["MLFLOW_TRACKING_URI"] = f"file:{home / 'mlruns'}"
    config = BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    args = TrainingArguments(
        output_dir=str(home / "out"),
        report_to=reporters(),
        run_name=variant,
        eval_strategy="steps",
        eval_steps=EVAL_EVERY,
        logging_steps=LOG_EVERY,
        save_steps=SAVE_EVERY,
        max_steps=STEPS,
        per_device_train_batch_size=8,
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = make_trainer_class(variant)(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=random_dataset(64, 0),
        eval_dataset=random_dataset(16, 1),
    )
    trainer.train()
    trainer.save_state()
    wandb.finish()


def main(root: str) -> None:
    import torch

    torch.set_num_threads(1)  # a tiny model: threads only contend with the wandb-core process
    os.environ.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        MLFLOW_ALLOW_FILE_STORE="true",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    for variant in VARIANTS:
        train(Path(root), variant)


if __name__ == "__main__":
    main(sys.argv[1])
