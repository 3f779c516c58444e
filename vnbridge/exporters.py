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
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vnbridge.pods import PodInfo
from vnbridge.providers import ALIASES, PRESETS, Endpoint, preset_name

__all__ = [
    "CUSTOM_ENDPOINT",
    "METRICS_PORT_ANNOTATION",
    "NODE_PRESETS",
    "TARGET_KEYS_MOVED",
    "ExporterRule",
    "Exporters",
    "NodeSelector",
    "TargetSettings",
    "exporter_address",
    "exporter_path",
    "is_virtual",
    "join_host_port",
    "main_container",
    "virtual_exporters",
]

# How each provider marks its virtual nodes (vnbridge/providers.py; earlier names too).
NODE_PRESETS: dict[str, dict[str, str]] = {
    **{name: dict(p.node_labels) for name, p in PRESETS.items()},
    **{old: dict(PRESETS[new].node_labels) for old, new in ALIASES.items()},
}
METRICS_PORT_ANNOTATION = "eks.tke.cloud.tencent.com/metrics-port"
# node_preset custom: a pod exporter, Tencent's annotations (the shape most sandboxes copy)
CUSTOM_ENDPOINT = Endpoint(
    "pod",
    9100,
    "/metrics",
    port_annotation=METRICS_PORT_ANNOTATION,
    path_annotation="eks.tke.cloud.tencent.com/custom-metrics-url",
    pass_params=("collect[]",),
)
PresetName = Literal["tencent-eks", "huawei-cci", "aws-fargate", "alibaba-eci", "azure-aci", "custom"]


# the top-level keys that moved into ``targets`` (both discovery's and metricsbridge's
# settings name them in the error instead of a bare "unknown key")
TARGET_KEYS_MOVED: dict[str, str] = {
    "node_preset": "targets.node_preset",
    "node_selector": "targets.node_selector",
    "metrics_port": "targets.port",
    "metrics_path": "targets.path",
}


class TargetSettings(BaseModel):
    """Which pods are virtual-node exporter targets (the ``targets`` block; discovery
    publishes by it, metricsbridge allows by it: give both the same block)."""

    model_config = ConfigDict(extra="forbid")
    node_preset: PresetName = Field(
        "tencent-eks",
        description="The provider, which says which nodes are virtual and where their pods' metrics are "
        "served (README 'Providers: where the metrics are'): tencent-eks (node.kubernetes.io/instance-type="
        "eklet; <podIP>:9100), huawei-cci (<podIP>:19100), aws-fargate (eks.amazonaws.com/compute-type="
        "fargate; the API server's node proxy), alibaba-eci and azure-aci (type=virtual-kubelet; the node), "
        "or custom (node_selector; a pod exporter). tencent-eklet still means tencent-eks.",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Node labels (all must match) that mark virtual nodes; required for custom, "
        "replaces the preset's labels otherwise.",
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Pod exporter port unless the preset's port annotation (Tencent: "
        f"{METRICS_PORT_ANNOTATION}) says otherwise; null = the preset's (9100, Huawei 19100).",
    )
    path: str | None = Field(
        None,
        description="Pod exporter path unless the preset's path annotation (Tencent: "
        "eks.tke.cloud.tencent.com/custom-metrics-url) says otherwise; null = the preset's.",
    )
    scheme: Literal["http", "https"] = Field("http", description="Sandbox exporter scheme.")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Query parameters for every scrape of a pod exporter, published as __param_<name> "
        "(Tencent: {'collect[]': ipvs}, as its own scrape job leaves ipvs out). Only the preset's "
        "documented parameters (collect[] for tencent-eks) may be set. One value per name: for several "
        "values, put `params:` in the Prometheus job instead (metricsbridge passes them on).",
    )
    labels: Literal["final", "kubernetes_sd"] = Field(
        "final",
        description="(vnbridge-discovery) final: targets carry the labels a standard pod's series "
        "end up with (namespace, pod, container, node, job...); kubernetes_sd: the __meta_kubernetes_pod_* "
        "labels Prometheus' kubernetes_sd (role pod) gives, one target per declared container port, for "
        "existing relabel_configs. metricsbridge ignores it.",
    )

    @field_validator("node_preset", mode="before")
    @classmethod
    def _preset(cls, v: object) -> object:
        return preset_name(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check(self) -> TargetSettings:
        if self.node_preset == "custom" and not self.node_selector:
            raise ValueError("node_preset custom needs node_selector (node labels that mark virtual nodes)")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"path must start with /, got {self.path!r}")
        allowed = self.endpoint().pass_params
        if unknown := sorted(set(self.params) - set(allowed)):
            known = list(allowed) or "none"
            raise ValueError(
                f"params {unknown} are not parameters {self.node_preset} documents; allowed: {known}"
            )
        if self.endpoint().where != "pod" and (self.port is not None or self.path is not None):
            raise ValueError(
                f"node_preset {self.node_preset} is scraped on its node, not in the pod: port and path "
                "do not apply (leave them out)"
            )
        return self

    def selector_labels(self) -> dict[str, str]:
        if self.node_selector or self.node_preset == "custom":
            return dict(self.node_selector)
        return dict(NODE_PRESETS[self.node_preset])

    def endpoint(self) -> Endpoint:
        return CUSTOM_ENDPOINT if self.node_preset == "custom" else PRESETS[self.node_preset].endpoint


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
    endpoint: Endpoint = CUSTOM_ENDPOINT
    params: Mapping[str, str] = field(default_factory=dict)
    # cluster-wide default annotations (Tencent's kube-system/eks-config `pod.annotations`)
    defaults: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: TargetSettings) -> ExporterRule:
        ep = settings.endpoint()
        return cls(
            selector=NodeSelector(settings.selector_labels()),
            port=settings.port or ep.port,
            path=settings.path or ep.path,
            scheme=settings.scheme,
            endpoint=ep,
            params=dict(settings.params),
        )

    def annotation(self, pod: PodInfo, key: str) -> str:
        """A pod's annotation, else the cluster-wide default, else ""."""
        if not key:
            return ""
        return pod.annotations.get(key) or self.defaults.get(key, "")


