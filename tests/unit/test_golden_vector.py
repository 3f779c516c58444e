"""The vector profile against golden cases hand-derived from Vector's source
(tests/golden/vector/README.md cites the files each rule comes from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logbridge.profiles import build
from tests.support.goldens import hand_derived_outputs

CASES = sorted((Path(__file__).resolve().parents[1] / "golden" / "vector").glob("*.json"))


def _keys_sorted(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(_keys_sorted(v) for v in value.values())
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_vector_golden(case: Path, tmp_path: Path) -> None:
    spec = json.loads(case.read_text())
    outs = hand_derived_outputs(spec, "vector", tmp_path)
    docs = [o.doc for o in outs]
    assert docs == spec["expected"], spec["describe"]
    assert all(_keys_sorted(d) for d in docs)
    # the action line, from Vector's elasticsearch sink defaults (src/sinks/elasticsearch/
    # config.rs: bulk.action "index", index "vector-%Y.%m.%d" of the event's timestamp, UTC)
    assert build("vector", spec.get("options", {})).bulk_action == "index"
    for o, doc in zip(outs, docs, strict=True):
        day = doc["timestamp"][:10].replace("-", ".")
        assert o.index == f"vector-{day}", (o.index, doc["timestamp"])
