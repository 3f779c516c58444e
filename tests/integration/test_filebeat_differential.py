"""A real Filebeat and ``logbridge convert --profile filebeat`` write the same documents.

Filebeat (built from the Go module proxy by deploy/local/build-filebeat.sh) tails
generated CRI files laid out as on a node, enriched by ``add_kubernetes_metadata``
from the real kube-apiserver, and sends to a loopback capture server; logbridge
converts the same files with the same API objects and the same options by its own
keys. Documents are compared action line and source, per option set.

Left out of the comparison, and only these (``FILEBEAT_NODE_LOCAL`` in tests/support/goldens.py):
the byte offset and identity of the file on the node (``log.offset``, ``log.file.inode``
/ ``device_id`` / ``fingerprint``) and the Filebeat process' ids (``agent.id``,
``agent.ephemeral_id``). Each Filebeat sees the test's tree at /var/log (a mount
namespace of its own), so ``log.file.path`` is the node's real path, compared as is.
Lines are joined per stream (no ``P`` run is interleaved with the other stream here:
Filebeat's cross-stream join is the documented deviation, see the README).

The seed is fixed so a failure reproduces; ``VNBRIDGE_DIFF_SEED`` tries another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from logbridge.profiles.importing import import_config
from tests.integration import fbworld
from tests.integration.conftest import Stack
from tests.integration.fbrun import VERSION, Capture, capture_server, filebeat_yml, on_node
from tests.support.goldens import strip_node_local
from tests.support.helpers import ROOT, eventually, spawned

PREFIX = f"it-fb{int(time.time()) % 1_000_000}-"
SEED = int(os.environ.get("VNBRIDGE_DIFF_SEED", "20251031"))
LINES_PER_CONTAINER = 40  # 7 containers: ~280 generated lines, every set reads them all
EVERY_SET = ("version", "agent.name", "orchestrator.cluster.name", "orchestrator.cluster.url")
INDEX = "vnb-%{[kubernetes.namespace]}-%{[agent.version]}-%{+yyyy.MM.dd}"


@dataclass(frozen=True)
class OptionSet:
    """One platform's config: Filebeat's YAML, and the same by logbridge's profile keys."""

    name: str
    kubernetes: dict[str, Any] = field(default_factory=dict)  # add_kubernetes_metadata
    input: dict[str, Any] = field(default_factory=dict)  # the filestream input
    processors: list[dict[str, Any]] = field(default_factory=list)  # after add_kubernetes_metadata
    output: dict[str, Any] = field(default_factory=dict)  # output.elasticsearch
    logbridge: dict[str, Any] = field(default_factory=dict)


EXACT = [
    "app",
    "app.kubernetes.io/component",
    "team",
    "statefulset.kubernetes.io/pod-name",
    "example.com/ticket",
]
DROPS = [  # on the pod's fields, on the line's, and both under one or
    {
        "and": [
            {"equals": {"kubernetes.container.name": "envoy"}},
            {"has_fields": ["kubernetes.replicaset.name"]},
        ]
    },
    {"or": [{"regexp": {"message": "^(DEBUG|ERROR) "}}, {"equals": {"stream": "stderr"}}]},
    {"or": [{"contains": {"kubernetes.labels.app": "agen"}}, {"not": {"has_fields": ["message"]}}]},
]
SETS = [
    OptionSet("default"),
    OptionSet(
        "exact_keys_no_dedot",
        kubernetes={
            "labels.dedot": False,
            "annotations.dedot": False,
            "include_labels": EXACT,
            "exclude_labels": ["team"],
            "include_annotations": ["checksum/config", "example.com/owner"],
        },
        logbridge={
            "labels.dedot": "false",
            "annotations.dedot": "false",
            "include_labels": ",".join(EXACT),
            "exclude_labels": "team",
            "include_annotations": "checksum/config,example.com/owner",
        },
    ),
    OptionSet(
        "regex_include",
        kubernetes={
            "use_regex_include": True,
            "include_labels": ["^app", "tier$"],
            "include_annotations": ["^example"],
        },
        logbridge={
            "use_regex_include": "true",
            "include_labels": "^app,tier$",
            "include_annotations": "^example",
        },
    ),
    OptionSet(
        "resource_metadata",
        kubernetes={
            "add_resource_metadata": {
                "deployment": True,
                "cronjob": True,
                "namespace": {"include_labels": ["team", "example.com/tier"], "labels.dedot": False},
                "node": {
                    "include_labels": ["pool", "topology.kubernetes.io/zone"],
                    "exclude_labels": ["pool"],
                },
            }
        },
        logbridge={
            "add_resource_metadata.deployment": "true",
            "add_resource_metadata.cronjob": "true",
            "add_resource_metadata.namespace.include_labels": "team,example.com/tier",
            "add_resource_metadata.namespace.labels.dedot": "false",
            "add_resource_metadata.node.include_labels": "pool,topology.kubernetes.io/zone",
            "add_resource_metadata.node.exclude_labels": "pool",
        },
    ),
    OptionSet(
        "routing_fields",
        kubernetes={"add_resource_metadata": {"node": {"enabled": False}, "namespace": {"enabled": False}}},
        input={"fields": {"env": "staging", "team": {"name": "data"}}, "exclude_lines": ["^DEBUG"]},
        processors=[{"add_fields": {"target": "project", "fields": {"id": 42, "name": "vnb"}}}],
        output={"index": INDEX},
        logbridge={
            "add_resource_metadata.node.enabled": "false",
            "add_resource_metadata.namespace.enabled": "false",
            "fields": {"env": "staging", "team": {"name": "data"}},
            "exclude_lines": ["^DEBUG"],
            "add_fields": [{"target": "project", "fields": {"id": 42, "name": "vnb"}}],
            "index": INDEX,
        },
    ),
    OptionSet(
        "drop_event",
        processors=[{"drop_event": {"when": w}} for w in DROPS],
        logbridge={"drop_event": [{"when": w} for w in DROPS]},
    ),
    OptionSet(
        "include_lines_under_root",
        input={"include_lines": ["^ERROR", "^\\{"], "fields": {"tier": "gold"}, "fields_under_root": True},
        processors=[{"add_fields": {"target": "", "fields": {"cluster_alias": "eu-1"}}}],
        logbridge={
            "include_lines": ["^ERROR", "^\\{"],
            "fields": {"tier": "gold"},
            "fields_under_root": "true",
            "add_fields": [{"target": "", "fields": {"cluster_alias": "eu-1"}}],
        },
    ),
]