def exporter_address(
    pod: PodInfo, default_port: int, annotation: str = METRICS_PORT_ANNOTATION, raw: str | None = None
) -> str | None:
    """``<podIP>:<port>`` of the sandbox exporter, or None when the pod has no usable IP/port.
    ``raw``: the port annotation's value already looked up (with cluster-wide defaults)."""
    if not pod.pod_ip:
        return None
    if raw is None:
        raw = pod.annotations.get(annotation, "") if annotation else ""
    port = default_port
    if raw:
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            return None  # a bad annotation is never guessed
        port = int(raw)
    return join_host_port(pod.pod_ip, port)


def exporter_path(pod: PodInfo, rule: ExporterRule) -> str:
    """The pod's exporter path: the path annotation (a path such as ``/metrics``), else the
    rule's. A value that is no absolute path is not guessed: the rule's path is used."""
    raw = rule.annotation(pod, rule.endpoint.path_annotation)
    if raw.startswith("/") and len(raw) <= 256 and "?" not in raw and "#" not in raw:
        return raw
    return rule.path


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
    ep = rule.endpoint
    for pod in pods:
        if pod.phase != "Running" or not is_virtual(pod, node_labels, rule.selector):
            continue
        if ep.enable_annotation and rule.annotation(pod, ep.enable_annotation).lower() == "false":
            continue
        if ep.where != "pod":
            # served on the node: one target per virtual node that runs a pod (its name)
            if pod.node_name:
                newest = by_address.get(pod.node_name)
                if newest is None or _newest_first(newest) < _newest_first(pod):
                    by_address[pod.node_name] = pod
            continue
        address = exporter_address(pod, rule.port, raw=rule.annotation(pod, ep.port_annotation))
        if address is None:
            continue
        held = by_address.get(address)
        if held is not None:
            conflicts.add(address)
            if _newest_first(held) >= _newest_first(pod):
                continue
        by_address[address] = pod
    return Exporters(by_address, len(conflicts))
