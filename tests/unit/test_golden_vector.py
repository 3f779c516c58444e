"""The vector profile against golden cases hand-derived from Vector's source
(tests/golden/vector/README.md cites the files each rule comes from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.goldens import hand_derived_documents

CASES = sorted((Path(__file__).resolve().parents[1] / "golden" / "vector").glob("*.json"))


def _keys_sorted(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(_keys_sorted(v) for v in value.values())
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_vector_golden(case: Path, tmp_path: Path) -> None:
    spec = json.loads(case.read_text())
    docs = hand_derived_documents(spec, "vector", tmp_path)
    assert docs == spec["expected"], spec["describe"]
    assert all(_keys_sorted(d) for d in docs)
