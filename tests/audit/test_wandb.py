"""The .wandb reader: against `wandb leet inspect --json`, both block layouts, and damaged copies."""

import json
import math
import struct
import subprocess
import sys

import pytest

from qadiag.audit.readers import wandb as reader
from qadiag.audit.readers.base import Problems
from qadiag.audit.records import SourceKind
from tests.audit.framing import BLOCK, WandbLogWriter, wandb_log
from tests.audit.helpers import only, read_all

WANDB = SourceKind.WANDB


def payloads_of(path):
    problems = Problems(str(path))
    with open(path, "rb") as handle:
        items = list(reader.payloads(handle, problems))
    assert problems.findings() == []
    return [payload for _, payload in items]


def loss_steps(result):
    return [step for step, _ in result.values("loss")]


@pytest.fixture(scope="module")
def long_run(logger_runs):
    """A real W&B run of 600 training rows, several 32 KiB blocks long."""
    return only("run-*.wandb", logger_runs / "long_wandb")


def leet_history(path):
    wandb = [sys.executable, "-m", "wandb"]
    if subprocess.run([*wandb, "leet", "--help"], capture_output=True).returncode != 0:
        pytest.skip("the installed wandb has no `wandb leet` command to cross-check with")
    output = subprocess.run(
        [*wandb, "leet", "inspect", "--json", str(path)], capture_output=True, text=True, check=True
    )
    records = [json.loads(line) for line in output.stdout.splitlines() if line.strip()]
    return records, [record["history"]["item"] for record in records if record["type"] == "history"]


def comparable(value):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)


def same(a, b):
    if isinstance(a, float) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def test_records_and_history_agree_with_wandb_leet_inspect(hf_runs, logger_runs):
    for path in (
        only("run-*.wandb", hf_runs / "unprefixed"),
        only("run-*.wandb", logger_runs / "nan_hidden"),
    ):
        leet_records, leet_items = leet_history(path)
        ours = [record for item in reader.records(path, Problems(str(path))) for record in [item[1]]]
        assert len(ours) == len(leet_records)
        history = [
            {reader.item_key(item): reader.item_value(item) for item in record.history.item}
            for record in ours
            if record.WhichOneof("record_type") == "history"
        ]
        assert len(history) == len(leet_items) > 0
        for mine, theirs in zip(history, leet_items):
            assert mine.keys() == theirs.keys()
            assert all(same(mine[key], comparable(theirs[key])) for key in mine), (mine, theirs)


def test_history_rows_carry_trainer_keys_steps_and_logger_keys(hf_runs):
    result = read_all(WANDB, only("run-*.wandb", hf_runs / "unprefixed"))
    assert result.findings == []
    state = json.loads((hf_runs / "unprefixed" / "out" / "trainer_state.json").read_text())["log_history"]
    logged = [row for row in state if "train_runtime" not in row]  # W&B keeps that row in its summary
    assert [row.step for row in result.rows if len(row.values) > 1] == [row["step"] for row in logged]
    bug_row = next(row for row in result.rows if "exact_match" in row.values)
    assert bug_row.logger_key("exact_match") == "train/exact_match" and bug_row.step == 4
    eval_row = next(row for row in result.rows if "eval_loss" in row.values)
    assert eval_row.logger_key("eval_loss") == "eval/loss"
    assert {s.name: s.value for s in result.settings}["output_dir"] == str(hf_runs / "unprefixed" / "out")


def test_files_from_wandb_core_before_0_17_6_are_read_the_same(long_run, tmp_path):
    payloads = payloads_of(long_run)
    shifted = tmp_path / "run-old.wandb"
    shifted.write_bytes(wandb_log(payloads, origin=7))
    assert reader.block_origin(shifted.read_bytes()[: 2 * BLOCK + 7]) == 7
    assert reader.block_origin(long_run.read_bytes()[: 2 * BLOCK + 7]) == 0
    old, new = read_all(WANDB, shifted), read_all(WANDB, long_run)
    assert old.findings == [] and loss_steps(new) == list(range(1, 601))
    assert [(r.step, r.values) for r in old.rows] == [(r.step, r.values) for r in new.rows]


def inside_chunk(data: bytearray, chunk: int) -> int:
    """A byte offset strictly inside the chunk at ``chunk``: in its payload, or its header if it has none.

    A fixed ``chunk + 10`` is not: after a last part 3 bytes long it is the end of a complete record.
    """
    (length,) = struct.unpack_from("<H", data, chunk + 4)
    return chunk + (7 + length) // 2


def test_a_file_that_ends_right_after_a_short_last_part_is_complete(tmp_path):
    writer = WandbLogWriter()
    writer.add(b"\x08\x01" + bytes(BLOCK - 13))  # block 0 holds all of it but 3 bytes
    assert writer.chunk_offsets() == [7, BLOCK] and len(writer.data) == BLOCK + 7 + 3
    path = tmp_path / "run-short.wandb"
    path.write_bytes(writer.data)
    assert read_all(WANDB, path).findings == []
    for cut in range(BLOCK + 1, len(writer.data)):
        path.write_bytes(writer.data[:cut])
        result = read_all(WANDB, path)
        assert result.codes == ["QD902"] and result.findings[0].offset == BLOCK, cut


