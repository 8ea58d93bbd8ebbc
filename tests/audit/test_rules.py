"""Which run a source belongs to, from the output_dir it recorded."""

from pathlib import Path

import pytest

from qadiag.audit.runs import claimed_output_dir

CANDIDATES = [Path("/data/copy/exp1/out"), Path("/data/copy/exp2/out"), Path("/data/copy/exp2/other")]


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("/data/copy/exp1/out", "/data/copy/exp1/out"),  # the same path
        ("/home/me/runs/exp1/out", "/data/copy/exp1/out"),  # the tree was copied from another machine
        ("other", "/data/copy/exp2/other"),  # a relative output_dir, unique
        ("out", None),  # relative and ambiguous
        ("/home/me/elsewhere/out", None),  # absolute, sharing only the last name
        ("exp3/out", None),
        (None, None),
        (42, None),
    ],
)
def test_a_recorded_output_dir_is_matched_to_a_discovered_one(claim, expected):
    found = claimed_output_dir(claim, CANDIDATES)
    assert found == (Path(expected) if expected else None)