@pytest.fixture(scope="module")
def filebeat(filebeat_binary: str) -> str:
    ns = subprocess.run(["unshare", "--map-root-user", "--mount", "true"], capture_output=True, text=True)
    if ns.returncode != 0:
        why = "user + mount namespaces are needed to show Filebeat the files at /var/log"
        pytest.fail(f"{why} (sysctl user.max_user_namespaces > 0): {ns.stderr.strip()}", pytrace=False)
    return filebeat_binary


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[fbworld.World, Path]]:
    w = fbworld.build(SEED, PREFIX)
    total = fbworld.fill_lines(w, SEED, LINES_PER_CONTAINER)
    assert total >= 200
    fbworld.create(w, str(stack.kubeconfig))
    pods = tmp_path_factory.mktemp("fb-pods")
    for i, obj in enumerate(
        fbworld.snapshot(w, kubectl=stack.env["KUBECTL"], kubeconfig=str(stack.kubeconfig))
    ):
        (pods / f"{i:03}-{obj['kind']}.json").write_text(json.dumps(obj))
    try:
        yield w, pods
    finally:
        fbworld.delete(w, str(stack.kubeconfig))


def _cluster(stack: Stack) -> dict[str, str]:
    """Filebeat names the cluster from the kubeconfig it was given (its current context)."""
    kc = yaml.safe_load(stack.kubeconfig.read_text())
    ctx = next(c for c in kc["contexts"] if c["name"] == kc["current-context"])["context"]
    server = next(c for c in kc["clusters"] if c["name"] == ctx["cluster"])["cluster"]["server"]
    return {"orchestrator.cluster.name": ctx["cluster"], "orchestrator.cluster.url": server}


