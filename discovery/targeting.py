"""Turn the inventory into Prometheus target groups, as a standard pod would get them.

Why: a virtual-node pod's sandbox exporter must appear in Prometheus with exactly
the labels ``kubernetes_sd_configs`` (role pod) plus the prometheus-operator
relabelling give a pod on a standard node, so dashboards and alerts need no change.
Everything here is a pure function of (pods, node labels, rules); the watch and the
publishers call it. Labels are only identity labels: nothing IP- or time-derived
beyond ``instance`` (which a standard target has too).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from discovery.inventory import PodInfo

__all__ = [
    "METRICS_PORT_ANNOTATION",
    "NodeSelector",
    "TargetRules",
    "build_targets",
    "exporter_address",
    "main_container",
    "sanitize_label_name",
    "select_shard",
    "shard_of",
]

METRICS_PORT_ANNOTATION = "eks.tke.cloud.tencent.com/metrics-port"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
TargetGroup = dict[str, object]


def sanitize_label_name(name: str) -> str:
    """What Prometheus' kubernetes SD does to a label key: ``[^a-zA-Z0-9_]`` → ``_``."""
    return _INVALID.sub("_", name)


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """Node labels that must all match for a node to count as virtual."""

    match_labels: Mapping[str, str]

    def matches(self, node_labels: Mapping[str, str]) -> bool:
        return bool(self.match_labels) and all(node_labels.get(k) == v for k, v in self.match_labels.items())


@dataclass(frozen=True, slots=True)
class TargetRules:
    """How targets are built (from DiscoverySettings)."""

    selector: NodeSelector
    default_port: int = 9100
    metrics_path: str = "/metrics"
    bridge_address: str = ""  # metricsbridge host:port; "" = scrape the exporter directly
    bridge_path: str = "/probe"
    static_labels: Mapping[str, str] = field(default_factory=dict)
    pod_label_keys: tuple[str, ...] = ()  # "*" = every pod label


def exporter_address(pod: PodInfo, default_port: int) -> str | None:
    """``<podIP>:<port>`` of the sandbox exporter, or None when the pod has no usable IP/port."""
    if not pod.pod_ip:
        return None
    raw = pod.annotations.get(METRICS_PORT_ANNOTATION, "")
    port = default_port
    if raw:
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            return None  # a bad annotation is reported by the caller, never guessed
        port = int(raw)
    host = f"[{pod.pod_ip}]" if ":" in pod.pod_ip else pod.pod_ip
    return f"{host}:{port}"


def is_virtual(pod: PodInfo, node_labels: Mapping[str, Mapping[str, str]], selector: NodeSelector) -> bool:
    labels = node_labels.get(pod.node_name)
    if labels is not None:
        return selector.matches(labels)
    return False


def main_container(pod: PodInfo) -> str:
    """The first app container (``spec.containers[0]``); init containers are skipped."""
    for c in pod.containers:
        if c.name not in pod.init_containers:
            return c.name
    return pod.containers[0].name if pod.containers else ""


def _group(pod: PodInfo, address: str, rules: TargetRules) -> TargetGroup:
    labels: dict[str, str] = {}
    keys = pod.labels.keys() if "*" in rules.pod_label_keys else rules.pod_label_keys
    for key in sorted(keys):
        if key in pod.labels:
            labels[sanitize_label_name(key)] = pod.labels[key]
    labels.update(rules.static_labels)
    labels["namespace"] = pod.namespace
    labels["pod"] = pod.name
    if pod.containers:
        labels["container"] = main_container(pod)
    labels["node"] = pod.node_name
    labels["instance"] = address
    if rules.bridge_address:
        labels["__param_target"] = address
        labels["__metrics_path__"] = rules.bridge_path
        return {"targets": [rules.bridge_address], "labels": labels}
    labels["__metrics_path__"] = rules.metrics_path
    return {"targets": [address], "labels": labels}


def build_targets(
    pods: Iterable[PodInfo],
    node_labels: Mapping[str, Mapping[str, str]],
    rules: TargetRules,
) -> list[TargetGroup]:
    """One group per Running virtual-node pod with an IP, sorted by (namespace, pod)."""
    groups: list[tuple[tuple[str, str], TargetGroup]] = []
    for pod in pods:
        if pod.phase != "Running" or not is_virtual(pod, node_labels, rules.selector):
            continue
        address = exporter_address(pod, rules.default_port)
        if address is None:
            continue
        groups.append(((pod.namespace, pod.name), _group(pod, address, rules)))
    groups.sort(key=lambda kv: kv[0])
    return [g for _, g in groups]


def shard_of(namespace: str, pod: str, shards: int) -> int:
    """Stable shard of a pod: same answer on every replica and every restart."""
    digest = hashlib.blake2b(f"{namespace}/{pod}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def select_shard(groups: list[TargetGroup], shard: int, shards: int) -> list[TargetGroup]:
    if shards <= 1:
        return groups
    out = []
    for g in groups:
        labels = g["labels"]
        assert isinstance(labels, dict)
        if shard_of(labels["namespace"], labels["pod"], shards) == shard:
            out.append(g)
    return out
