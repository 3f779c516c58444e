"""The vector profile against golden cases hand-derived from Vector's source
(tests/golden/vector/README.md cites the files each rule comes from)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from discovery.podfiles import load_inventory
from logbridge.converting import convert_lines, iter_inputs
from logbridge.profiles import build
from logbridge.transforming import Output

CASES = sorted((Path(__file__).resolve().parents[1] / "golden" / "vector").glob("*.json"))


def _keys_sorted(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(_keys_sorted(v) for v in value.values())
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_vector_golden(case: Path, tmp_path: Path) -> None:
    spec = json.loads(case.read_text())
    pods = tmp_path / "pods"
    pods.mkdir()
    meta = spec["pod"]["metadata"]
    suffix = ".deleted.json" if spec["deleted"] else ".json"
    (pods / f"{meta['namespace']}_{meta['name']}{suffix}").write_text(json.dumps(spec["pod"]))
    log = tmp_path / spec["file"]
    log.write_text("".join(line + "\n" for line in spec["input"]), encoding="utf-8")
    outs = list(
        convert_lines(
            iter_inputs([log], io.BytesIO()), profile=build("vector", {}), lookup=load_inventory(pods)
        )
    )
    docs = [o.doc for o in outs if isinstance(o, Output)]
    assert docs == spec["expected"], spec["describe"]
    assert all(_keys_sorted(d) for d in docs)
