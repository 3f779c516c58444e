"""The simulated cluster as plain values: nodes, pods, their log lines and metrics.

Why: the demo and the tests need standard and virtual-node pods that look like a
real cluster's (owner chains, containerStatuses, loopback pod IPs), generated the
same way for a given seed, before any I/O happens.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

VIRTUAL_NODE_LABELS = {"node.kubernetes.io/instance-type": "eklet", "type": "virtual-kubelet"}
VIRTUAL_TAINT = {"key": "eks.tke.cloud.tencent.com/eklet", "value": "true", "effect": "NoSchedule"}
T0_NS = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


@dataclass(frozen=True)
class SimPod:
    namespace: str
    name: str
    uid: str
    node: str
    virtual: bool
    ip: str
    container: str
    container_id: str
    image: str
    image_id: str
    labels: dict[str, str]
    owner_kind: str
    owner_name: str
    cronjob: bool = False

    def manifest(self) -> dict[str, Any]:
        ann = {"tke.cloud.tencent.com/pod-type": "eklet"} if self.virtual else {}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": self.labels,
                "annotations": ann,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1" if self.owner_kind == "Job" else "apps/v1",
                        "kind": self.owner_kind,
                        "name": self.owner_name,
                        "uid": _uid(self.owner_name),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "nodeName": self.node,
                "restartPolicy": "Never" if self.cronjob else "Always",
                "containers": [
                    {
                        "name": self.container,
                        "image": self.image.split("/")[-1],
                        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                    }
                ],
                "tolerations": [{"key": VIRTUAL_TAINT["key"], "operator": "Exists"}] if self.virtual else [],
            },
        }

    def status(self) -> dict[str, Any]:
        return {
            "status": {
                "phase": "Running",
                "podIP": self.ip,
                "podIPs": [{"ip": self.ip}],
                "hostIP": "127.0.0.1",
                "startTime": "2024-05-01T12:00:00Z",
                "containerStatuses": [
                    {
                        "name": self.container,
                        "ready": True,
                        "restartCount": 0,
                        "started": True,
                        "image": self.image,
                        "imageID": self.image_id,
                        "containerID": f"containerd://{self.container_id}",
                        "state": {"running": {"startedAt": "2024-05-01T12:00:00Z"}},
                    }
                ],
            }
        }


def _uid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


@dataclass
class Cluster:
    seed: int = 7
    standard_nodes: int = 2
    virtual_nodes: int = 2
    web_replicas: int = 2
    cronjob_pods: int = 3
    prefix: str = ""  # namespace prefix, so tests can share one kube-apiserver
    ip_octet: int = 10  # virtual pods get 127.<ip_octet>.x.y, standard 127.<ip_octet+10>.x.y
    pods: list[SimPod] = field(default_factory=list)

    def build(self) -> Cluster:
        rng = random.Random(self.seed)
        h = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(9))
        rs = f"web-{h}"
        for i in range(self.web_replicas * 2):
            virtual = i % 2 == 1
            suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            self.pods.append(
                self._pod(
                    rng,
                    f"{self.prefix}shop",
                    f"{rs}-{suffix}",
                    virtual,
                    i,
                    "app",
                    {"app": "web", "app.kubernetes.io/name": "web", "pod-template-hash": h},
                    "ReplicaSet",
                    rs,
                )
            )
        for i in range(self.cronjob_pods):
            job = f"report-{28_470_000 + i}"
            suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            self.pods.append(
                self._pod(
                    rng,
                    f"{self.prefix}batch",
                    f"{job}-{suffix}",
                    True,
                    100 + i,
                    "job",
                    {"job-name": job, "batch.kubernetes.io/job-name": job},
                    "Job",
                    job,
                    cronjob=True,
                )
            )
        return self

    def _pod(
        self,
        rng: random.Random,
        ns: str,
        name: str,
        virtual: bool,
        i: int,
        container: str,
        labels: dict[str, str],
        owner_kind: str,
        owner: str,
        cronjob: bool = False,
    ) -> SimPod:
        node = f"eklet-{i % self.virtual_nodes}" if virtual else f"std-node-{i % self.standard_nodes}"
        ip = f"127.{self.ip_octet + (0 if virtual else 10)}.{i // 250}.{i % 250 + 2}"
        digest = hashlib.sha256(f"{self.seed}{name}".encode()).hexdigest()
        return SimPod(
            ns,
            name,
            _uid(f"{self.seed}/{ns}/{name}"),
            node,
            virtual,
            ip,
            container,
            f"{rng.getrandbits(256):064x}",
            f"docker.io/library/{'busybox:1.36' if cronjob else 'nginx:1.27'}",
            f"docker.io/library/{'busybox' if cronjob else 'nginx'}@sha256:{digest}",
            labels,
            owner_kind,
            owner,
            cronjob,
        )

    def nodes(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(self.standard_nodes):
            out.append(
                {
                    "metadata": {
                        "name": f"std-node-{i}",
                        "labels": {
                            "kubernetes.io/hostname": f"std-node-{i}",
                            "node.kubernetes.io/instance-type": "S5.LARGE8",
                        },
                    }
                }
            )
        for i in range(self.virtual_nodes):
            out.append(
                {
                    "metadata": {
                        "name": f"eklet-{i}",
                        "labels": {**VIRTUAL_NODE_LABELS, "kubernetes.io/hostname": f"eklet-{i}"},
                    },
                    "spec": {"taints": [VIRTUAL_TAINT]},
                }
            )
        return out


def format_rfc3339(ts_ns: int) -> str:
    """RFC 3339 with nanoseconds, as containerd writes CRI logs (independent of logbridge)."""
    secs, ns = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"


def log_lines(pod: SimPod, *, start_ns: int = T0_NS) -> list[tuple[int, str, str, str]]:
    """(ts_ns, stream, P|F, text) lines a pod prints: plain, JSON, partial, stack trace, UTF-8."""
    t = start_ns
    lines = [
        (t, "stdout", "F", f"starting {pod.name}"),
        (t + 1_000_001, "stdout", "F", '{"level":"info","msg":"order created","order_id":42}'),
        (t + 2_000_000, "stdout", "P", "part-one|"),
        (t + 2_100_000, "stdout", "F", "part-two"),
        (t + 3_000_000, "stderr", "F", "warn: retrying connection"),
        (t + 4_000_000, "stdout", "F", "utf8: 中文 😀 ünïcödé"),
        (t + 5_000_000, "stdout", "F", 'Exception in thread "main" java.lang.IllegalStateException: boom'),
        (t + 5_000_100, "stdout", "F", "\tat com.example.Main.main(Main.java:7)"),
        (t + 6_000_000, "stdout", "F", f"done {pod.name}"),
    ]
    return lines
