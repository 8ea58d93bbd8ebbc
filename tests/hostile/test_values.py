"""Any value is data: extreme numbers, wrong types and deep nesting where a logger writes a step, a metric
or a setting give a finding with the row (or are read as the absence they honestly are), never an
exception."""

import json
import math

import pytest

from tests.hostile.builders import (
    event,
    mlflow_db,
    mlflow_file_run,
    tensorboard_file,
    trainer_state,
    wandb_run,
)

HUGE = "1" * 4301  # one digit past what int() converts
DEEP = 100_000

# A step as the JSON text a trainer_state.json row holds, and whether the row keeps a step.
STEPS = {
    "Infinity": None,
    "-Infinity": None,
    "NaN": None,
    "1e400": None,
    HUGE: None,
    "9223372036854775808": None,  # 2**63
    "3.5": None,
    '"3"': None,
    "null": None,
    "true": None,
    "[1]": None,
    '{"a": 1}': None,
    "-0": 0,
    "-0.0": 0,
    "4.0": 4,
}


def state_text(row_text):
    return '{"global_step": 1, "log_history": [\n' + row_text + "\n]}"


@pytest.mark.parametrize("step", sorted(STEPS), ids=lambda text: text[:12])
def test_a_trainer_state_step(run_dir, audit, step):
    trainer_state(run_dir, state_text(f'{{"loss": NaN, "step": {step}}}'))
    outcome = audit(run_dir)
    (non_finite,) = [item for item in outcome.findings if item["code"] == "QD205"]
    assert non_finite.get("step") == STEPS[step]
    bad_step = {item["code"] for item in outcome.findings} - {"QD205"}
    assert bad_step == ({"QD912"} if STEPS[step] is None and step != "null" else set())


@pytest.mark.parametrize(
    ("value", "code"),
    [("1e400", "QD205"), ("-1e400", "QD205"), (HUGE, "QD205"), ('"abc"', None), ("null", None), ("[1, 2]", "QD107")],
    ids=["1e400", "-1e400", "huge-int", "text", "null", "list"],
)
def test_a_trainer_state_loss(run_dir, audit, value, code):
    trainer_state(run_dir, state_text(f'{{"loss": {value}, "step": 1}}'))
    assert audit(run_dir).codes_found == ({code} if code else set())


@pytest.mark.parametrize("opening", ["[", '{"a": '], ids=["list", "object"])
@pytest.mark.parametrize("where", ["row", "top-level"])
def test_json_nested_100k_deep(run_dir, audit, opening, where):
    closing = "]" if opening == "[" else "}"
    deep = opening * DEEP + "1" + closing * DEEP
    rows = '{"loss": NaN, "step": 1},\n{"deep": ' + deep + ', "step": 2},\n{"loss": NaN, "step": 3}'
    if where == "row":
        text = state_text(rows)
    else:
        text = '{"trial_params": ' + deep + ', "log_history": [\n{"loss": NaN, "step": 3}\n]}'
    trainer_state(run_dir, text)
    outcome = audit(run_dir)
    too_deep = [item for item in outcome.findings if item["code"] == "QD911"]
    assert len(too_deep) == 1 and "nested deeper" in too_deep[0]["message"]
    (non_finite,) = [item for item in outcome.findings if item["code"] == "QD205"]
    steps = [at["step"] for at in non_finite.get("evidence", {}).get("occurrences", [non_finite])]
    assert steps[-1] == 3  # reading went on after the deep value


@pytest.mark.parametrize(
    ("step", "kept"),
    [("NaN", None), ("Infinity", None), ("1e400", None), (HUGE, None), ('"x"', None), ("4.0", 4), ("-0", 0)],
    ids=["nan", "inf", "1e400", "huge", "text", "integral", "minus-zero"],
)
def test_a_wandb_global_step(run_dir, audit, step, kept):
    wandb_run(run_dir / "wandb" / "offline-run-1", [{"train/loss": "NaN", "train/global_step": step}])
    outcome = audit(run_dir)
    (non_finite,) = [item for item in outcome.findings if item["code"] == "QD205"]
    assert non_finite["step"] == (kept if kept is not None else 0)  # else the history's own step
    assert ("QD912" in outcome.codes_found) == (kept is None)


