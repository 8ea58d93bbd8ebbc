"""The issue's full-size hostile inputs (opt-in: ``pytest -m hostile_big tests/hostile``, a few minutes).

Each audit runs in a fresh interpreter that reports its own peak RSS (``getrusage``) and wall time; the
numbers go to the table of ``QADIAG_HOSTILE_TABLE`` (see conftest.py) and are printed with ``-s``.
The default suite has a scaled-down version of each (test_bounded.py).
"""

import json
import os
import struct
import subprocess
import sys

import pytest

from tests.audit.helpers import ROOT
from tests.hostile.builders import event, tensorboard_file
from tests.hostile.conftest import record_measure
from tests.hostile.harness import CANARY, remove_tree

pytestmark = pytest.mark.hostile_big

MEASURE = """
import json, os, resource, sys, time
from qadiag.cli import main
start = time.perf_counter()
with open(sys.argv[1], "w") as sys.stdout:
    code = main(["audit-logs", *sys.argv[2:], "--no-progress"])
sys.stdout = sys.__stdout__
print(json.dumps({"code": code, "seconds": time.perf_counter() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(tmp_path, name, *args):
    output = tmp_path / f"{name}.out"
    command = [sys.executable, "-c", MEASURE, str(output), *map(str, args)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    numbers = json.loads(result.stdout.splitlines()[-1])
    text = output.read_text()
    numbers["lines"] = len(text.splitlines())
    assert "Traceback" not in result.stderr + text and CANARY not in text
    record_measure(name, numbers)
    print(name, numbers)
    return numbers, text


def test_2m_distinct_misnamed_keys_in_115_mb(tmp_path):
    """The issue: 3.7 GB RSS and 4M lines."""
    path = tmp_path / "out" / "trainer_state.json"
    path.parent.mkdir()
    with open(path, "w") as out:
        out.write('{\n  "global_step": 2000000,\n  "log_history": [\n')
        out.writelines(
            f'    {{\n      "step": {step},\n      "val_k{step}": 0.5\n    }}{"," if step < 1_999_999 else ""}\n'
            for step in range(2_000_000)
        )
        out.write("  ]\n}\n")
    assert path.stat().st_size > 110 << 20
    numbers, text = measure(tmp_path, "2M keys, 115 MB trainer_state.json", tmp_path, "--format", "text")
    assert numbers["code"] == 1 and numbers["rss_mb"] < 300 and numbers["lines"] < 100
    assert "(x2000000)" in text and "keys 'val_k0', 'val_k1'" in text


def test_16_mb_of_tensorboard_garbage(tmp_path):
    """The issue: 11 s to resync over a 16 MB garbage region."""
    garbage = b"\x01" + struct.pack("<Q", 1) * (2 << 20)
    tensorboard_file(tmp_path / "runs", [event(1, "train/loss", 0.5), event(2, "train/loss", float("nan"))],
                     garbage=garbage)
    numbers, text = measure(tmp_path, "16 MB TensorBoard garbage", tmp_path / "runs", "--format", "text")
    assert numbers["code"] == 1 and numbers["seconds"] < 3 and "QD205" in text and "QD903" in text


def test_50k_empty_wandb_files(tmp_path):
    """The issue: 150k lines."""
    root = tmp_path / "wandb"
    for index in range(50_000):
        folder = root / f"offline-run-{index:05d}"
        folder.mkdir(parents=True)
        (folder / f"run-{index:05d}.wandb").touch()
    numbers, text = measure(tmp_path, "50k empty .wandb files", root, "--format", "text")
    assert numbers["code"] == 0 and numbers["lines"] < 250 and "QD907" in text


def test_1500_nested_folders(tmp_path, request):
    """The issue: RecursionError."""
    request.addfinalizer(lambda: remove_tree(tmp_path / "d"))
    folder = tmp_path
    for _ in range(1500):
        folder = folder / "d"
        folder.mkdir()
    (folder / "trainer_state.json").write_text('{"log_history": [{"loss": NaN, "step": 1}]}')
    numbers, text = measure(tmp_path, "1,500 nested folders", tmp_path / "d", "--format", "json")
    assert numbers["code"] == 1 and {item["code"] for item in json.loads(text)} == {"QD911"}
    assert os.path.exists(folder / "trainer_state.json")
