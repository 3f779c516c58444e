"""The one virtual-exporter rule: which pods are virtual-node exporter targets, and where.

Why: discovery publishes exactly these pods as Prometheus targets, and metricsbridge
allows ``/probe`` for exactly these addresses (its guard against being an open
proxy). Written once, configured from one settings block (``targets``), the two
cannot disagree. When two Running pods claim one address (an IP reused while the
API still shows the old pod Running), the newest pod wins, deterministically, and
the conflict is counted so both services can raise a warning metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vnbridge.pods import PodInfo

__all__ = [
    "METRICS_PORT_ANNOTATION",
    "NODE_PRESETS",
    "ExporterRule",
    "Exporters",
    "NodeSelector",
    "TargetSettings",
    "exporter_address",
    "is_virtual",
    "join_host_port",
    "main_container",
    "virtual_exporters",
]

# How each provider marks its virtual nodes (DESIGN §3).
NODE_PRESETS: dict[str, dict[str, str]] = {
    "tencent-eklet": {"node.kubernetes.io/instance-type": "eklet"},
    "aws-fargate": {"eks.amazonaws.com/compute-type": "fargate"},
    "virtual-kubelet": {"type": "virtual-kubelet"},
}
METRICS_PORT_ANNOTATION = "eks.tke.cloud.tencent.com/metrics-port"


class TargetSettings(BaseModel):
    """Which pods are virtual-node exporter targets (the ``targets`` block; discovery
    publishes by it, metricsbridge allows by it: give both the same block)."""

    model_config = ConfigDict(extra="forbid")
    node_preset: Literal["tencent-eklet", "aws-fargate", "virtual-kubelet", "custom"] = Field(
        "tencent-eklet",
        description="Which nodes are virtual: a provider preset (tencent-eklet = node.kubernetes.io/"
        "instance-type=eklet, aws-fargate = eks.amazonaws.com/compute-type=fargate, virtual-kubelet = "
        "type=virtual-kubelet), or custom (node_selector).",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels (all must match) when node_preset is custom."
    )
    port: int = Field(
        9100,
        ge=1,
        le=65535,
        description=f"Sandbox exporter port unless the pod annotation {METRICS_PORT_ANNOTATION} says "
        "otherwise.",
    )
    path: str = Field("/metrics", description="Sandbox exporter path.")
    scheme: Literal["http", "https"] = Field("http", description="Sandbox exporter scheme.")
    labels: Literal["final", "kubernetes_sd"] = Field(
        "final",
        description="(vnbridge-discovery) final: targets carry the labels a standard pod's series "
        "end up with (namespace, pod, container, node, job...); kubernetes_sd: the __meta_kubernetes_pod_* "
        "labels Prometheus' kubernetes_sd (role pod) gives, one target per declared container port, for "
        "existing relabel_configs. metricsbridge ignores it.",
    )

    @model_validator(mode="after")
    def _check(self) -> TargetSettings:
        if self.node_preset == "custom" and not self.node_selector:
            raise ValueError("node_preset custom needs node_selector (node labels that mark virtual nodes)")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with /, got {self.path!r}")
        return self

    def selector_labels(self) -> dict[str, str]:
        return (
            dict(self.node_selector) if self.node_preset == "custom" else dict(NODE_PRESETS[self.node_preset])
        )


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """Node labels that must all match for a node to count as virtual."""

    match_labels: Mapping[str, str]

    def matches(self, node_labels: Mapping[str, str]) -> bool:
        return bool(self.match_labels) and all(node_labels.get(k) == v for k, v in self.match_labels.items())


@dataclass(frozen=True, slots=True)
class ExporterRule:
    """The rule as a value: built once from ``TargetSettings``."""

    selector: NodeSelector
    port: int = 9100
    path: str = "/metrics"
    scheme: str = "http"

    @classmethod
    def from_settings(cls, settings: TargetSettings) -> ExporterRule:
        return cls(
            selector=NodeSelector(settings.selector_labels()),
            port=settings.port,
            path=settings.path,
            scheme=settings.scheme,
        )


def exporter_address(pod: PodInfo, default_port: int) -> str | None:
    """``<podIP>:<port>`` of the sandbox exporter, or None when the pod has no usable IP/port."""
    if not pod.pod_ip:
        return None
    raw = pod.annotations.get(METRICS_PORT_ANNOTATION, "")
    port = default_port
    if raw:
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            return None  # a bad annotation is never guessed
        port = int(raw)
    return join_host_port(pod.pod_ip, port)


def join_host_port(ip: str, port: int) -> str:
    """``ip:port``, an IPv6 address in brackets (Go's net.JoinHostPort)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def is_virtual(pod: PodInfo, node_labels: Mapping[str, Mapping[str, str]], selector: NodeSelector) -> bool:
    labels = node_labels.get(pod.node_name)
    return labels is not None and selector.matches(labels)


def main_container(pod: PodInfo) -> str:
    """The first app container (``spec.containers[0]``); init containers are skipped."""
    for c in pod.containers:
        if c.name not in pod.init_containers:
            return c.name
    return pod.containers[0].name if pod.containers else ""


@dataclass(frozen=True, slots=True)
class Exporters:
    """Exporter address → the pod that holds it; ``conflicts`` counts addresses more
    than one Running pod claimed (each resolved to the newest pod)."""

    by_address: Mapping[str, PodInfo]
    conflicts: int = 0


def _newest_first(pod: PodInfo) -> tuple[str, str, str]:
    # RFC 3339 UTC timestamps from the API compare as strings; names break ties
    return (pod.creation_timestamp, pod.namespace, pod.name)


def virtual_exporters(
    pods: Iterable[PodInfo], node_labels: Mapping[str, Mapping[str, str]], rule: ExporterRule
) -> Exporters:
    """Every Running pod on a virtual node with a usable exporter address."""
    by_address: dict[str, PodInfo] = {}
    conflicts: set[str] = set()
    for pod in pods:
        if pod.phase != "Running" or not is_virtual(pod, node_labels, rule.selector):
            continue
        address = exporter_address(pod, rule.port)
        if address is None:
            continue
        held = by_address.get(address)
        if held is not None:
            conflicts.add(address)
            if _newest_first(held) >= _newest_first(pod):
                continue
        by_address[address] = pod
    return Exporters(by_address, len(conflicts))