def test_deep_wandb_values_and_config(run_dir, audit):
    deep = "[" * DEEP + "]" * DEEP
    wandb_run(
        run_dir / "wandb" / "offline-run-1",
        [{"train/loss": deep, "train/global_step": "1"}, {"train/loss": "NaN", "train/global_step": "2"}],
        config={"output_dir": deep, "metric_for_best_model": '"f1"'},
    )
    outcome = audit(run_dir)
    (too_deep,) = [item for item in outcome.findings if item["code"] == "QD911"]  # the value and the setting
    assert too_deep["count"] == 2
    assert "QD205" in outcome.codes_found


def test_a_deep_protobuf_record(run_dir, audit):
    """A history record nested past protobuf's recursion limit (a Record inside unknown group fields)."""
    from tests.audit.framing import WandbLogWriter

    nested = b"\x0b" * 10_000 + b"\x0c" * 10_000  # start-group / end-group of field 1, 10,000 deep
    writer = WandbLogWriter()
    writer.add(b"\x08\x01\x12" + bytes([3]) + b"\x12\x01\x08" + nested)
    (run_dir / "run-deep.wandb").write_bytes(bytes(writer.data))
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD906"}


def test_deep_tensorboard_args(run_dir, audit):
    deep = ("[" * DEEP + "]" * DEEP).encode()
    tensorboard_file(run_dir, [event(0, "args/text_summary", text=deep), event(1, "train/loss", math.nan)])
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD911", "QD205"}


def test_tensorboard_args_with_a_huge_integer(run_dir, audit):
    args = json.dumps({"output_dir": "x"}).replace('"x"', HUGE).encode()
    tensorboard_file(run_dir, [event(0, "args/text_summary", text=args), event(1, "train/loss", 0.5)])
    assert audit(run_dir).codes_found == set()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("1 0.5 99999999999999999999999", "QD912"),
        (f"{HUGE} 0.5 1", "QD903"),
        ("1 0.5 1e400", "QD903"),
        ("1 1e400 1", "QD205"),
        ("1 nan 1", "QD205"),
        ("1 abc 1", "QD903"),
    ],
    ids=["step-2^76", "huge-timestamp", "float-step", "value-1e400", "value-nan", "value-text"],
)
def test_an_mlflow_file_store_line(run_dir, audit, line, code):
    mlflow_file_run(run_dir / "mlruns" / "0" / "r1", {"loss": line + "\n"})
    assert audit(run_dir).codes_found == {code}


@pytest.mark.parametrize(
    ("row", "codes"),
    [
        (("loss", 0.5, 1, "three", 0), {"QD912"}),
        (("loss", 0.5, 1, 3.5, 0), {"QD912"}),
        (("loss", 0.0, 1, 3.0, 1), {"QD205"}),  # MLflow stores NaN as 0 with is_nan (sqlite has no NaN)
        (("loss", 0.5, 1, b"\x00\xff", 0), {"QD912"}),
        (("loss", 0.5, 1, None, 0), set()),
        (("loss", "abc", 1, 1, 0), {"QD912"}),
        (("loss", b"\xff", 1, 1, 0), {"QD912"}),
        (("loss", None, 1, 1, 0), {"QD912"}),
        (("loss", "0.5", "noon", 1, 0), set()),
        ((None, 0.5, 1, 1, 0), {"QD912"}),
        ((b"\xffkey", 0.5, 1, 1, 0), set()),
        (("loss", 0.0, 1, 1, 1), {"QD205"}),
    ],
    ids=[
        "step-text", "step-real", "step-integral-real", "step-blob", "step-null", "value-text", "value-blob",
        "value-null", "timestamp-text", "key-null", "key-blob", "is-nan",
    ],
)
def test_an_mlflow_database_value(run_dir, audit, row, codes):
    mlflow_db(run_dir / "mlflow.db", [row]).close()
    assert audit(run_dir).codes_found == codes


def test_mlflow_database_run_ids_and_names_of_any_type(run_dir, audit):
    connection = mlflow_db(run_dir / "mlflow.db", [("loss", 0.0, 1, 1, 1)])
    connection.execute("INSERT INTO runs VALUES (?, ?)", (b"\xff/../../etc", None))
    connection.execute("INSERT INTO runs VALUES (?, ?)", (42, 3.5))
    connection.execute("INSERT INTO runs VALUES (?, ?)", (None, "no id"))
    connection.commit()
    connection.close()
    outcome = audit(run_dir)
    assert outcome.codes_found == {"QD205"}
