"""Locate the golden data (tests/golden, outputs of real collectors) and read Fluent Bit configs."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FLUENT_BIT = ROOT / "tests" / "golden" / "fluent-bit"  # from a real Fluent Bit 4.2.8 (README there)

# Fields of a Filebeat document that describe the node's file or the Filebeat process,
# not the log line: they cannot be the same for a virtual node (golden README), so
# comparisons with a real Filebeat leave out these, and only these.
FILEBEAT_NODE_LOCAL = (
    ("log", "offset"),
    ("log", "file", "inode"),
    ("log", "file", "device_id"),
    ("log", "file", "fingerprint"),
    ("agent", "id"),
    ("agent", "ephemeral_id"),
)


def strip_node_local(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without FILEBEAT_NODE_LOCAL (changed in place, and returned)."""
    for *parents, leaf in FILEBEAT_NODE_LOCAL:
        node: Any = doc
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return doc


_FB_KEYS = {
    "merge_log",
    "merge_log_key",
    "keep_log",
    "labels",
    "annotations",
    "owner_references",
    "merge_log_trim",
}


def fluent_bit_filter_options(conf: Path) -> dict[str, str]:
    """The kubernetes filter's options from a golden fluent-bit.conf."""
    opts: dict[str, str] = {}
    section = ""
    for raw in conf.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
            continue
        parts = re.split(r"\s+", line, maxsplit=1)
        if section == "[FILTER]" and len(parts) == 2 and parts[0].lower() in _FB_KEYS:
            opts[parts[0]] = parts[1]
    return opts


def hand_derived_documents(spec: dict[str, Any], profile: str, tmp: Path) -> list[dict[str, Any]]:
    """The documents of a hand-derived golden case (see ``hand_derived_outputs``)."""
    return [o.doc for o in hand_derived_outputs(spec, profile, tmp)]


def hand_derived_outputs(spec: dict[str, Any], profile: str, tmp: Path) -> list[Any]:
    """Run a hand-derived golden case (tests/golden/<profile>/*.json) through
    ``logbridge convert``'s code path: the pod (tombstoned when ``deleted``) and any
    Node / Namespace ``objects`` become a pod directory, the lines a kubelet-named file.
    Dead letters fail the case. The outputs carry document, index and id."""
    from logbridge.converting import convert_lines, iter_inputs
    from logbridge.profiles import build
    from logbridge.transforming import Output
    from vnbridge.podfiles import load_inventory

    pods = tmp / "pods"
    pods.mkdir()
    for n, obj in enumerate(spec.get("objects", [])):
        (pods / f"{obj['kind'].lower()}-{n}.json").write_text(json.dumps(obj))
    if spec["pod"] is not None:
        meta = spec["pod"]["metadata"]
        suffix = ".deleted.json" if spec["deleted"] else ".json"
        (pods / f"{meta['namespace']}_{meta['name']}{suffix}").write_text(json.dumps(spec["pod"]))
    log = tmp / spec["file"]
    log.write_text("".join(line + "\n" for line in spec["input"]), encoding="utf-8")
    outs = list(
        convert_lines(
            iter_inputs([log], io.BytesIO()),
            profile=build(profile, spec.get("options", {})),
            lookup=load_inventory(pods),
        )
    )
    letters = [o for o in outs if not isinstance(o, Output)]
    assert letters == [], letters
    return [o for o in outs if isinstance(o, Output)]


GOLDEN = ROOT / "tests" / "golden"


def bulk_pairs(
    profile: str, options: dict[str, str], logs: list[Path], pods: Path
) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """``logbridge convert --bulk`` over kubelet-named ``logs`` with the API objects in
    ``pods``: the (action line, source) pairs exactly as the Elasticsearch sink sends
    them, and the dead letters' reasons."""
    from logbridge.converting import convert_lines, iter_inputs, write_outputs
    from logbridge.profiles import build
    from vnbridge.podfiles import load_inventory

    out, err = io.BytesIO(), io.BytesIO()
    prof = build(profile, options)
    items = convert_lines(iter_inputs(logs, io.BytesIO()), profile=prof, lookup=load_inventory(pods))
    write_outputs(items, out=out, err=err, bulk=True, op=prof.bulk_action)
    lines = out.getvalue().splitlines()
    reasons = [json.loads(x)["reason"] for x in err.getvalue().splitlines()]
    return list(zip(lines[0::2], lines[1::2], strict=True)), reasons


def convert_real(
    collector: str, profile: str, options: dict[str, str], tmp: Path
) -> list[tuple[bytes, bytes]]:
    """The pairs logbridge writes for a real collector's golden inputs (tests/golden/<collector>/real)."""
    root = GOLDEN / collector / "real"
    pods = tmp / "pods"
    pods.mkdir()
    for f in [*(root / "pods").glob("*.json"), *(root / "objects").glob("*.json")]:
        shutil.copy(f, pods / f.name)
    pairs, reasons = bulk_pairs(profile, options, sorted((root / "logs").glob("*.log")), pods)
    # the one malformed line, dropped by both collectors ("Pattern failed to match" /
    # "Parse line error"), is a dead letter with its reason here
    assert reasons == ["bad_cri_line"], reasons
    return pairs


def golden_pairs(path: Path) -> list[tuple[bytes, bytes]]:
    """The (action line, source) pairs of a captured ``_bulk`` body."""
    lines = [x for x in path.read_bytes().split(b"\n") if x.strip()]  # Filebeat adds blank lines
    return list(zip(lines[0::2], lines[1::2], strict=True))
