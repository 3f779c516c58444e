"""What vnbridge knows about one pod, and how it is read from the API's JSON.

Why: every service works from the same few frozen value types — a pod, its
containers and owners, the node and namespace it is joined with — built once from
the API object (camelCase JSON, as the watch delivers it) and never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

__all__ = [
    "ContainerInfo",
    "ContainerPort",
    "ObjectMeta",
    "OwnerRef",
    "PodInfo",
    "object_meta",
    "owner_chain",
    "pod_from_object",
    "with_metas",
]


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """The parts of a Node or Namespace that collectors copy onto a pod's lines."""

    name: str
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    hostname: str = ""  # nodes: status.addresses[type=Hostname]


class ContainerPort(NamedTuple):
    """A declared container port, as ``spec.containers[].ports[]`` gives it."""

    number: int
    name: str = ""
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    name: str
    container_id: str = ""  # with scheme, e.g. "containerd://8cad..."
    image: str = ""  # status image (what the runtime resolved)
    image_id: str = ""  # with scheme, e.g. "docker-pullable://busybox@sha256:..."
    spec_image: str = ""  # spec image (what the user wrote)
    restart_count: int = 0
    has_status: bool = False  # False when the container is missing from containerStatuses
    ports: tuple[ContainerPort, ...] = ()  # declared ports (kubernetes_sd: one target each)

    @property
    def runtime(self) -> str:
        return self.container_id.partition("://")[0] if "://" in self.container_id else ""

    @property
    def bare_id(self) -> str:
        return self.container_id.partition("://")[2] if "://" in self.container_id else self.container_id


@dataclass(frozen=True, slots=True)
class OwnerRef:
    kind: str
    name: str
    uid: str = ""
    api_version: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None

    def as_api(self) -> dict[str, object]:
        """The ownerReference as the API serialises it (key order included)."""
        out: dict[str, object] = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.controller is not None:
            out["controller"] = self.controller
        if self.block_owner_deletion is not None:
            out["blockOwnerDeletion"] = self.block_owner_deletion
        return out


@dataclass(frozen=True, slots=True)
class PodInfo:
    namespace: str
    name: str
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    node_name: str = ""
    pod_ip: str = ""
    pod_ips: tuple[str, ...] = ()
    host_ip: str = ""
    phase: str = ""
    containers: tuple[ContainerInfo, ...] = ()
    owners: tuple[OwnerRef, ...] = ()  # direct ownerReferences of the pod
    owner_chain: tuple[OwnerRef, ...] = ()  # resolved: Job->CronJob, ReplicaSet->Deployment
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    node_labels: Mapping[str, str] = field(default_factory=dict)
    namespace_meta: ObjectMeta | None = None  # the Namespace object, when watched
    node_meta: ObjectMeta | None = None  # the Node object, when known
    creation_timestamp: str = ""
    cpu_limited_containers: frozenset[str] = frozenset()
    init_containers: frozenset[str] = frozenset()
    ready: str = "unknown"  # the PodReady condition, lower case: "true" | "false" | "unknown"

    def container(self, name: str) -> ContainerInfo | None:
        for c in self.containers:
            if c.name == name:
                return c
        return None


def with_metas(pod: PodInfo, node: ObjectMeta | None, namespace: ObjectMeta | None) -> PodInfo:
    """``pod`` carrying ``node`` / ``namespace`` metadata (the same object if nothing changes).
    The label mappings are the metadata's own (shared, never copied per pod)."""
    if node is pod.node_meta and namespace is pod.namespace_meta:
        return pod
    return replace(
        pod,
        node_meta=node,
        node_labels=node.labels if node is not None else pod.node_labels,
        namespace_meta=namespace,
        namespace_labels=namespace.labels if namespace is not None else pod.namespace_labels,
    )


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _owner(ref: Mapping[str, Any]) -> OwnerRef:
    return OwnerRef(
        kind=str(ref.get("kind", "")),
        name=str(ref.get("name", "")),
        uid=str(ref.get("uid", "")),
        api_version=str(ref.get("apiVersion", "")),
        controller=ref.get("controller") if isinstance(ref.get("controller"), bool) else None,
        block_owner_deletion=ref.get("blockOwnerDeletion")
        if isinstance(ref.get("blockOwnerDeletion"), bool)
        else None,
    )


