"""The pod inventory: what vnbridge knows about every pod, alive or recently gone.

Why: logs of a CronJob pod are often processed after the pod was deleted; every
DaemonSet collector loses the metadata then (fluent-bit#2670, beats#36822,
vector#22849). The inventory keeps deleted pods as tombstones for a retention
window, so every line of a pod that ever existed is enriched in full. Live pods are
plain frozen values (``vnbridge.pods``); tombstones are compact (``tombstones``) so a
day of 10,000 CronJobs fits. The store is fed by a file loader (podfiles) or the
live watch, and read by logbridge (enrichment) and metricsbridge (allow-list).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from vnbridge.pods import PodInfo, with_metas
from vnbridge.tombstones import Key, Metas, Tombstones, concerns

__all__ = ["Inventory", "Lookup", "MemoryInventory"]


class Lookup(Protocol):
    """What logbridge enrichment needs: find a pod by identity, tell if it is a tombstone."""

    def by_name(self, namespace: str, name: str) -> tuple[PodInfo, bool] | None: ...

    def by_uid(self, uid: str) -> tuple[PodInfo, bool] | None: ...


class Inventory(Lookup, Protocol):
    def pods(self) -> Iterable[PodInfo]: ...


class MemoryInventory:
    """An index by (namespace, name) and by uid, with tombstones for deleted pods.

    ``by_name`` / ``by_uid`` return ``(pod, is_tombstone)``. Tombstones expire after
    ``retention_s`` seconds (0 keeps none: discovery and metricsbridge never read
    them): on lookup, and in a sweep that burying a pod runs at most every
    ``sweep_every_s`` — so thousands of CronJob pods a day, whose names are never
    looked up again, cannot pile up in any process that holds an inventory.
    ``on_expired`` is told the keys each sweep drops (logbridge forgets their
    rendered fragments).
    """

    def __init__(
        self,
        *,
        retention_s: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
        sweep_every_s: float = 60.0,
    ) -> None:
        self._retention = retention_s
        self._clock = clock
        self._sweep_every = sweep_every_s
        self._next_sweep = clock() + sweep_every_s
        self._live: dict[Key, PodInfo] = {}
        self._by_uid: dict[str, Key] = {}
        self._tombs = Tombstones()
        self._expired_on_lookup: list[Key] = []
        self.on_expired: Callable[[list[Key]], None] | None = None

    def upsert(self, pod: PodInfo) -> None:
        key = (pod.namespace, pod.name)
        old = self._live.get(key)
        if old is not None and old.uid and old.uid != pod.uid:
            self._bury(old)  # same name, new pod (CronJob reuse or StatefulSet)
        self._live[key] = pod
        if pod.uid:
            self._by_uid[pod.uid] = key
        self._tombs.pop(key)

    def delete(self, namespace: str, name: str) -> None:
        pod = self._live.pop((namespace, name), None)
        if pod is not None:
            self._bury(pod)

    def _bury(self, pod: PodInfo) -> None:
        if pod.uid and self._by_uid.get(pod.uid) == (pod.namespace, pod.name):
            del self._by_uid[pod.uid]
        now = self._clock()
        if self._retention > 0:
            self._tombs.bury(pod, now + self._retention)
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_every
            self.expire()

    def rejoin(self, metas: Metas, *, node: str | None = None, namespace: str | None = None) -> list[Key]:
        """Give every pod of ``node`` / ``namespace`` (all pods when both are None), live
        and tombstoned, the metadata ``metas`` answers; returns the keys whose metadata
        changed. Called when node or namespace metadata changes, so reads stay plain
        dictionary lookups."""
        changed: list[Key] = []
        for key, pod in self._live.items():
            if not concerns(pod.node_name, pod.namespace, node=node, namespace=namespace):
                continue
            new = with_metas(pod, *metas(pod.node_name, pod.namespace, pod.node_meta, pod.namespace_meta))
            if new is not pod:
                self._live[key] = new
                if new.node_meta != pod.node_meta or new.namespace_meta != pod.namespace_meta:
                    changed.append(key)
        changed.extend(self._tombs.rejoin(metas, node=node, namespace=namespace))
        return changed

    def replace_all(self, pods: Iterable[PodInfo]) -> None:
        """A relist: pods not in ``pods`` become tombstones, the rest are upserted."""
        fresh = {(p.namespace, p.name): p for p in pods}
        for key in list(self._live):
            if key not in fresh:
                self.delete(*key)
        for pod in fresh.values():
            self.upsert(pod)

    def _tomb(self, key: Key) -> PodInfo | None:
        if self._tombs.expired(key, self._clock()):
            self._tombs.pop(key)
            self._expired_on_lookup.append(key)  # told in the next sweep (not from inside a lookup)
            return None
        return self._tombs.get(key)

    def by_name(self, namespace: str, name: str) -> tuple[PodInfo, bool] | None:
        pod = self._live.get((namespace, name))
        if pod is not None:
            return pod, False
        tomb = self._tomb((namespace, name))
        return (tomb, True) if tomb is not None else None

    def by_uid(self, uid: str) -> tuple[PodInfo, bool] | None:
        key = self._by_uid.get(uid)
        if key is not None:
            return self._live[key], False
        key = self._tombs.key_of(uid)
        if key is None:
            return None
        tomb = self._tomb(key)
        return (tomb, True) if tomb is not None and tomb.uid == uid else None

    def expire(self) -> int:
        """Drop expired tombstones; returns how many were dropped."""
        gone = self._tombs.expire(self._clock())
        gone.extend(self._expired_on_lookup)
        self._expired_on_lookup = []
        if gone and self.on_expired is not None:
            self.on_expired(gone)
        return len(gone)

    def pods(self) -> list[PodInfo]:
        return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)

    @property
    def tombstones(self) -> int:
        return len(self._tombs)
