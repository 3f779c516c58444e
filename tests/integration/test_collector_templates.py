"""A virtual pod's documents are mapped exactly as a standard pod's, under the
collector's own index setup.

vnbridge ships no index template: the DaemonSet collector's template (Filebeat's, with
its ECS mappings) or its default dynamic mapping (Fluent Bit's, Vector's) governs the
index or data stream both write. Here, on the real Elasticsearch, the documents a
*real* collector sent (tests/golden/<collector>/real, es/) and the documents logbridge
writes for the same lines and pods are bulk-loaded into two indices under the same
setup; both must come out with the same per-item outcome, the same mapping, the same
index settings, and the same answers to the queries dashboards run
(``kubernetes.labels.app`` for Filebeat, ``….keyword`` subfields for dynamic mapping).

Filebeat's template is exported by the real Filebeat built for the parity tests
(``filebeat export template``), unchanged except two things, both stated here: its
index pattern names this test's two data streams instead of ``filebeat-9.3.0``, and
``index.lifecycle.name`` is left out and the two field types the local Elasticsearch
lacks (``scaled_float``, ``constant_keyword``, on six ECS fields) become ``float`` /
``keyword``, because that Elasticsearch is the integ-test-zip, the only distribution
Maven Central serves, without the ILM, mapper-extras and constant-keyword modules. The
test checks no document carries any of those six fields.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.support.goldens import (
    FILEBEAT_NODE_LOCAL,
    FLUENT_BIT,
    GOLDEN,
    bulk_pairs,
    convert_real,
    golden_pairs,
    strip_node_local,
)
from tests.unit.test_golden_real import FILEBEAT, VECTOR

Pairs = list[tuple[bytes, bytes]]


def _export(filebeat: str, what: str, tmp: Path) -> dict[str, Any]:
    cfg = tmp / "filebeat.yml"
    cfg.write_text('filebeat.inputs: []\noutput.elasticsearch.hosts: ["127.0.0.1:9"]\n')
    os.chmod(cfg, 0o600)  # Filebeat refuses a config others may write
    argv = [filebeat, "export", what, "-c", str(cfg), "--path.home", str(tmp), "--path.data", str(tmp / "d")]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    exported: dict[str, Any] = json.loads(out.stdout)
    return exported


_MISSING_TYPES = {"scaled_float": ("float", "scaling_factor"), "constant_keyword": ("keyword", "value")}


def _for_this_es(mapping: dict[str, Any], path: str = "") -> list[str]:
    """Replace the field types this Elasticsearch lacks (docstring) in place; their paths."""
    changed = []
    for name, field in mapping.get("properties", {}).items():
        if (swap := _MISSING_TYPES.get(field.get("type", ""))) is not None:
            field["type"] = swap[0]
            field.pop(swap[1], None)
            changed.append(f"{path}{name}")
        changed += _for_this_es(field, f"{path}{name}.")
    return changed


def _doc_paths(doc: dict[str, Any], path: str = "") -> set[str]:
    out = set()
    for key, value in doc.items():
        out.add(f"{path}{key}")
        if isinstance(value, dict):
            out |= _doc_paths(value, f"{path}{key}.")
    return out


def _retarget(pairs: Pairs, prefix: str) -> Pairs:
    """The same pairs with each action's ``_index`` prefixed (the documents untouched)."""
    out = []
    for action, source in pairs:
        (op, meta), *_ = json.loads(action).items()
        out.append((json.dumps({op: {**meta, "_index": f"{prefix}-{meta['_index']}"}}).encode(), source))
    return out


