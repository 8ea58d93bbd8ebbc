"""Test-wide settings: offline, W&B offline into a temp dir, the corpus importable."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fixtures" / "corpus"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_DIR", tempfile.mkdtemp(prefix="qadiag-wandb-"))
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="qadiag-datasets-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tiny models gain nothing from a second intra-op thread, and on a busy 2-core machine the two
# threads fight every process for the cores (a 5-10x slowdown measured with parallel sessions).
os.environ.setdefault("OMP_NUM_THREADS", "1")

if str(CORPUS) not in sys.path:
    sys.path.insert(0, str(CORPUS))
