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

from discovery.inventory import MemoryInventory, PodInfo, pod_from_object

__all__ = ["KINDS", "ClusterState"]

KINDS = ("nodes", "namespaces", "pods")


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    raw = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class ClusterState:
    """Inventory + node/namespace labels, changed only through the methods below."""

    def __init__(
        self,
        *,
        retention_s: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
        kinds: Iterable[str] = KINDS,
    ) -> None:
        self.inventory = MemoryInventory(retention_s=retention_s, clock=clock)
        self.nodes: dict[str, dict[str, str]] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.required = frozenset(kinds)
        self.synced: set[str] = set()
        self.version = 0
        self.listeners: list[Callable[[], None]] = []
        self.events = 0

    @property
    def ready(self) -> bool:
        """True once every watched kind delivered one complete list."""
        return self.required <= self.synced

    def _changed(self) -> None:
        self.version += 1
        for fn in self.listeners:
            fn()

    def _pod(self, obj: Mapping[str, Any]) -> PodInfo:
        pod = pod_from_object(obj)
        ns_labels = self.namespaces.get(pod.namespace)
        node_labels = self.nodes.get(pod.node_name)
        if ns_labels or node_labels:
            pod = pod_from_object(obj, namespace_labels=ns_labels, node_labels=node_labels)
        return pod

    # --- whole lists (a relist replaces everything atomically) -----------------------
    def list_pods(self, items: list[dict[str, Any]]) -> None:
        self.inventory.replace_all(self._pod(o) for o in items if isinstance(o, dict))
        self.synced.add("pods")
        self._changed()

    def list_nodes(self, items: list[dict[str, Any]]) -> None:
        self.nodes = {_name(o): _labels(o) for o in items if isinstance(o, dict)}
        self.synced.add("nodes")
        self._changed()

    def list_namespaces(self, items: list[dict[str, Any]]) -> None:
        self.namespaces = {_name(o): _labels(o) for o in items if isinstance(o, dict)}
        self.synced.add("namespaces")
        self._changed()

    # --- single events ----------------------------------------------------------------
    def pod_event(self, etype: str, obj: dict[str, Any]) -> None:
        self.events += 1
        meta = obj.get("metadata") or {}
        if etype == "DELETED":
            self.inventory.delete(str(meta.get("namespace", "")), str(meta.get("name", "")))
        else:
            self.inventory.upsert(self._pod(obj))
        self._changed()

    def node_event(self, etype: str, obj: dict[str, Any]) -> None:
        self.events += 1
        if etype == "DELETED":
            self.nodes.pop(_name(obj), None)
        else:
            self.nodes[_name(obj)] = _labels(obj)
        self._changed()

    def namespace_event(self, etype: str, obj: dict[str, Any]) -> None:
        self.events += 1
        if etype == "DELETED":
            self.namespaces.pop(_name(obj), None)
        else:
            self.namespaces[_name(obj)] = _labels(obj)
        self._changed()

    def handlers(
        self, kind: str
    ) -> tuple[Callable[[list[dict[str, Any]]], None], Callable[[str, dict[str, Any]], None]]:
        return {
            "pods": (self.list_pods, self.pod_event),
            "nodes": (self.list_nodes, self.node_event),
            "namespaces": (self.list_namespaces, self.namespace_event),
        }[kind]

    # --- the Lookup protocol (logbridge enrichment) ----------------------------------
    def by_name(self, namespace: str, name: str) -> tuple[PodInfo, bool] | None:
        return self.inventory.by_name(namespace, name)

    def by_uid(self, uid: str) -> tuple[PodInfo, bool] | None:
        return self.inventory.by_uid(uid)

    def pods(self) -> list[PodInfo]:
        return self.inventory.pods()
