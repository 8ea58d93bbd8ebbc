"""Every reader, fed arbitrary bytes and mutated real files: only rows, settings and findings come out,
and memory stays bounded whatever lengths a file claims."""

import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qadiag.audit.readers.base import Problems
from qadiag.audit.readers.mlflow import list_runs
from qadiag.audit.records import SourceKind
from tests.audit.framing import WANDB_HEADER, tfrecord
from tests.audit.helpers import only, read_all

FILE_NAMES = {
    SourceKind.TRAINER_STATE: "trainer_state.json",
    SourceKind.WANDB: "run-fuzz.wandb",
    SourceKind.TENSORBOARD: "events.out.tfevents.1.host",
}
fuzz_settings = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_bytes_as(kind, content):
    with tempfile.TemporaryDirectory() as directory:
        if kind is SourceKind.MLFLOW:
            return read_mlflow(Path(directory), content)
        path = Path(directory) / FILE_NAMES[kind]
        path.write_bytes(content)
        return read_all(kind, path)


def read_mlflow(directory, content):
    """The bytes as a file-store metric file, and as an mlflow.db."""
    run = directory / "run"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: run\n")
    (run / "metrics" / "loss").write_bytes(content)
    result = read_all(SourceKind.MLFLOW, run)
    database = directory / "mlflow.db"
    database.write_bytes(content)
    problems = Problems(str(database))
    runs = list_runs(database, problems)
    if not runs:
        assert problems.findings()
        return result
    for run_id, _ in runs:
        read_all(SourceKind.MLFLOW, database, table_key=run_id)
    return result


@pytest.mark.parametrize("kind", list(SourceKind), ids=lambda kind: kind.value)
@fuzz_settings
@given(content=st.binary(max_size=2048))
def test_arbitrary_bytes(kind, content):
    read_bytes_as(kind, content)


@fuzz_settings
@given(tail=st.binary(max_size=4096))
def test_arbitrary_bytes_behind_a_valid_wandb_header(tail):
    read_bytes_as(SourceKind.WANDB, WANDB_HEADER + tail)


@fuzz_settings
@given(payloads=st.lists(st.binary(max_size=200), max_size=10), tail=st.binary(max_size=64))
def test_well_framed_events_of_arbitrary_content(payloads, tail):
    read_bytes_as(SourceKind.TENSORBOARD, b"".join(map(tfrecord, payloads)) + tail)


@pytest.fixture(scope="module")
def real_files(hf_runs, logger_runs):
    home = hf_runs / "unprefixed"
    files = {
        SourceKind.TRAINER_STATE: (home / "out" / "trainer_state.json").read_bytes(),
        SourceKind.WANDB: only("run-*.wandb", home).read_bytes(),
        SourceKind.TENSORBOARD: only("events.out.tfevents.*", home).read_bytes(),
    }
    metric_files = list((logger_runs / "mlflow_files").rglob("metrics/loss"))
    if metric_files:
        files[SourceKind.MLFLOW] = metric_files[0].read_bytes()
    return files


mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(1, 70000)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 5000)),
)


def mutate(data, changes):
    data = bytearray(data)
    for kind, where, amount in changes:
        at = int(where * max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[at] ^= amount
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = (b"\xff\x7f{[\x00" * amount)[:amount]
        elif kind == "delete":
            del data[at : at + amount]
    return bytes(data)


@pytest.mark.parametrize("kind", list(SourceKind), ids=lambda kind: kind.value)
@fuzz_settings
@given(changes=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_real_files(real_files, kind, changes):
    if kind not in real_files:
        pytest.skip("no MLflow store was written (mlflow is not installed)")
    read_bytes_as(kind, mutate(real_files[kind], changes))


BIG = 24 << 20
PATHOLOGICAL = {
    SourceKind.TRAINER_STATE: b'{"log_history": [{"loss": "' + b"x" * BIG,
    SourceKind.WANDB: WANDB_HEADER + b"\xff" * BIG,
    SourceKind.TENSORBOARD: b"\xff" * 12 + b"\x00" * BIG,
    SourceKind.MLFLOW: b"1 " * (BIG // 2),
}
# What a reader may hold at once: a JSON value up to 16 MiB (as text, and the bytes it came from).
MEMORY_BOUND = {SourceKind.TRAINER_STATE: 80 << 20}


@pytest.mark.parametrize("kind", list(SourceKind), ids=lambda kind: kind.value)
def test_memory_stays_bounded_on_huge_damaged_files(kind):
    tracemalloc.start()
    try:
        result = read_bytes_as(kind, PATHOLOGICAL[kind])
        peak = tracemalloc.get_traced_memory()[1] - len(PATHOLOGICAL[kind])
    finally:
        tracemalloc.stop()
    assert result.findings
    assert peak < MEMORY_BOUND.get(kind, 8 << 20), f"{peak / 2**20:.0f} MiB"