def test_a_cut_run_keeps_every_record_before_the_cut(long_run, tmp_path):
    writer = WandbLogWriter()
    for payload in payloads_of(long_run):
        writer.add(payload)
    full = read_all(WANDB, long_run)
    # Every 150th chunk, plus continuation chunks (a cut there loses a record split across blocks).
    continuations = [offset for offset in writer.chunk_offsets() if offset % BLOCK == 0][:3]
    assert continuations
    for chunk in writer.chunk_offsets()[50::150] + continuations:
        path = tmp_path / "run-cut.wandb"
        path.write_bytes(writer.data[: inside_chunk(writer.data, chunk)])
        result = read_all(WANDB, path)
        assert result.codes == ["QD902"], [(f.offset, f.message) for f in result.findings]
        assert result.findings[0].offset == chunk
        assert [r.values for r in result.rows] == [r.values for r in full.rows[: len(result.rows)]]
        assert all(row.offset < chunk for row in result.rows)


def test_a_damaged_block_is_skipped_and_reading_resumes_at_the_next(long_run, tmp_path):
    writer = WandbLogWriter()
    for payload in payloads_of(long_run):
        writer.add(payload)
    target = next(offset for offset in writer.chunk_offsets() if offset > 2 * BLOCK + 1000)
    writer.data[target + 7 + 3] ^= 0xFF
    path = tmp_path / "run-flip.wandb"
    path.write_bytes(bytes(writer.data))
    result = read_all(WANDB, path)
    assert result.codes == ["QD903"] and result.findings[0].offset == target
    assert "next 32 KiB block" in result.findings[0].message
    full = read_all(WANDB, long_run)
    after = [r.values for r in full.rows if r.offset >= 3 * BLOCK]
    assert [r.values for r in result.rows if r.offset >= 3 * BLOCK] == after
    assert [r.values for r in result.rows if r.offset < target] == [
        r.values for r in full.rows if r.offset < target
    ]
    assert len(result.rows) < len(full.rows)


def test_a_chunk_claiming_more_than_its_block_is_not_read(long_run, tmp_path):
    writer = WandbLogWriter()
    for payload in payloads_of(long_run):
        writer.add(payload)
    target = next(offset for offset in writer.chunk_offsets() if offset > BLOCK + 100)
    struct.pack_into("<H", writer.data, target + 4, 0xFFFF)
    path = tmp_path / "run-long.wandb"
    path.write_bytes(bytes(writer.data))
    result = read_all(WANDB, path)
    assert result.codes == ["QD905"] and result.findings[0].offset == target
    assert loss_steps(result)[-1] == 600


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "QD907"), (b"\x89PNG\r\n\x1a\n" + bytes(100), "QD908"), (b":W&B", "QD902")],
    ids=["empty", "png", "header-only"],
)
def test_files_that_are_not_transaction_logs_are_findings(tmp_path, content, code):
    path = tmp_path / "run-x.wandb"
    path.write_bytes(content)
    assert read_all(WANDB, path).codes == [code]


def test_an_unknown_header_version_is_reported_and_read_anyway(long_run, tmp_path):
    data = bytearray(long_run.read_bytes())
    data[6] = 9
    path = tmp_path / "run-v9.wandb"
    path.write_bytes(bytes(data))
    result = read_all(WANDB, path)
    assert result.codes == ["QD906"] and loss_steps(result) == list(range(1, 601))


def test_summary_json_of_older_runs_gives_the_final_row(long_run, copy_of):
    run_dir = copy_of(long_run.parent)
    (run_dir / "files").mkdir(exist_ok=True)
    summary = {"train_loss": math.nan, "train_runtime": 3.5, "train/global_step": 600, "_step": 599}
    (run_dir / "files" / "wandb-summary.json").write_text(json.dumps(summary))
    result = read_all(WANDB, run_dir / long_run.name)
    last = result.rows[-1]
    assert last.step == 600 and last.values.keys() == {"train_loss", "train_runtime"}
    assert math.isnan(last.values["train_loss"])


def test_media_logged_under_train_is_not_a_metric(long_run):
    result = read_all(WANDB, long_run)
    assert result.findings == [] and result.rows[-1].step == 600
    assert all("samples" not in row.values for row in result.rows)


def test_history_read_from_bytes_equals_protobuf_decoding(hf_runs, logger_runs):
    """The fast path reads the history records wandb-core writes, and gives what protobuf gives."""
    record_class = reader._record_class()
    files = [only("run-*.wandb", hf_runs / "unprefixed"), only("run-*.wandb", logger_runs / "long_wandb")]
    compared, fallbacks = 0, []
    for path in files:
        fast_rows, slow_rows = reader.HistoryRows(path), reader.HistoryRows(path)
        for offset, _, payload in reader.typed_payloads(path, Problems(str(path)), frozenset({reader.HISTORY})):
            fast = fast_rows.row_from_bytes(str(path), compared, offset, payload)
            slow = slow_rows.row(str(path), compared, offset, *reader.protobuf_items(record_class.FromString(payload)))
            if fast is None:
                fallbacks.append(offset)
            else:
                assert str(fast) == str(slow), offset  # str: NaN == NaN
            compared += 1
    # the one row left to protobuf is the table of samples (a value longer than 127 bytes)
    assert compared > 600 and len(fallbacks) == 1


