"""Every document a real Vector 0.58 and a real Filebeat 9.3 sent, reproduced by
``logbridge convert``: action line and source.

The goldens (tests/golden/<collector>/real, README there) are facts: the collectors'
own pods, log files, configs and captured ``_bulk`` bodies, never edited by hand. The
options each case passes are the case config's keys, by the collector's own names.
One documented deviation (docs/profiles.md, "Deviations"): both collectors join a ``P`` fragment
with the next line of the *file*, whatever its stream; logbridge joins per stream.
Those documents are compared with the per-stream join instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.goldens import GOLDEN, convert_real, golden_pairs, strip_node_local

VECTOR: dict[str, dict[str, str]] = {
    "default": {},
    "options": {
        "bulk.action": "create",
        "exclude_paths_glob_patterns": "**/envoy/**",
        "extra_label_selector": "k8s-app!=kube-proxy",
        "pod_annotation_fields.pod_name": "k8s.pod",
        "pod_annotation_fields.pod_namespace": "k8s.namespace",
        "pod_annotation_fields.pod_labels": "k8s.labels",
        "pod_annotation_fields.pod_owner": "k8s.owner",
        "pod_annotation_fields.container_name": "k8s.container",
    },
}
_FB_COMMON = {
    "version": "9.3.0",
    "agent.name": "ip-10-42-7-19",  # the config's `name:`
    "orchestrator.cluster.name": "local",  # from the kubeconfig the run used (README)
    "orchestrator.cluster.url": "https://127.0.0.1:43735",
}
FILEBEAT: dict[str, dict[str, str]] = {
    "default": _FB_COMMON,
    "dedot_include": _FB_COMMON
    | {
        "labels.dedot": "false",
        "include_labels": (
            "team,app.kubernetes.io/component,statefulset.kubernetes.io/pod-name,example.com/ticket"
        ),
        "include_annotations": "checksum/config,example.com/owner,example.com/requested-by",
    },
    "resource_meta": _FB_COMMON
    | {
        "add_resource_metadata.deployment": "true",
        "add_resource_metadata.cronjob": "true",
        "add_resource_metadata.namespace.include_labels": "team,env",
        "add_resource_metadata.node.enabled": "false",
    },
}
# the collectors' cross-stream joins, and logbridge's per-stream joins of the same lines
CROSS_STREAM = {
    "out-frag-1|err-frag-1|out-frag-2": "out-frag-1|out-frag-2",
    "err-frag-2": "err-frag-1|err-frag-2",
}


def _message(source: bytes) -> Any:
    return json.loads(source).get("message")


@pytest.mark.parametrize("case", sorted(VECTOR))
def test_vector_documents_are_the_real_vectors(case: str, tmp_path: Path) -> None:
    want = golden_pairs(GOLDEN / "vector" / "real" / "cases" / case / "bulk.ndjson")
    got = convert_real("vector", "vector", VECTOR[case], tmp_path)
    ours = {CROSS_STREAM[m] for m in map(_message, (s for _, s in want)) if m in CROSS_STREAM}
    cross = [(a, s) for a, s in got if _message(s) in ours]
    assert sorted(_message(s) for _, s in cross) == sorted(ours)
    for _, s in cross:  # the per-stream join: first fragment's fields, `_partial` kept
        assert json.loads(s)["_partial"] is True, s
    want = [(a, s) for a, s in want if _message(s) not in CROSS_STREAM]
    got = [(a, s) for a, s in got if _message(s) not in ours]
    assert sorted(got) == sorted(want)  # byte for byte: action line and source


@pytest.mark.parametrize("case", sorted(FILEBEAT))
def test_filebeat_documents_are_the_real_filebeats(case: str, tmp_path: Path) -> None:
    want = golden_pairs(GOLDEN / "filebeat" / "real" / "cases" / case / "bulk.ndjson")
    got = convert_real("filebeat", "filebeat", FILEBEAT[case], tmp_path)
    for _, s in got:
        assert s.startswith(b'{"@timestamp":'), s[:40]  # Filebeat writes it first
    ours = {CROSS_STREAM[m] for m in map(_message, (s for _, s in want)) if m in CROSS_STREAM}
    assert sorted(m for m in map(_message, (s for _, s in got)) if m in ours) == sorted(ours)

    def norm(pairs: list[tuple[bytes, bytes]], skip: set[str]) -> list[str]:
        return sorted(
            json.dumps([json.loads(a), strip_node_local(json.loads(s))], sort_keys=True, ensure_ascii=False)
            for a, s in pairs
            if _message(s) not in skip
        )

    assert norm(got, ours) == norm(want, set(CROSS_STREAM))
