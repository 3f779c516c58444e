"""The filebeat profile against golden cases hand-derived from Beats' source
(tests/golden/filebeat/README.md cites the file each rule comes from)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from discovery.podfiles import load_inventory
from logbridge.converting import convert_lines, iter_inputs
from logbridge.profiles import build
from logbridge.transforming import Output

CASES = sorted((Path(__file__).resolve().parents[1] / "golden" / "filebeat").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_filebeat_golden(case: Path, tmp_path: Path) -> None:
    spec = json.loads(case.read_text(encoding="utf-8"))
    pods = tmp_path / "pods"
    pods.mkdir()
    for n, obj in enumerate(spec["objects"]):
        (pods / f"{obj['kind'].lower()}-{n}.json").write_text(json.dumps(obj))
    if spec["pod"] is not None:
        meta = spec["pod"]["metadata"]
        suffix = ".deleted.json" if spec["deleted"] else ".json"
        (pods / f"{meta['namespace']}_{meta['name']}{suffix}").write_text(json.dumps(spec["pod"]))
    log = tmp_path / spec["file"]
    log.write_text("".join(line + "\n" for line in spec["input"]), encoding="utf-8")
    outs = list(
        convert_lines(
            iter_inputs([log], io.BytesIO()),
            profile=build("filebeat", spec["options"]),
            lookup=load_inventory(pods),
        )
    )
    assert [o for o in outs if not isinstance(o, Output)] == []
    docs = [o.doc for o in outs if isinstance(o, Output)]
    assert docs == spec["expected"], spec["describe"]
    assert all(o.index == "filebeat-8.19.0" for o in outs if isinstance(o, Output))


def test_every_behaviour_has_a_case() -> None:
    names = {p.stem for p in CASES}
    assert {
        "plain_line",
        "json_body",
        "partial_lines",
        "empty_line",
        "stderr_utf8",
        "stack_trace",
        "labels_no_dedot",
        "tombstone_cronjob",
        "never_seen_embedded",
    } <= names