def _load(es: str, pairs: Pairs) -> list[tuple[int, str]]:
    """Bulk-load the pairs; each item's (status, error type) in order."""
    body = b"".join(a + b"\n" + s + b"\n" for a, s in pairs)
    resp = httpx.post(
        f"{es}/_bulk?refresh=true",
        content=body,
        headers={"content-type": "application/x-ndjson"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text[:500]
    items = [next(iter(i.values())) for i in resp.json()["items"]]
    return [(i["status"], i.get("error", {}).get("type", "")) for i in items]


_VOLATILE = {"uuid", "creation_date", "provided_name", "version"}


def _setup(es: str, pattern: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(mappings, index settings less per-index identity) of the indices ``pattern``
    names, which must agree among themselves (one day's index per line date)."""
    maps = httpx.get(f"{es}/{pattern}/_mapping", timeout=30).json()
    sets = httpx.get(f"{es}/{pattern}/_settings", timeout=30).json()
    assert maps, f"no index matches {pattern}"
    found = {json.dumps(m["mappings"], sort_keys=True) for m in maps.values()}
    assert len(found) == 1, f"{pattern}: the day indices' mappings differ"
    settings = [
        {k: v for k, v in s["settings"]["index"].items() if k not in _VOLATILE} for s in sets.values()
    ]
    return json.loads(found.pop()), settings[0]


def _count(es: str, pattern: str, query: dict[str, Any]) -> int:
    resp = httpx.post(f"{es}/{pattern}/_count", json={"query": query}, timeout=30).json()
    return int(resp["count"])


def _leaves(mapping: dict[str, Any], path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in mapping.get("properties", {}).items():
        full = f"{path}{name}"
        if "properties" in field:
            out |= _leaves(field, f"{full}.")
        else:
            out[full] = field
    return out


def _ordered(pairs: Pairs) -> Pairs:
    return sorted(pairs, key=lambda p: json.dumps(strip_node_local(json.loads(p[1])), sort_keys=True))


def _clear(es: str, pattern: str) -> None:
    """Empty what ``pattern`` names: indices go; a data stream (which this Elasticsearch
    cannot delete: no data-streams REST module) rolls over to a fresh backing index and
    its old ones go. Fixed names plus this keep a reused stack from growing run by run."""
    found = httpx.get(f"{es}/_resolve/index/{pattern}?expand_wildcards=all", timeout=30).json()
    doomed = [i["name"] for i in found.get("indices", []) if "data_stream" not in i]
    for ds in found.get("data_streams", []):
        rolled = httpx.post(f"{es}/{ds['name']}/_rollover", timeout=30).json()
        doomed += [b for b in ds["backing_indices"] if b != rolled["new_index"]]
    for name in doomed:
        assert httpx.delete(f"{es}/{name}", timeout=30).status_code == 200, name


def _compare(
    es: str, standard: Pairs, virtual: Pairs, tag: str, node_local: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Load both, check they came out the same; the virtual side's mapping. Fields in
    ``node_local`` (a Filebeat's file and process, tests/support/goldens.py) may be mapped only
    for the collector's documents, which alone carry them."""
    # dynamic mapping is first come, first mapped: both sides load in one order
    std_at, vn_at = f"vnbridge-it-std-{tag}", f"vnbridge-it-vn-{tag}"
    _clear(es, f"{std_at}-*,{vn_at}-*")
    std, vn = _retarget(_ordered(standard), std_at), _retarget(_ordered(virtual), vn_at)
    assert {json.loads(a)["create" if b"create" in a else "index"]["_index"] for a, _ in standard} == {
        json.loads(a)["create" if b"create" in a else "index"]["_index"] for a, _ in virtual
    }, "logbridge writes where the collector writes"
    got_std, got_vn = _load(es, std), _load(es, vn)
    assert got_std == got_vn, "the same documents accepted and rejected"
    assert any(status < 300 for status, _ in got_vn)
    map_std, set_std = _setup(es, f"{std_at}-*")
    map_vn, set_vn = _setup(es, f"{vn_at}-*")
    lv, ls = _leaves(map_vn), _leaves(map_std)
    differ = {k: (ls.get(k), lv.get(k)) for k in sorted(set(lv) | set(ls)) if lv.get(k) != ls.get(k)}
    if any(k not in node_local or ours is not None for k, (_, ours) in differ.items()):
        raise AssertionError(f"mapped unlike the collector's documents (collector's, ours): {differ}")
    assert set_vn == set_std, "under the same index settings"
    return map_vn


def test_filebeat_template_maps_virtual_pods_like_standard_ones(
    stack: Stack, filebeat_binary: str, tmp_path: Path
) -> None:
    template = _export(filebeat_binary, "template", tmp_path)
    policy = _export(filebeat_binary, "ilm-policy", tmp_path)
    assert "hot" in policy["policy"]["phases"]  # what `filebeat setup` installs beside it
    assert template["index_patterns"] == ["filebeat-9.3.0"] and "data_stream" in template
    settings = template["template"]["settings"]["index"]
    assert settings.pop("lifecycle") == {"name": "filebeat"}  # no ILM module here (docstring)
    changed = _for_this_es(template["template"]["mappings"])
    assert len(changed) == 6, changed
    template["index_patterns"] = ["vnbridge-it-std-*-filebeat-9.3.0", "vnbridge-it-vn-*-filebeat-9.3.0"]
    es = stack.es_url
    name = "vnbridge-it-filebeat-9.3.0"
    put = httpx.put(f"{es}/_index_template/{name}", json=template, timeout=30)
    assert put.status_code == 200, put.text[:1000]
    try:
        for case in sorted(FILEBEAT):
            tmp = tmp_path / case
            tmp.mkdir()
            standard = golden_pairs(GOLDEN / "filebeat" / "real" / "cases" / case / "bulk.ndjson")
            virtual = convert_real("filebeat", "filebeat", FILEBEAT[case], tmp)
            for _, source in standard + virtual:
                assert not _doc_paths(json.loads(source)) & set(changed)
            local = frozenset(".".join(p) for p in FILEBEAT_NODE_LOCAL)
            tag = case.replace("_", "")
            mapping = _compare(es, standard, virtual, tag, local)
            leaves = _leaves(mapping)
            assert leaves["kubernetes.pod.ip"] == {"type": "ip"}  # the ECS mapping, not a guess
            labels = {k: v for k, v in leaves.items() if k.startswith("kubernetes.labels.") and k[-1] != "*"}
            assert labels and all(v == {"type": "keyword"} for v in labels.values()), labels
            pods = f"vnbridge-it-*-{tag}-filebeat-9.3.0"
            resolved = httpx.get(f"{es}/_resolve/index/{pods}", timeout=30).json()
            assert len(resolved["data_streams"]) == 2, resolved  # both write a data stream
            term = {"exists": {"field": "kubernetes.labels"}}
            std, vn = (pods.replace("*", side) for side in ("std", "vn"))
            assert _count(es, std, term) == _count(es, vn, term) > 0
            _clear(es, pods)
    finally:
        httpx.delete(f"{es}/_index_template/{name}", timeout=30)


@pytest.mark.parametrize("case", sorted(p.name for p in (FLUENT_BIT / "es").iterdir() if p.is_dir()))
def test_fluent_bit_dynamic_mapping_is_the_same(stack: Stack, case: str, tmp_path: Path) -> None:
    """No template, as a Fluent Bit DaemonSet writes by default (``logstash-*``, dynamic
    mapping): strings get ``.keyword`` subfields, and a pod with both ``app`` and
    ``app.kubernetes.io/name`` labels is rejected for logbridge exactly as for Fluent Bit
    (Replace_Dots On is the fix for both)."""
    opts = {"multiline.parser": "cri", "Output": "es", "Logstash_Format": "On"}
    for line in (FLUENT_BIT / "es" / case / "options.txt").read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            opts[key.strip()] = value.strip()
    standard = golden_pairs(FLUENT_BIT / "es" / case / "bulk.ndjson")
    virtual, reasons = bulk_pairs(
        "fluent-bit", opts, sorted((FLUENT_BIT / "input" / "cri").glob("*.log")), FLUENT_BIT / "pods"
    )
    assert reasons == []
    tag = f"fluent-bit-{case}"
    mapping = _compare(stack.es_url, standard, virtual, tag)
    _clear(stack.es_url, f"vnbridge-it-*-{tag}-*")
    leaves = _leaves(mapping)
    assert leaves["kubernetes.pod_name"]["fields"]["keyword"]["type"] == "keyword"


@pytest.mark.parametrize("case", sorted(VECTOR))
def test_vector_dynamic_mapping_is_the_same(stack: Stack, case: str, tmp_path: Path) -> None:
    standard = golden_pairs(GOLDEN / "vector" / "real" / "cases" / case / "bulk.ndjson")
    virtual = convert_real("vector", "vector", VECTOR[case], tmp_path)
    cross = {b"out-frag-1", b"err-frag", b"out-frag-2"}  # the documented per-stream join deviation
    standard = [(a, s) for a, s in standard if not any(c in s for c in cross)]
    virtual = [(a, s) for a, s in virtual if not any(c in s for c in cross)]
    tag = f"vector-{case}"
    mapping = _compare(stack.es_url, standard, virtual, tag)
    _clear(stack.es_url, f"vnbridge-it-*-{tag}-*")
    assert any(k.endswith(".keyword") or "fields" in v for k, v in _leaves(mapping).items())
