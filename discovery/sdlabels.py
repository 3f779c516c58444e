"""Targets labelled as Prometheus' own ``kubernetes_sd_configs`` (role ``pod``) labels them.

Why: platform teams already have ``relabel_configs`` written against
``__meta_kubernetes_pod_*``; with ``targets.labels: kubernetes_sd`` those rules work
unchanged on virtual-node pods published over http_sd / file_sd. The shape follows
Prometheus' discovery/kubernetes/pod.go: one target per declared container port
(``<podIP>:<port>``), one per container without ports (``<podIP>``), init containers
included, pod labels and annotations as ``_label_`` / ``_labelpresent_`` /
``_annotation_`` / ``_annotationpresent_`` with sanitised names, the controller owner
reference, and empty values left out (Prometheus drops empty labels itself).
"""

from __future__ import annotations

import re

from vnbridge.exporters import join_host_port
from vnbridge.pods import ContainerInfo, ContainerPort, PodInfo

__all__ = ["TargetGroup", "kubernetes_sd_groups", "sanitize_label_name"]

META = "__meta_kubernetes_"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
TargetGroup = dict[str, object]


def sanitize_label_name(name: str) -> str:
    """What Prometheus' kubernetes SD does to a label key: ``[^a-zA-Z0-9_]`` → ``_``."""
    return _INVALID.sub("_", name)


def _pod_labels(pod: PodInfo) -> dict[str, str]:
    labels = {
        f"{META}namespace": pod.namespace,
        f"{META}pod_name": pod.name,
        f"{META}pod_ip": pod.pod_ip,
        f"{META}pod_ready": pod.ready,
        f"{META}pod_phase": pod.phase,
        f"{META}pod_node_name": pod.node_name,
        f"{META}pod_host_ip": pod.host_ip,
        f"{META}pod_uid": pod.uid,
    }
    for key, value in pod.labels.items():
        labels[f"{META}pod_label_{sanitize_label_name(key)}"] = value
        labels[f"{META}pod_labelpresent_{sanitize_label_name(key)}"] = "true"
    for key, value in pod.annotations.items():
        labels[f"{META}pod_annotation_{sanitize_label_name(key)}"] = value
        labels[f"{META}pod_annotationpresent_{sanitize_label_name(key)}"] = "true"
    controller = next((o for o in pod.owners if o.controller), None)
    if controller is not None:
        labels[f"{META}pod_controller_kind"] = controller.kind
        labels[f"{META}pod_controller_name"] = controller.name
    return labels


def _target(pod: PodInfo, c: ContainerInfo, port: ContainerPort | None) -> dict[str, str]:
    labels = {
        "__address__": join_host_port(pod.pod_ip, port.number) if port is not None else pod.pod_ip,
        f"{META}pod_container_name": c.name,
        f"{META}pod_container_id": c.container_id,
        f"{META}pod_container_image": c.spec_image,
        f"{META}pod_container_init": "true" if c.name in pod.init_containers else "false",
    }
    if port is not None:
        labels[f"{META}pod_container_port_number"] = str(port.number)
        labels[f"{META}pod_container_port_name"] = port.name
        labels[f"{META}pod_container_port_protocol"] = port.protocol
    return labels


def kubernetes_sd_groups(pod: PodInfo) -> list[TargetGroup]:
    """One group per target kubernetes_sd would make for ``pod`` (app containers first,
    then init containers, as Prometheus orders them)."""
    common = _pod_labels(pod)
    ordered = [c for c in pod.containers if c.name not in pod.init_containers]
    ordered += [c for c in pod.containers if c.name in pod.init_containers]
    groups: list[TargetGroup] = []
    for c in ordered:
        for port in c.ports or (None,):
            labels = {**common, **_target(pod, c, port)}
            address = labels.pop("__address__")
            groups.append({"targets": [address], "labels": {k: v for k, v in labels.items() if v}})
    return groups
