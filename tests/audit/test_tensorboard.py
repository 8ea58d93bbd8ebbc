"""The TensorBoard event reader: against tensorboard's own loader, and on damaged copies."""

import struct
import tracemalloc

import pytest

from qadiag.audit.readers import tensorboard as reader
from qadiag.audit.readers import tfrecord
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
    assert tfrecord.masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


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
    path.write_bytes(claimed + struct.pack("<I", tfrecord.masked_crc32c(claimed)) + b"x" * 100)
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


def test_scalars_read_from_their_bytes_are_what_protobuf_decodes(tmp_path, monkeypatch):
    """Every layout the byte reader takes or leaves: steps 0 (absent), large and negative, NaN and infinite
    values, tags of every length up to and past its limit, a non-UTF-8 tag, a tensor scalar, extra fields."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from qadiag.audit.readers import tensorboard_layout
    from tests.hostile.builders import tensorboard_file

    def event(step, tag, value):  # as the writers write it: with the wall time
        scalar = summary_pb2.Summary.Value(tag=tag, simple_value=value)
        return event_pb2.Event(step=step, wall_time=1.7e9 + step / 3, summary=summary_pb2.Summary(value=[scalar]))

    payloads = []
    for step in (0, 1, 127, 128, 2**40, -5):
        for tag in ("train/loss", "eval/" + "x" * 42, "train/" + "y" * 60, "train/epoch"):
            for value in (0.5, float("nan"), float("inf"), 0.0):
                payloads.append(event(step, tag, value).SerializeToString())
    extra = event_pb2.Event(step=3, wall_time=1.0, file_version="brain.Event:2")
    extra.summary.value.add(tag="train/loss", simple_value=1.0)
    payloads.append(extra.SerializeToString())
    odd_tag = bytearray(event(4, "train/lossA", 1.0).SerializeToString())
    odd_tag[odd_tag.index(b"lossA") + 4] = 0xFF  # not UTF-8: protobuf refuses it (QD906), and so must we
    payloads.append(bytes(odd_tag))
    tensor = summary_pb2.Summary.Value(tag="train/grad_norm")
    tensor.tensor.dtype, tensor.tensor.float_val[:] = 1, [2.5]
    payloads.append(event_pb2.Event(step=5, summary=summary_pb2.Summary(value=[tensor])).SerializeToString())
    path = tensorboard_file(tmp_path / "runs", payloads)

    def rows_and_findings():
        result = read_all(reader.TensorBoardReader.kind, path)
        return str([(r.step, r.values, r.logger_keys, r.offset, r.wall_time) for r in result.rows]), result.codes

    real = tensorboard_layout.scalar_layout
    from_bytes = []

    def counted(batch):
        found = real(batch)
        from_bytes.append(int(found.fits.sum()))
        return found

    monkeypatch.setattr(reader, "scalar_layout", counted)
    fast = rows_and_findings()
    assert sum(from_bytes) > len(payloads) // 2  # most were read from their bytes

    def protobuf_only(batch):
        found = real(batch)
        found.fits[:] = False
        return found

    monkeypatch.setattr(reader, "scalar_layout", protobuf_only)
    assert fast == rows_and_findings()
    assert fast[1] == ["QD906"] and "2.5" in fast[0] and "1099511627776" in fast[0]


def test_crc32c_in_c_and_in_pure_python_agree():
    """google-crc32c computes in C, or falls back to pure Python where its extension does not load."""
    import os
    import random

    import google_crc32c
    from google_crc32c import cext, python

    assert google_crc32c.implementation == "c"
    generator = random.Random(0)
    samples = [b"", b"123456789", bytes(8), bytes(range(256)) * 5, os.urandom(4096)]
    samples += [bytes(generator.randrange(256) for _ in range(size)) for size in range(1, 200, 7)]
    for sample in samples:
        assert python.value(sample) == cext.value(sample) == google_crc32c.value(sample)
    assert python.value(b"123456789") == 0xE3069283