def _logbridge(s: OptionSet, w: fbworld.World, pods: Path, files: list[Path], tmp: Path, stack: Stack) -> Any:
    options = {"version": VERSION, "agent.name": w.hostname, **_cluster(stack), **s.logbridge}
    assert set(options) - set(s.logbridge) == set(EVERY_SET)
    cfg = tmp / f"logbridge-{s.name}.yaml"
    cfg.write_text(yaml.safe_dump({"profile": {"name": "filebeat", "options": options}}, allow_unicode=True))
    argv = [sys.executable, "-m", "logbridge", "convert", "-c", str(cfg), "--pods", str(pods), "--bulk"]
    out = subprocess.run([*argv, *map(str, files)], capture_output=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    letters = [json.loads(x) for x in out.stderr.splitlines() if x.startswith(b"{")]
    assert {d["reason"] for d in letters} <= {"bad_cri_line"}, letters[:5]
    lines = out.stdout.splitlines()
    return list(zip(lines[0::2], lines[1::2], strict=True))


def _normal(pair: tuple[bytes, bytes]) -> str:
    action, source = json.loads(pair[0]), strip_node_local(json.loads(pair[1]))
    return json.dumps([action, source], sort_keys=True, ensure_ascii=False)


def _synced(s: OptionSet, docs: list[dict[str, Any]]) -> bool:
    """Both canaries (the ReplicaSet's pod, the Job's pod) came back with all the
    metadata this set asks for: the pod, node, namespace, ReplicaSet and Job watchers
    have synced."""
    meta = s.kubernetes.get("add_resource_metadata", {})

    def full(k: dict[str, Any]) -> bool:
        return (
            "pod" in k
            and ("uid" in k.get("node", {}) or not meta.get("node", {}).get("enabled", True))
            and ("namespace_uid" in k or not meta.get("namespace", {}).get("enabled", True))
            and ("deployment" in k or "replicaset" not in k or not meta.get("deployment"))
            and ("cronjob" in k or "job" not in k or not meta.get("cronjob"))
        )

    kinds = [d.get("kubernetes", {}) for d in docs]
    return {"replicaset" if "replicaset" in k else "job" for k in kinds if full(k)} == {"replicaset", "job"}


def test_filebeat_and_logbridge_write_the_same_documents(
    stack: Stack, filebeat: str, world: tuple[fbworld.World, Path], tmp_path: Path
) -> None:
    w, pods = world
    root = tmp_path / "node"
    links = fbworld.write_files(w, root)
    containers = root / "containers"
    canaries = sorted(containers.glob("*_canary-*.log"))
    with ExitStack() as stack_:
        captures: dict[str, Capture] = {}
        for s in SETS:
            cap = captures[s.name] = stack_.enter_context(capture_server())
            home = tmp_path / f"fb-{s.name}"
            home.mkdir()
            (home / "filebeat.yml").write_text(
                filebeat_yml(
                    name=w.hostname,
                    node=w.node,
                    kubeconfig=stack.kubeconfig,
                    output=cap.url,
                    kubernetes=s.kubernetes,
                    input_options=s.input,
                    processors=s.processors,
                    output_options=s.output,
                )
            )
            argv = [filebeat, "-e", "--strict.perms=false", "-c", str(home / "filebeat.yml")]
            argv += ["--path.home", str(home), "--path.data", str(home / "data")]
            stack_.enter_context(spawned(on_node(argv, var_log=root), log=home / "filebeat.log"))

        def canaries_back() -> bool:
            n = int(time.time() * 1000)
            for c in canaries:
                with c.open("a") as f:
                    f.write(f'2025-03-14T23:59:59.000000000Z stdout F {{"canary":{n}}}\n')
            return all(_synced(s, _canary_docs(captures[s.name])) for s in SETS)

        try:
            eventually(canaries_back, timeout=120, interval=1.0, what="Filebeat's watchers to sync")
        except AssertionError:
            seen = {
                s.name: [sorted(d.get("kubernetes", {})) for d in _canary_docs(captures[s.name])[-2:]]
                for s in SETS
            }
            raise AssertionError(
                f"no canary line came back with full metadata; the last ones: {seen}"
            ) from None
        for name, target in links:
            name.symlink_to(target)
        files = [name for name, _ in links]
        expected = {s.name: _logbridge(s, w, pods, files, tmp_path, stack) for s in SETS}
        for s in SETS:
            want = len(expected[s.name])
            eventually(
                lambda s=s, want=want: len(_documents(captures[s.name])) >= want,
                timeout=120,
                what=f"{want} documents from Filebeat ({s.name})",
            )
        for s in SETS:  # what `logbridge profiles import filebeat.yml` reads is what this test passes
            imported = import_config(tmp_path / f"fb-{s.name}" / "filebeat.yml")
            assert imported.unsupported == [], imported.unsupported
            got = {k: v for k, v in imported.options.items() if k not in ("agent.name", "input.type")}
            assert _loose(got) == _loose(s.logbridge), s.name
            assert imported.options["agent.name"] == w.hostname
        report = []
        for s in SETS:
            got = sorted(_normal(p) for p in _documents(captures[s.name]))
            want_docs = sorted(_normal(p) for p in expected[s.name])
            assert len(want_docs) >= 1
            only_fb = sorted((Counter(got) - Counter(want_docs)).elements())
            only_lb = sorted((Counter(want_docs) - Counter(got)).elements())
            if got != want_docs:
                report.append(
                    f"[{s.name}] {len(got)} Filebeat / {len(want_docs)} logbridge documents; "
                    f"first only in Filebeat: {only_fb[:1]}; first only in logbridge: {only_lb[:1]}"
                )
        assert not report, f"seed {SEED}:\n" + "\n".join(report)


def _loose(options: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v).lower() if isinstance(v, str | bool) else v for k, v in options.items()}


def _canary_docs(cap: Capture) -> list[dict[str, Any]]:
    return [json.loads(s) for _, s in cap.pairs() if b"_canary-" in s]


def _documents(cap: Capture) -> list[tuple[bytes, bytes]]:
    return [(a, s) for a, s in cap.pairs() if b"_canary-" not in s]