def owner_chain(owners: tuple[OwnerRef, ...]) -> tuple[OwnerRef, ...]:
    """Infer the next owner up from Kubernetes naming rules when the parent object is
    not at hand: Job ``<cronjob>-<scheduled minutes>`` and ReplicaSet
    ``<deployment>-<pod-template-hash>``. Filebeat reads the parent objects instead
    (add_resource_metadata.deployment / .cronjob); for controller-made names the
    answer is the same."""
    chain: list[OwnerRef] = []
    for ref in owners:
        if not ref.controller and len(owners) > 1:
            continue
        chain.append(ref)
        base, _, suffix = ref.name.rpartition("-")
        if ref.kind == "Job" and base and suffix.isdigit():
            chain.append(OwnerRef(kind="CronJob", name=base, api_version="batch/v1"))
        elif ref.kind == "ReplicaSet" and base and suffix:
            chain.append(OwnerRef(kind="Deployment", name=base, api_version="apps/v1"))
        break
    return tuple(chain)


def object_meta(obj: Mapping[str, Any]) -> ObjectMeta:
    """An ``ObjectMeta`` from a Node or Namespace as the API serialises it."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    hostname = ""
    for addr in status.get("addresses") or [] if isinstance(status, dict) else []:
        if isinstance(addr, dict) and addr.get("type") == "Hostname":
            hostname = str(addr.get("address", ""))
            break
    return ObjectMeta(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        labels=_str_map(meta.get("labels")),
        annotations=_str_map(meta.get("annotations")),
        hostname=hostname,
    )


def pod_from_object(
    obj: Mapping[str, Any],
    *,
    namespace: ObjectMeta | None = None,
    node: ObjectMeta | None = None,
) -> PodInfo:
    """A ``PodInfo`` from a Pod as the API serialises it (camelCase JSON)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = {
        str(s.get("name")): s
        for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
        for s in status.get(key) or []
        if isinstance(s, dict)
    }
    containers: list[ContainerInfo] = []
    limited: set[str] = set()
    inits = {str(c.get("name", "")) for c in spec.get("initContainers") or [] if isinstance(c, dict)}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if not isinstance(c, dict):
            continue
        name = str(c.get("name", ""))
        st = statuses.get(name, {})
        limits = (c.get("resources") or {}).get("limits") or {}
        if "cpu" in limits:
            limited.add(name)
        containers.append(
            ContainerInfo(
                name=name,
                container_id=str(st.get("containerID", "")),
                image=str(st.get("image", "")),
                image_id=str(st.get("imageID", "")),
                spec_image=str(c.get("image", "")),
                restart_count=int(st.get("restartCount", 0) or 0),
                has_status=bool(st),
                ports=tuple(_port(p) for p in c.get("ports") or [] if isinstance(p, dict)),
            )
        )
    owners = tuple(_owner(r) for r in meta.get("ownerReferences") or [] if isinstance(r, dict))
    pod_ips = tuple(
        str(p.get("ip")) for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")
    )
    return PodInfo(
        namespace=str(meta.get("namespace", "default")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        labels=_str_map(meta.get("labels")),
        annotations=_str_map(meta.get("annotations")),
        node_name=str(spec.get("nodeName", "")),
        pod_ip=str(status.get("podIP", "")),
        pod_ips=pod_ips or ((str(status["podIP"]),) if status.get("podIP") else ()),
        host_ip=str(status.get("hostIP", "")),
        phase=str(status.get("phase", "")),
        containers=tuple(containers),
        owners=owners,
        owner_chain=owner_chain(owners),
        namespace_labels=namespace.labels if namespace else {},
        node_labels=node.labels if node else {},
        namespace_meta=namespace,
        node_meta=node,
        creation_timestamp=str(meta.get("creationTimestamp", "")),
        cpu_limited_containers=frozenset(limited),
        init_containers=frozenset(inits),
        ready=_ready(status),
    )


def _port(port: Mapping[str, Any]) -> ContainerPort:
    number = port.get("containerPort", 0)
    return ContainerPort(
        number=number if isinstance(number, int) else 0,
        name=str(port.get("name", "")),
        protocol=str(port.get("protocol", "TCP")),
    )


def _ready(status: Mapping[str, Any]) -> str:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return str(cond.get("status", "Unknown")).lower()
    return "unknown"
