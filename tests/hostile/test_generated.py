"""Hostile run directories built by hypothesis: folder and key names with control characters, terminal
escapes, workflow-command text and undecodable bytes; links to a secret; FIFOs; extreme, mistyped and
deeply nested values; empty and cut files; thousands of keys or hundreds of files, in every format the
audit reads. Whatever it builds, the
checks of tests.hostile.harness hold (exit 0 or 1, no traceback, no QD910, nothing from behind a link,
no raw control character, the run dir unchanged), under the harness's time and memory limits."""

import itertools
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.builders import event, mlflow_db, mlflow_file_run, tensorboard_file, wandb_run

FRAGMENTS = [
    "\n::error file=a.py,line=1::injected",
    "\r::warning::x",
    "\x1b[31m",
    "\x1b]0;t\x07",
    "##[add-mask]",
    "%0A",
    "\u202e",
    "\u2028",
    "\x85",
    "\x7f",
    "\t",
    ",:;",
]
name_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=12
)
names = st.lists(st.one_of(name_text, st.sampled_from(FRAGMENTS)), min_size=1, max_size=3).map("".join).filter(
    lambda name: name not in (".", "..") and len(os.fsencode(name)) < 200
)
raw_names = st.binary(min_size=1, max_size=12).filter(lambda name: b"/" not in name and b"\0" not in name and
                                                      name not in (b".", b".."))
folder_names = st.one_of(names.map(os.fsencode), raw_names)


def deep(depth):
    return "[" * depth + "]" * depth


json_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: json.dumps(x)),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["1e400", "-1e400", "-0", "1" * 4301, "null", "true", '"x"', "[1, 2]", '{"a": 1}']),
    st.integers(1, 3000).map(deep),
    names.map(json.dumps),
)
keys = st.one_of(st.sampled_from(["loss", "eval_loss", "exact_match", "val_f1", "eval-f1", "train_loss"]), names)
rows = st.lists(st.dictionaries(keys, json_values, min_size=1, max_size=4), min_size=1, max_size=4)

LOG_NAMES = [
    b"trainer_state.json",
    b"run-x.wandb",
    b"events.out.tfevents.1.host",
    b"mlflow.db",
]
entries = st.one_of(
    st.tuples(st.just("trainer_state"), rows, json_values),
    st.tuples(st.just("wandb"), rows, json_values),
    st.tuples(st.just("tensorboard"), st.lists(st.tuples(keys, st.floats()), min_size=1, max_size=4), json_values),
    st.tuples(st.just("mlflow_files"), st.dictionaries(names, st.text(max_size=40), max_size=3), json_values),
    st.tuples(st.just("mlflow_db"), st.lists(st.tuples(st.one_of(keys, st.none()), json_values), max_size=3),
              json_values),
    st.tuples(st.sampled_from(["link", "fifo", "empty", "cut"]), st.sampled_from(LOG_NAMES), st.none()),
    st.tuples(st.sampled_from(["many_keys", "many_files"]), st.integers(0, 3000), json_values),
)
trees = st.lists(st.tuples(folder_names, entries), min_size=1, max_size=4)


def state_text(rows, step):
    lines = [
        "{" + ", ".join([*(f"{json.dumps(key)}: {value}" for key, value in row.items()), f'"step": {step}']) + "}"
        for row in rows
    ]
    return '{"log_history": [\n' + ",\n".join(lines) + "\n]}"


def build(folder, entry, secret):
    kind, content, extra = entry
    os.makedirs(folder, exist_ok=True)
    path = os.fsdecode(folder)
    if kind == "trainer_state":
        with open(os.path.join(path, "trainer_state.json"), "w", encoding="utf-8", errors="surrogatepass") as out:
            out.write(state_text(content, extra))
    elif kind == "wandb":
        history = [{f"train/{key}": value for key, value in row.items()} | {"train/global_step": extra}
                   for row in content]
        wandb_run(path_of(path, "wandb"), history, config={"output_dir": extra})
    elif kind == "tensorboard":
        tensorboard_file(path_of(path), [event(1, "args/text_summary", text=extra.encode())]
                         + [event(step, f"train/{key}", value) for step, (key, value) in enumerate(content)])
    elif kind == "mlflow_files":
        mlflow_file_run(path_of(path, "mlruns/0/r1"), content, {"metric_for_best_model": extra})
    elif kind == "mlflow_db":
        rows = [(key, value, index, extra, 0) for index, (key, value) in enumerate(content)]
        mlflow_db(path_of(path, "mlflow.db"), rows).close()
    elif kind == "many_keys":
        rows = [{f"val_k{index}": "0.5", "eval_loss": extra} for index in range(content)]
        with open(os.path.join(path, "trainer_state.json"), "w") as out:
            out.write(state_text(rows, 1))
    elif kind == "many_files":
        for index in range(1 + content // 10):
            with open(os.path.join(path, f"run-{index}.wandb"), "wb"):
                pass
    else:
        target = os.path.join(folder, content)
        if kind == "link":
            os.symlink(secret, target)
        elif kind == "fifo":
            os.mkfifo(target)
        else:
            with open(target, "wb") as out:
                out.write(b"" if kind == "empty" else b":W&B\xe1\xbe\x00{\"log_history\": [{\"loss\": 1")


def path_of(folder, name=""):
    from pathlib import Path

    return Path(folder) / name if name else Path(folder)


examples = itertools.count()


# 40 in the default suite; QADIAG_HOSTILE_EXAMPLES=2000 for a longer hunt.
@settings(
    max_examples=int(os.environ.get("QADIAG_HOSTILE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees)
def test_a_generated_hostile_run_dir(tmp_path, secret, audit, tree):
    run_dir = tmp_path / f"example-{next(examples)}"
    run_dir.mkdir()
    for number, (folder, entry) in enumerate(tree):  # one folder per entry, even when names repeat
        build(os.fsencode(run_dir) + b"/%d" % number + folder, entry, secret)
    audit(run_dir)
