"""The pods and CRI files of the Filebeat differential test, generated from a seed.

Why: parity is tried on inputs nobody wrote by hand. A seeded generator makes the
objects a platform has (owners up to Deployment and CronJob, dotted labels that
collide when not dedotted, annotations, init containers, node and namespace labels)
and the lines its containers write (plain, JSON, spoofing bodies, stderr, UTF-8,
partial runs, empty, whitespace, CRLF, long, malformed, several time formats). The
objects go into the real kube-apiserver; the files are laid out as on a node
(``pods/<ns>_<pod>_<uid>/<container>/0.log``, symlinked from ``containers/``).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from simulator.running import kube

CONFLICT = 409
NOT_FOUND = 404
WORDS = [
    "request",
    "served",
    "cache",
    "miss",
    "retry",
    "upstream",
    "token",
    "queue",
    "flushed",
    "order",
    "shipped",
    "ok",
    "warn",
]
UNICODE = ["café ☕", "日志 行", "emoji 🚀 ok", "ümlaut Ärger", "тест"]


@dataclass
class Container:
    name: str
    image: str  # the status image (docker.io/library/...); the spec has the short name
    init: bool = False
    canary: bool = False  # written to while Filebeat starts, never compared
    id: str = ""


@dataclass
class Pod:
    namespace: str
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    containers: list[Container]
    owner: tuple[str, str] | None  # (kind, name)
    ip: str
    uid: str = ""
    lines: dict[str, list[str]] = field(default_factory=dict)  # container -> CRI lines


@dataclass
class World:
    node: str
    hostname: str
    namespaces: dict[str, dict[str, dict[str, str]]]  # name -> {labels, annotations}
    pods: list[Pod]
    owners: list[tuple[str, str, str, tuple[str, str] | None]]  # (kind, ns, name, its owner)


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def build(seed: int, prefix: str) -> World:
    """The objects (pure: no I/O); uids and the lines come later."""
    rng = random.Random(seed)
    a, b = f"{prefix}shop", f"{prefix}etl"
    namespaces = {
        a: {
            "labels": {"team": "payments", "env": "prod", "example.com/tier": "gold"},
            "annotations": {"owner": "a"},
        },
        b: {
            "labels": {"team": "data", "env": "dev"},
            "annotations": {"example.com/contact": "data@example.com"},
        },
    }
    h = _hex(rng, 10)
    web = f"web-{h[:10]}"
    job = f"ingest-{rng.randrange(29_000_000, 29_999_999)}"
    pods = [
        Pod(
            a,
            f"{web}-{_hex(rng, 5)}",
            {
                "app": "web",
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/component": "api",
                "team": "payments",
                "pod-template-hash": h,
            },
            {
                "checksum/config": _hex(rng, 16),
                "example.com/owner": "alice",
                "kubectl.kubernetes.io/restartedAt": "x",
            },
            [
                Container("app", "docker.io/library/nginx:1.27"),
                Container("envoy", "docker.io/envoyproxy/envoy:v1.31"),
                Container("canary", "docker.io/library/busybox:1.36", canary=True),
            ],
            ("ReplicaSet", web),
            f"10.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}",
        ),
        Pod(
            b,
            f"{job}-{_hex(rng, 5)}",
            {
                "batch.kubernetes.io/job-name": job,
                "job-name": job,
                "app": "ingest",
                "example.com/ticket": "OPS-1",
            },
            {"example.com/requested-by": "cron"},
            [
                Container("migrate", "docker.io/library/busybox:1.36", init=True),
                Container("ingest", "ghcr.io/x/ingest:2"),
                Container("canary", "docker.io/library/busybox:1.36", canary=True),
            ],
            ("Job", job),
            f"10.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}",
        ),
        Pod(
            a,
            "es-proxy-0",
            {
                "app.kubernetes.io/name": "es-proxy",
                "statefulset.kubernetes.io/pod-name": "es-proxy-0",
                "tier": "db",
            },
            {},
            [Container("haproxy", "docker.io/library/haproxy:3.0")],
            ("StatefulSet", "es-proxy"),
            f"10.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}",
        ),
        Pod(
            b,
            f"agent-{_hex(rng, 5)}",
            {"k8s-app": "agent", "app": "agent"},
            {"example.com/owner": "sre"},
            [Container("agent", "docker.io/library/alpine:3.20")],
            ("DaemonSet", "agent"),
            f"10.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}",
        ),
        Pod(b, "debug-shell", {}, {}, [Container("shell", "docker.io/library/alpine:3.20")], None, ""),
    ]
    for pod in pods:
        for c in pod.containers:
            c.id = _hex(rng, 64)
    owners: list[tuple[str, str, str, tuple[str, str] | None]] = [
        ("Deployment", a, "web", None),
        ("ReplicaSet", a, web, ("Deployment", "web")),
        ("CronJob", b, "ingest", None),
        ("Job", b, job, ("CronJob", "ingest")),
        ("StatefulSet", a, "es-proxy", None),
        ("DaemonSet", b, "agent", None),
    ]
    node = f"{prefix}node"
    return World(node, f"ip-{prefix.strip('-')}", namespaces, pods, owners)


def _time(rng: random.Random, t: datetime) -> str:
    """RFC 3339 as runtimes write it: 9, 6, 3 or no fraction digits, Z or an offset."""
    kind = rng.random()
    if kind < 0.7:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}{rng.randrange(1000):03d}Z"
    if kind < 0.8:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if kind < 0.9:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    off = timedelta(hours=5, minutes=30)
    return (t + off).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+05:30"


def _body(rng: random.Random) -> str:
    kind = rng.randrange(12)
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 12)))
    return [
        words,
        f'{{"level":"info","msg":"{words}","n":{rng.randrange(10**6)}}}',
        '{"kubernetes":{"pod":{"name":"spoofed"}},"@timestamp":"1999-01-01T00:00:00Z","message":"spoof","stream":"x"}',
        rng.choice(UNICODE) + " " + words,
        "",
        "   ",
        f"\t{words}\t ",
        f"{words}\r",
        "x" * rng.randrange(17_000, 40_000),
        f"DEBUG {words}",
        f"ERROR {words}",
        f'{{"log":"nested","time":"{rng.randrange(10**9)}"}}',
    ][kind]


def lines(rng: random.Random, t: datetime, n: int) -> list[str]:
    """About ``n`` CRI lines: single lines, partial runs within one stream, malformed ones."""
    out: list[str] = []
    while len(out) < n:
        t += timedelta(microseconds=rng.randrange(1, 90_000_000))
        stream = "stderr" if rng.random() < 0.3 else "stdout"
        r = rng.random()
        if r < 0.12:  # a partial run: P…P F, contiguous in its stream
            parts = [rng.choice(WORDS) * rng.randrange(1, 4) for _ in range(rng.randrange(2, 5))]
            if rng.random() < 0.2:
                parts[0] = "p" * 16_384
            for i, p in enumerate(parts):
                tag = "F" if i == len(parts) - 1 else "P"
                out.append(f"{_time(rng, t + timedelta(microseconds=i))} {stream} {tag} {p}")
        elif r < 0.14:
            out.append(rng.choice(["not a cri line", f"{_time(rng, t)} stdout", "garbage\tline"]))
        else:
            out.append(f"{_time(rng, t)} {stream} F {_body(rng)}")
    return out


def fill_lines(world: World, seed: int, per_container: int) -> int:
    """Give every container its lines (spanning a midnight, for date-based index names)."""
    rng = random.Random(seed + 1)
    t = datetime(2025, 3, 14, 23, 0, tzinfo=UTC) + timedelta(seconds=rng.randrange(3600))
    total = 0
    for pod in world.pods:
        for c in pod.containers:
            if c.canary:
                continue
            pod.lines[c.name] = lines(rng, t, per_container)
            total += len(pod.lines[c.name])
    return total


def log_name(pod: Pod, c: Container) -> str:
    return f"{pod.name}_{pod.namespace}_{c.name}-{c.id}.log"


def write_files(world: World, root: Path) -> list[tuple[Path, Path]]:
    """The pod log files; returns (``containers/`` link, relative target) pairs, not yet
    linked (relative: the tree is seen at /var/log by Filebeat, elsewhere by logbridge).
    Canary files start empty and are linked at once."""
    (root / "containers").mkdir(parents=True, exist_ok=True)
    pairs = []
    for pod in world.pods:
        for c in pod.containers:
            if c.canary:
                f = root / "pods" / f"{pod.namespace}_{pod.name}_{pod.uid}" / c.name / "0.log"
                f.parent.mkdir(parents=True, exist_ok=True)
                f.touch()
                (root / "containers" / log_name(pod, c)).symlink_to(
                    Path(os.path.relpath(f, root / "containers"))
                )
                continue
            f = root / "pods" / f"{pod.namespace}_{pod.name}_{pod.uid}" / c.name / "0.log"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes("".join(x + "\n" for x in pod.lines[c.name]).encode())
            pairs.append(
                (root / "containers" / log_name(pod, c), Path(os.path.relpath(f, root / "containers")))
            )
    return pairs


# --- the API -------------------------------------------------------------------------


def _create(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ApiException as exc:
        if exc.status != CONFLICT:
            raise
        return None


def _owner_spec(kind: str, name: str) -> dict[str, Any]:
    sel = {"matchLabels": {"owner": name}}
    tmpl = {
        "metadata": {"labels": {"owner": name}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    if kind == "CronJob":
        job = {"template": {**tmpl, "spec": {**tmpl["spec"], "restartPolicy": "Never"}}}
        return {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job}}
    if kind == "Job":
        return {
            "template": {**tmpl, "spec": {**tmpl["spec"], "restartPolicy": "Never"}},
            "manualSelector": True,
            "selector": sel,
        }
    spec: dict[str, Any] = {"selector": sel, "template": tmpl}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return spec


def create(world: World, kubeconfig: str) -> None:
    """Node, namespaces, owners (uids chained), pods with Running status."""
    v1 = kube(kubeconfig)
    apps, batch = client.AppsV1Api(v1.api_client), client.BatchV1Api(v1.api_client)
    node = {
        "metadata": {
            "name": world.node,
            "labels": {
                "kubernetes.io/hostname": world.hostname,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": "eu-west-1b",
                "node.kubernetes.io/instance-type": "m6i.xlarge",
                "pool": "general",
            },
            "annotations": {"example.com/rack": "r7"},
        }
    }
    _create(v1.create_node, node)
    addresses = [
        {"type": "Hostname", "address": world.hostname},
        {"type": "InternalIP", "address": "10.0.0.7"},
    ]
    v1.patch_node_status(world.node, {"status": {"addresses": addresses}})
    for ns, meta in world.namespaces.items():
        _create(v1.create_namespace, {"metadata": {"name": ns, **meta}})
    uids: dict[tuple[str, str, str], str] = {}
    creators = {
        "Deployment": apps.create_namespaced_deployment,
        "ReplicaSet": apps.create_namespaced_replica_set,
        "StatefulSet": apps.create_namespaced_stateful_set,
        "DaemonSet": apps.create_namespaced_daemon_set,
        "Job": batch.create_namespaced_job,
        "CronJob": batch.create_namespaced_cron_job,
    }
    for kind, ns, name, parent in world.owners:
        meta: dict[str, Any] = {"name": name, "namespace": ns}
        if parent:
            meta["ownerReferences"] = [_ref(parent, uids[(parent[0], ns, parent[1])])]
        obj = creators[kind](ns, {"metadata": meta, "spec": _owner_spec(kind, name)})
        uids[(kind, ns, name)] = obj.metadata.uid
    for pod in world.pods:
        meta = {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": pod.labels,
            "annotations": pod.annotations,
        }
        if pod.owner:
            meta["ownerReferences"] = [_ref(pod.owner, uids[(pod.owner[0], pod.namespace, pod.owner[1])])]
        spec = {
            "nodeName": world.node,
            "initContainers": [_spec(c) for c in pod.containers if c.init],
            "containers": [_spec(c) for c in pod.containers if not c.init],
        }
        created = v1.create_namespaced_pod(pod.namespace, {"metadata": meta, "spec": spec})
        pod.uid = created.metadata.uid
        status: dict[str, Any] = {
            "phase": "Running",
            "hostIP": "10.0.0.7",
            "initContainerStatuses": [_status(c) for c in pod.containers if c.init],
            "containerStatuses": [_status(c) for c in pod.containers if not c.init],
        }
        if pod.ip:
            status |= {"podIP": pod.ip, "podIPs": [{"ip": pod.ip}]}
        v1.patch_namespaced_pod_status(pod.name, pod.namespace, {"status": status})


def _ref(owner: tuple[str, str], uid: str) -> dict[str, Any]:
    api = "batch/v1" if owner[0] in ("Job", "CronJob") else "apps/v1"
    return {"apiVersion": api, "kind": owner[0], "name": owner[1], "uid": uid, "controller": True}


def _spec(c: Container) -> dict[str, Any]:
    return {"name": c.name, "image": c.image.rsplit("/", 1)[-1]}


def _status(c: Container) -> dict[str, Any]:
    state = {"terminated": {"exitCode": 0}} if c.init else {"running": {"startedAt": "2025-03-14T22:00:00Z"}}
    return {
        "name": c.name,
        "image": c.image,
        "imageID": f"{c.image}@sha256:{'0' * 64}",
        "containerID": f"containerd://{c.id}",
        "ready": not c.init,
        "restartCount": 0,
        "state": state,
    }


def snapshot(world: World, *, kubectl: str, kubeconfig: str) -> list[dict[str, Any]]:
    """Every object as the API serves it (what logbridge's ``--pods`` reads)."""
    env = {**os.environ, "KUBECONFIG": kubeconfig}

    def get(*args: str) -> list[dict[str, Any]]:
        out = subprocess.run([kubectl, "get", *args, "-o", "json"], check=True, capture_output=True, env=env)
        doc: dict[str, Any] = json.loads(out.stdout)
        return list(doc["items"]) if doc.get("kind") == "List" else [doc]

    objects = get("node", world.node)
    for ns in world.namespaces:
        objects += get("namespace", ns) + get("-n", ns, "pods,replicasets,jobs")
    return objects


def delete(world: World, kubeconfig: str) -> None:
    """Pods, namespaces and the node: they outlive a run otherwise (nothing else deletes them)."""
    v1 = kube(kubeconfig)
    for ns in world.namespaces:
        try:  # no controller manager here: the namespace's pods must go by hand
            v1.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
            v1.delete_namespace(ns)
        except ApiException as exc:
            if exc.status != NOT_FOUND:
                raise
    try:
        v1.delete_node(world.node)
    except ApiException as exc:
        if exc.status != NOT_FOUND:
            raise