def test_history_layouts_the_fast_path_does_not_know_read_as_protobuf_reads_them(long_run, tmp_path, monkeypatch):
    record_class = reader._record_class()
    writer = WandbLogWriter()
    changes = [
        lambda history: setattr(history.item[0], "key", "ignored"),  # key beside nested_key
        lambda history: history.item.add(nested_key=["eval", "loss"], value_json="7"),  # a two-part key
        lambda history: setattr(history._info, "stream_id", "s"),  # a field left to protobuf
        lambda history: history.item.add(key="eval/f1", value_json='{"not": "a number"}'),
        lambda history: history.item.add(key="eval/exact_match"),  # no value at all
    ]
    for payload in payloads_of(long_run):
        record = record_class.FromString(payload)
        if record.WhichOneof("record_type") == "history" and changes:
            changes.pop()(record.history)
            payload = record.SerializeToString()
        writer.add(payload)
    path = tmp_path / "run-x.wandb"
    path.write_bytes(bytes(writer.data))
    fast = read_all(WANDB, path)
    monkeypatch.setattr(reader.HistoryRows, "row_from_bytes", lambda *args: None)
    slow = read_all(WANDB, path)
    assert fast.findings == slow.findings == []
    rows = [[(r.step, r.values, r.logger_keys, r.wall_time) for r in result.rows] for result in (fast, slow)]
    assert len(rows[0]) > 600 and str(rows[0]) == str(rows[1])  # str: NaN == NaN


def test_a_step_field_that_is_not_one_whole_varint_is_left_to_protobuf(tmp_path):
    item = b"\n\x10\x12\x0atrain/loss\x82\x01\x011"  # nested_key "train/loss", value_json "1"
    rows = reader.HistoryRows(tmp_path)

    def history_record(step_field: bytes) -> bytes:
        history = step_field + item
        return b"\x08\x05\x12" + bytes([len(history)]) + history

    row = rows.row_from_bytes("f", 0, 0, history_record(b"\x12\x02\x08\x07"))
    assert row is not None and row.step == 7 and row.values == {"loss": 1.0}
    assert rows.row_from_bytes("f", 0, 0, history_record(b"\x12\x01\x08")) is None  # the varint is missing
    assert rows.row_from_bytes("f", 0, 0, history_record(b"\x12\x03\x08\x07\x07")) is None  # a byte too many


def test_the_fields_outside_the_record_type_are_wandbs():
    record_class = reader._record_class()
    outside = {field.number for field in record_class.DESCRIPTOR.fields if field.containing_oneof is None}
    assert outside == reader.OUTSIDE_ONEOF


def test_config_read_from_bytes_equals_protobuf_decoding(hf_runs, logger_runs, tmp_path):
    """The config and run records wandb-core writes are read from their bytes; any other layout is left to
    protobuf, and what is read is what protobuf decodes."""
    record_class = reader._record_class()
    real = [only("run-*.wandb", hf_runs / "unprefixed"), only("run-*.wandb", logger_runs / "eval_gaps")]
    payloads = [
        (kind, payload)
        for path in real
        for _, kind, payload in reader.typed_payloads(path, Problems(str(path)), frozenset({reader.CONFIG, reader.RUN}))
    ]
    read_from_bytes = [reader.config_items(payload, kind) for kind, payload in payloads]
    assert len(payloads) >= 2 and all(items is not None for items in read_from_bytes)
    assert any(key == "output_dir" for items in read_from_bytes for key, _ in items)
    altered = []
    for change in (
        lambda record: record.config.update.add(nested_key=["a", "b"], value_json="1"),  # a two-part key
        lambda record: record.config.update.add(key="output_dir"),  # no value
        lambda record: setattr(record.config._info, "stream_id", "s"),  # a field the reader skips
        lambda record: record.config.remove.add(key="x"),
    ):
        record = record_class(num=1)
        record.config.update.add(key="metric_for_best_model", value_json='"f1"')
        change(record)
        altered.append((reader.CONFIG, record.SerializeToString()))
    run = record_class(num=2)
    run.run.run_id = "abc"
    run.run.config.update.add(nested_key=["output_dir"], value_json='"out"')
    altered.append((reader.RUN, run.SerializeToString()))
    twice = record_class(num=3)
    twice.config.update.add(key="output_dir", value_json='"a"')
    altered.append((reader.CONFIG, twice.SerializeToString() + b"\x2a\x00"))  # the config field again: merged
    for kind, payload in payloads + altered:
        items = reader.config_items(payload, kind)
        expected = reader.protobuf_config(record_class.FromString(payload))
        assert items is None or items == expected, (items, expected)
    assert all(reader.config_items(payload, kind) is not None for kind, payload in altered[:-1])
    assert reader.config_items(altered[-1][1], reader.CONFIG) is None  # left to protobuf
