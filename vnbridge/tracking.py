"""The live cluster picture: pods (inventory with tombstones), node and namespace labels.

Why: the reflectors deliver raw lists and events from their threads; this class
is the one place that folds them into the inventory, on one thread (the asyncio
loop's), so readers — target building, logbridge enrichment, the metricsbridge
allow-list — never see a half-applied relist. It also answers "have we seen a
complete list of everything yet?", which gates every publication.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

from vnbridge.inventory import MemoryInventory
from vnbridge.pods import ObjectMeta, PodInfo, object_meta, pod_from_object

__all__ = ["KINDS", "ClusterState", "watched_kinds"]

KINDS = ("nodes", "namespaces", "pods")


def watched_kinds(namespaces: bool, cluster_defaults: str = "") -> tuple[str, ...]:
    """What a live watch lists: nodes and pods always; namespaces only when their
    labels are wanted (it needs get/list/watch on namespaces in RBAC); Tencent's
    kube-system/eks-config when the provider keeps cluster-wide pod annotation defaults
    there (list/watch on that ConfigMap)."""
    kinds = KINDS if namespaces else ("nodes", "pods")
    return (*kinds, "eks-config") if cluster_defaults == "kube-system/eks-config" else kinds


def cluster_defaults_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """``data["pod.annotations"]`` of Tencent's eks-config: a YAML (or JSON) mapping of
    annotation → value (inferred: the doc names the key, not its encoding). Anything
    else reads as no defaults."""
    raw = ((obj.get("data") or {}) if isinstance(obj, Mapping) else {}).get("pod.annotations", "")
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): str(v) for k, v in parsed.items() if isinstance(v, str | int | float | bool)}


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class ClusterState:
    """Inventory + node/namespace labels, changed only through the methods below.

    Pods are stored joined with their node's and namespace's metadata (so reads are
    plain lookups); a node or namespace change re-joins exactly the pods it touches,
    whatever order the reflectors deliver lists and events in.
    """

    def __init__(
        self,
        *,
        retention_s: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
        kinds: Iterable[str] = KINDS,
    ) -> None:
        self.inventory = MemoryInventory(retention_s=retention_s, clock=clock)
        self.inventory.on_expired = self._expired
        self.node_meta: dict[str, ObjectMeta] = {}
        self.namespace_meta: dict[str, ObjectMeta] = {}
        # cluster-wide default pod annotations (Tencent's kube-system/eks-config)
        self.cluster_defaults: dict[str, str] = {}
        self.required = frozenset(kinds)
        self.synced: set[str] = set()
        self.failing: dict[str, int] = {}  # kind -> HTTP status the API refuses it with
        self.version = 0
        self.listeners: list[Callable[[], None]] = []
        # told each pod that changed ((namespace, name)), or None when a list may have
        # touched any pod (logbridge re-renders those pods' metadata fragments)
        self.pod_listeners: list[Callable[[tuple[str, str] | None], None]] = []

    @property
    def ready(self) -> bool:
        """True once every watched kind delivered one complete list."""
        return self.required <= self.synced

    def watch_status(self, kind: str, status: int) -> None:
        """A reflector's API answer changed: ``status`` 401/403/404 while refused, 0 when
        calls succeed again. The inventory is kept (it is the last good picture)."""
        if status:
            self.failing[kind] = status
        else:
            self.failing.pop(kind, None)

    def not_ready(self) -> str:
        """ "" when every watched kind is synced and none is refused, else why not."""
        if self.failing:
            return "Kubernetes API refuses " + ", ".join(
                f"{kind} (HTTP {status})" if status > 0 else f"{kind} (the watch broke: see the log)"
                for kind, status in sorted(self.failing.items())
            )
        missing = sorted(self.required - self.synced)
        return f"waiting for the first complete list of {', '.join(missing)}" if missing else ""

    def _changed(self, pods: Iterable[tuple[str, str]] | None = None) -> None:
        self.version += 1
        for fn in self.listeners:
            fn()
        for pfn in self.pod_listeners:
            if pods is None:
                pfn(None)
            else:
                for key in pods:
                    pfn(key)

    @property
    def nodes(self) -> Mapping[str, Mapping[str, str]]:
        """Node name -> labels (what target rules select on)."""
        return {name: m.labels for name, m in self.node_meta.items()}

    def _metas(
        self, node_name: str, namespace: str, node: ObjectMeta | None, ns: ObjectMeta | None
    ) -> tuple[ObjectMeta | None, ObjectMeta | None]:
        """A pod's node and namespace metadata now. Metadata not (or no longer) known
        keeps what the pod last carried: a pod listed before its node, or a tombstone
        whose node is gone, is never stripped of what it had."""
        return self.node_meta.get(node_name, node), self.namespace_meta.get(namespace, ns)

    def _expired(self, keys: list[tuple[str, str]]) -> None:
        """Tombstones past retention: logbridge forgets their rendered fragments."""
        for pfn in self.pod_listeners:
            for key in keys:
                pfn(key)

    def _pod(self, obj: Mapping[str, Any]) -> PodInfo:
        # joined while it is built (one PodInfo per event, not a second one to join)
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        return pod_from_object(
            obj,
            namespace=self.namespace_meta.get(str(meta.get("namespace", "default"))),
            node=self.node_meta.get(str(spec.get("nodeName", ""))),
        )

    # --- whole lists (a relist replaces everything atomically) -----------------------
    def list_pods(self, items: list[dict[str, Any]]) -> None:
        self.inventory.replace_all(self._pod(o) for o in items if isinstance(o, dict))
        self.synced.add("pods")
        self._changed()

    def list_nodes(self, items: list[dict[str, Any]]) -> None:
        self.node_meta = {m.name: m for m in (object_meta(o) for o in items if isinstance(o, dict))}
        self.inventory.rejoin(self._metas)
        self.synced.add("nodes")
        self._changed()

    def list_namespaces(self, items: list[dict[str, Any]]) -> None:
        self.namespace_meta = {m.name: m for m in (object_meta(o) for o in items if isinstance(o, dict))}
        self.inventory.rejoin(self._metas)
        self.synced.add("namespaces")
        self._changed()

    # --- single events ----------------------------------------------------------------
    def pod_event(self, etype: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        if etype == "DELETED":
            self.inventory.delete(*key)
        else:
            self.inventory.upsert(self._pod(obj))
        self._changed((key,))

    def node_event(self, etype: str, obj: dict[str, Any]) -> None:
        name = _name(obj)
        if etype == "DELETED":
            self.node_meta.pop(name, None)
            self._changed(())  # its pods stop being targets; they keep their last metadata
            return
        meta = object_meta(obj)
        if self.node_meta.get(name) == meta:
            return  # a status heartbeat: nothing a document or a target carries changed
        self.node_meta[name] = meta
        self._changed(self.inventory.rejoin(self._metas, node=name))

    def namespace_event(self, etype: str, obj: dict[str, Any]) -> None:
        name = _name(obj)
        if etype == "DELETED":
            self.namespace_meta.pop(name, None)
            self._changed(())  # its pods keep their last metadata
            return
        meta = object_meta(obj)
        if self.namespace_meta.get(name) == meta:
            return
        self.namespace_meta[name] = meta
        self._changed(self.inventory.rejoin(self._metas, namespace=name))

    def list_defaults(self, items: list[dict[str, Any]]) -> None:
        self.cluster_defaults = cluster_defaults_of(items[0]) if items else {}
        self.synced.add("eks-config")
        self._changed(())

    def defaults_event(self, etype: str, obj: dict[str, Any]) -> None:
        self._set_defaults({} if etype == "DELETED" else cluster_defaults_of(obj))

    def _set_defaults(self, defaults: dict[str, str]) -> None:
        if defaults != self.cluster_defaults:
            self.cluster_defaults = defaults
            self._changed(())

    def handlers(
        self, kind: str
    ) -> tuple[Callable[[list[dict[str, Any]]], None], Callable[[str, dict[str, Any]], None]]:
        return {
            "pods": (self.list_pods, self.pod_event),
            "nodes": (self.list_nodes, self.node_event),
            "namespaces": (self.list_namespaces, self.namespace_event),
            "eks-config": (self.list_defaults, self.defaults_event),
        }[kind]

    # --- the Lookup protocol (logbridge enrichment) ----------------------------------
    def by_name(self, namespace: str, name: str) -> tuple[PodInfo, bool] | None:
        return self.inventory.by_name(namespace, name)

    def by_uid(self, uid: str) -> tuple[PodInfo, bool] | None:
        return self.inventory.by_uid(uid)

    def pods(self) -> list[PodInfo]:
        return self.inventory.pods()
