"""The TensorBoard event reader: against tensorboard's own loader, and on damaged copies."""

import struct
import tracemalloc

import pytest

from qadiag.audit.readers import tensorboard as reader
from qadiag.audit.records import SourceKind
from tests.audit.helpers import only, read_all

TB = SourceKind.TENSORBOARD


@pytest.fixture(scope="module")
def events(hf_runs):
    return only("events.out.tfevents.*", hf_runs / "unprefixed" / "out")


def record_offsets(data):
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<Q", data, pos)[0]
    return offsets


def test_crc32c_matches_the_standard_check_value():
    crc = 0xE3069283  # CRC-32C of b"123456789"
    assert reader.masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_every_scalar_tensorboard_loads_is_in_a_row(events):
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event

    theirs = [
        (event.step, value.tag, value.simple_value)
        for event in map(Event.FromString, RawEventFileLoader(str(events)).Load())
        for value in event.summary.value
        if value.HasField("simple_value")
    ]
    result = read_all(TB, events)
    assert result.findings == []
    ours = [
        (row.step, row.logger_key(key), value) for row in result.rows for key, value in row.values.items()
    ]
    assert sorted(ours) == sorted(theirs) and len(ours) > 20
    assert {s.name: s.value for s in result.settings}["output_dir"].endswith("unprefixed/out")


def test_rows_are_rebuilt_per_trainer_log_call(events):
    rows = read_all(TB, events).rows
    at_step_4 = [set(row.values) for row in rows if row.step == 4]
    assert at_step_4 == [
        {"loss", "grad_norm", "learning_rate", "epoch"},
        {"eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch"},
        {"exact_match", "f1", "epoch"},
    ]


def damaged(events, tmp_path, change):
    data = bytearray(events.read_bytes())
    offsets = record_offsets(bytes(data))
    target = offsets[len(offsets) // 2]
    change(data, target)
    path = tmp_path / events.name
    path.write_bytes(bytes(data))
    return path, target


def test_a_damaged_event_is_skipped_and_the_rest_read(events, tmp_path):
    path, target = damaged(events, tmp_path, lambda data, at: data.__setitem__(at + 14, data[at + 14] ^ 0xFF))
    result = read_all(TB, path)
    assert result.codes == ["QD903"] and result.findings[0].offset == target
    whole = read_all(TB, events)
    assert sum(len(r.values) for r in result.rows) == sum(len(r.values) for r in whole.rows) - 1
    assert result.rows[-1].values == whole.rows[-1].values


def test_a_damaged_length_resyncs_at_the_next_record(events, tmp_path):
    path, target = damaged(events, tmp_path, lambda data, at: data.__setitem__(at, data[at] ^ 0x55))
    result = read_all(TB, path)
    assert result.codes == ["QD903"]
    assert (
        result.findings[0].offset == target
        and "resumed at the next intact record" in result.findings[0].message
    )
    assert result.rows[-1].values == read_all(TB, events).rows[-1].values


def test_a_cut_file_keeps_the_events_before_the_cut(events, tmp_path):
    data = events.read_bytes()
    cut = record_offsets(data)[-5] + 7
    path = tmp_path / events.name
    path.write_bytes(data[:cut])
    result = read_all(TB, path)
    assert result.codes == ["QD902"] and result.findings[0].offset == cut - 7
    assert all(row.offset < cut for row in result.rows) and result.rows


def test_an_absurd_length_with_a_valid_checksum_is_not_allocated(tmp_path):
    claimed = struct.pack("<Q", 1 << 40)
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(claimed + struct.pack("<I", reader.masked_crc32c(claimed)) + b"x" * 100)
    tracemalloc.start()
    result = read_all(TB, path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.codes == ["QD905"] and peak < 8 << 20


def test_an_empty_file_is_a_finding(tmp_path):
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(b"")
    assert read_all(TB, path).codes == ["QD907"]


def test_a_restart_in_a_second_file_is_one_stream(logger_runs):
    log_dir = logger_runs / "restart" / "out" / "runs" / "Jan01_00-00-00_host"
    files = sorted(log_dir.iterdir())
    result = read_all(TB, *files)
    steps = [row.step for row in result.rows]
    assert len(files) == 2 and steps[: steps.index(6) + 1] == sorted(steps[: steps.index(6) + 1])
    assert min(steps[steps.index(6) + 1 :]) == 3
