"""Where each provider serves a virtual pod's metrics: one table, read by discovery
(what it publishes) and metricsbridge (what it allows and fetches).

Why: the providers differ in where the sandbox metrics live — in the pod (Tencent,
Huawei), behind the API server's node proxy (AWS Fargate), on the virtual-kubelet node
(Azure ACI, Alibaba ECI) — and in which annotations, cluster-wide defaults and query
parameters apply. Written as data, each row next to the doc it follows, so the two
services cannot disagree and a reviewer checks one place. Presets that were guessed
before (``tencent-eklet``, ``virtual-kubelet``) keep working or fail with a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ALIASES", "PRESETS", "Endpoint", "Provider", "preset_name"]

Where = Literal["pod", "node_proxy", "node"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the metrics are served.

    ``pod``: ``<podIP>:<port><path>``, port and path overridable per pod by annotation;
    ``node_proxy``: the API server's ``/api/v1/nodes/<node>/proxy<path>`` (RBAC
    ``nodes/proxy``); ``node``: ``<nodeIP>:<port><path>`` on the virtual-kubelet node,
    ``query`` added (``{node}`` is the node's name). vnbridge reaches a ``node``
    endpoint through the API server's node proxy too — the proxy connects to that very
    ``<nodeIP>:<port>`` (the node's kubelet endpoint) with the API server's kubelet
    credentials, so vnbridge needs no kubelet certificate of its own; both kinds need
    RBAC ``nodes/proxy``."""

    where: Where
    port: int
    path: str
    port_annotation: str = ""
    path_annotation: str = ""
    # a pod annotated "false" here serves no metrics (inferred: the opt-out reading)
    enable_annotation: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    # query parameters of the scrape passed on to the sandbox (Tencent's collect[])
    pass_params: tuple[str, ...] = ()
    # a ConfigMap `namespace/name` whose `pod.annotations` give cluster-wide defaults
    cluster_defaults: str = ""
    # what the endpoint speaks: a sandbox dialect (translated per pod), the kubelet's
    # own cAdvisor (kept as it is), kubelet resource metrics (mapped to cAdvisor names)
    speaks: Literal["sandbox", "cadvisor", "resource"] = "sandbox"


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    node_labels: Mapping[str, str]
    endpoint: Endpoint
    # metric families served, and what vnbridge makes of them
    families: str
    doc: str

    @property
    def needs_node_proxy(self) -> bool:
        """Its metrics sit behind the API server's node proxy (RBAC nodes/proxy)."""
        return self.endpoint.where != "pod"


PRESETS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "tencent-eks",
            {"node.kubernetes.io/instance-type": "eklet"},
            Endpoint(
                "pod",
                9100,
                "/metrics",
                port_annotation="eks.tke.cloud.tencent.com/metrics-port",
                path_annotation="eks.tke.cloud.tencent.com/custom-metrics-url",
                pass_params=("collect[]",),
                cluster_defaults="kube-system/eks-config",
            ),
            "container_* (cAdvisor data) → cAdvisor shape; pod_* (node_exporter, node_ renamed) → derived "
            "cAdvisor series, or served as they are (pass_vm_metrics); kubelet_volume_stats_* → the kubelet "
            "/metrics shape",
            "cloud.tencent.com/document/product/457/44173 (metrics-port, custom-metrics-url, "
            "cri-stats-interval, collect[]); practice/457/82640 (honor_timestamps, keep "
            "container_.*|pod_.*|kubelet_.*)",
        ),
        Provider(
            "huawei-cci",
            {"type": "virtual-kubelet"},
            Endpoint(
                "pod",
                19100,
                "/metrics",
                port_annotation="monitoring.cci.io/metrics-port",
                enable_annotation="monitoring.cci.io/enable-pod-metrics",
            ),
            "container_* / pod_* as Tencent's (inferred: the doc names the endpoint, not the families)",
            "Huawei CCI 2.0 pod monitoring (monitoring.cci.io/enable-pod-metrics, "
            "monitoring.cci.io/metrics-port, port 19100)",
        ),
        Provider(
            "aws-fargate",
            {"eks.amazonaws.com/compute-type": "fargate"},
            Endpoint("node_proxy", 0, "/metrics/cadvisor", speaks="cadvisor"),
            "the kubelet's own cAdvisor (one Fargate node per pod): served as it is",
            "aws-otel docs, container-insights/eks-fargate (cAdvisor through the API server's node proxy)",
        ),
        Provider(
            "alibaba-eci",
            {"type": "virtual-kubelet"},
            Endpoint("node", 10250, "/metrics/cadvisor", query={"nodeName": "{node}"}, speaks="cadvisor"),
            "cAdvisor of every ECI pod on the virtual node: served as it is",
            "Alibaba ECI: virtual-kubelet serves cAdvisor at <nodeIP>:10250/metrics/cadvisor?nodeName=<node>",
        ),
        Provider(
            "azure-aci",
            {"type": "virtual-kubelet"},
            Endpoint("node", 10250, "/metrics/resource", speaks="resource"),
            "kubelet resource metrics (container_cpu_usage_seconds_total, "
            "container_memory_working_set_bytes, container_start_time_seconds) → cAdvisor's labels added; "
            "pod_* / node_* dropped; no network / filesystem / CFS series",
            "virtual-kubelet/azure-aci pkg/metrics/collectors/kubelet_resource_metrics.go",
        ),
    )
}

# earlier names: the first still means what it meant, the second named two providers
ALIASES: dict[str, str] = {"tencent-eklet": "tencent-eks"}
RETIRED: dict[str, str] = {
    "virtual-kubelet": "virtual-kubelet is two providers with different endpoints: use azure-aci "
    "(/metrics/resource on the node) or alibaba-eci (cAdvisor on the node), or custom",
}


def preset_name(name: str) -> str:
    """The current preset name for ``name``; ValueError with a one-line hint otherwise."""
    if name in RETIRED:
        raise ValueError(RETIRED[name])
    name = ALIASES.get(name, name)
    if name != "custom" and name not in PRESETS:
        raise ValueError(f"unknown node_preset {name!r}; one of: {', '.join([*PRESETS, 'custom'])}")
    return name
