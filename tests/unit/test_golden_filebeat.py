"""The filebeat profile against golden cases hand-derived from Beats' source
(tests/golden/filebeat/README.md cites the file each rule comes from)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logbridge.profiles import build
from tests.support.goldens import hand_derived_documents
from tests.support.lines import Line, encode_line

CASES = sorted((Path(__file__).resolve().parents[1] / "golden" / "filebeat").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_filebeat_golden(case: Path, tmp_path: Path) -> None:
    spec = json.loads(case.read_text(encoding="utf-8"))
    docs = hand_derived_documents(spec, "filebeat", tmp_path)
    assert docs == spec["expected"], spec["describe"]


def test_documents_go_to_the_versioned_data_stream() -> None:
    line = Line(0, "", "stdout", "x", False, "ns", "pod", "c", "")
    enc = encode_line(build("filebeat", {"version": "8.15.3"}), line)
    assert enc.index == "filebeat-8.15.3" and enc.doc["agent"]["version"] == "8.15.3"


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
