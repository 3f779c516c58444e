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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from discovery.sdlabels import TargetGroup, kubernetes_sd_groups, sanitize_label_name
from vnbridge.exporters import ExporterRule, exporter_path, main_container, virtual_exporters
from vnbridge.pods import PodInfo

__all__ = [
    "GroupCache",
    "TargetRules",
    "Targets",
    "build_targets",
    "sanitize_label_name",
    "select_shard",
    "shard_of",
]


@dataclass(frozen=True, slots=True)
class TargetRules:
    """How targets are built (from DiscoverySettings)."""

    exporter: ExporterRule
    bridge_address: str = ""  # metricsbridge host:port; "" = scrape the exporter directly
    bridge_path: str = "/probe"
    bridge_scheme: str = "http"  # how Prometheus reaches metricsbridge
    static_labels: Mapping[str, str] = field(default_factory=dict)
    pod_label_keys: tuple[str, ...] = ()  # "*" = every pod label
    labels: Literal["final", "kubernetes_sd"] = "final"  # kubernetes_sd: discovery.sdlabels
    # where Prometheus reaches the API server, for the node-proxy presets scraped directly
    api_server: str = "kubernetes.default.svc:443"


def _bridged(labels: dict[str, str], target: str, rules: TargetRules) -> TargetGroup:
    """The group that routes ``target`` through metricsbridge's /probe."""
    labels["__param_target"] = target
    labels["__metrics_path__"] = rules.bridge_path
    # the scrape goes to metricsbridge: its scheme (the exporter's is metricsbridge's business)
    if rules.bridge_scheme != "http":
        labels["__scheme__"] = rules.bridge_scheme
    return {"targets": [rules.bridge_address], "labels": labels}


def _node_group(node: str, rules: TargetRules) -> TargetGroup:
    """One target per virtual node (aws-fargate, alibaba-eci, azure-aci): the series carry
    their own namespace / pod / container labels, as the kubelet's do."""
    ep = rules.exporter.endpoint
    labels: dict[str, str] = dict(rules.static_labels)
    labels["node"] = node
    labels["instance"] = node
    if rules.bridge_address:
        return _bridged(labels, node, rules)
    # straight to the kubelet endpoint through the API server's node proxy
    labels["__metrics_path__"] = f"/api/v1/nodes/{node}/proxy{ep.path}"
    labels["__scheme__"] = "https"
    for k, v in ep.query.items():
        labels[f"__param_{k}"] = v.replace("{node}", node)
    return {"targets": [rules.api_server], "labels": labels}


def _group(pod: PodInfo, address: str, rules: TargetRules) -> TargetGroup:
    if rules.exporter.endpoint.where != "pod":
        return _node_group(address, rules)
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
    for k, v in rules.exporter.params.items():  # Prometheus adds them to the scrape's query
        labels[f"__param_{k}"] = v
    if rules.bridge_address:
        return _bridged(labels, address, rules)
    labels["__metrics_path__"] = exporter_path(pod, rules.exporter)
    if rules.exporter.scheme != "http":
        labels["__scheme__"] = rules.exporter.scheme
    return {"targets": [address], "labels": labels}


@dataclass(frozen=True, slots=True)
class Targets:
    """The published target groups, sorted by (namespace, pod), and how many exporter
    addresses two Running pods claimed (resolved by the exporter rule)."""

    groups: list[TargetGroup]
    conflicts: int = 0


# (namespace, pod) -> the pod object and address a group was built for, and the group
GroupCache = dict[tuple[str, str], tuple[PodInfo, str, TargetGroup]]


def build_targets(
    pods: Iterable[PodInfo],
    node_labels: Mapping[str, Mapping[str, str]],
    rules: TargetRules,
    *,
    cache: Mapping[tuple[str, str], tuple[PodInfo, str, TargetGroup]] | None = None,
    new_cache: GroupCache | None = None,
) -> Targets:
    """One group per exporter the virtual-exporter rule finds. With ``cache`` (the last
    build's ``new_cache``) a pod that is the very same object at the same address keeps
    its group: pods are immutable values replaced on every change, so identity is
    "unchanged" and a rebuild after a burst touches only the pods that changed."""
    found = virtual_exporters(pods, node_labels, rules.exporter)
    keyed = sorted(((p.namespace, p.name), a) for a, p in found.by_address.items())
    by_address = found.by_address
    if rules.labels == "kubernetes_sd":
        groups = [g for _, a in keyed for g in kubernetes_sd_groups(by_address[a])]
        return Targets(groups, found.conflicts)
    out: list[TargetGroup] = []
    for key, address in keyed:
        pod = by_address[address]
        hit = cache.get(key) if cache is not None else None
        group = (
            hit[2] if hit is not None and hit[0] is pod and hit[1] == address else _group(pod, address, rules)
        )
        if new_cache is not None:
            new_cache[key] = (pod, address, group)
        out.append(group)
    return Targets(out, found.conflicts)


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
        namespace = labels.get("namespace", labels.get("__meta_kubernetes_namespace", ""))
        pod = labels.get("pod", labels.get("__meta_kubernetes_pod_name", ""))
        if shard_of(str(namespace), str(pod), shards) == shard:
            out.append(g)
    return out
