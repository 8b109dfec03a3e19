"""docs/reference.md is generated from the code, and documents every output column."""

from __future__ import annotations

import re
from pathlib import Path

from simtrain.reference import reference_markdown
from simtrain.study import OUTPUT_COLUMNS, POINT_KEYS, run_point

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def test_committed_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/reference.md is stale: run  python -m simtrain.reference > docs/reference.md"


def test_every_column_of_a_result_row_is_documented():
    row = run_point({"model": "resnet50", "topology": "cloud-25g", "gpus": 16, "topology.nic_bandwidth": "10 Gbit/s",
                     "network.endpoint_delay": "1 us"}, seed=3)
    assert row["status"] == "ok", row["error"]
    text = REFERENCE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))
    for column in row:
        prefix = column.split(".", 1)[0] + ".KEY" if column.startswith(("topology.", "network.")) else column
        assert prefix in documented, f"column {column!r} is not in docs/reference.md"
    assert set(OUTPUT_COLUMNS) | {k.name for k in POINT_KEYS} <= documented


def test_reference_covers_every_topology_kind_and_scheme():
    from simtrain.compression import SCHEMES
    from simtrain.topology.loader import KINDS

    text = REFERENCE.read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"### `kind: {kind}`" in text
    for name in SCHEMES.names():
        assert f"| `{name}` |" in text
