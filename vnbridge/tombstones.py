"""Deleted pods kept compact: a day of CronJob pods in a few hundred bytes each.

Why: 10,000 CronJobs leave ~400,000 deleted pods a day, and logbridge must still
enrich their late lines for the retention window (24 h by default). A ``PodInfo``
as Python objects costs ~3 KB; at that scale the inventory alone would take more
than a gigabyte. A tombstone here is the pod pickled and deflated against a
*template* — the first pod seen of the same owner (CronJob, Deployment, or the
namespace for bare pods) — so only what differs between two runs of one CronJob
(name suffix, uids, container id, IP, times) takes space: ~150 bytes of blob.
Node and namespace metadata are not copied into the blob; the tombstone keeps
references to the shared ``ObjectMeta`` objects, so a relabelled node re-joins its
tombstones without thawing them. Reading a tombstone (a late line of a pod the
core has no fragment for) thaws it in ~15 µs.
"""

from __future__ import annotations

import pickle
import sys
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from vnbridge.pods import ObjectMeta, PodInfo, with_metas

__all__ = ["Key", "Metas", "Tombstones", "concerns"]

Key = tuple[str, str]
# (node name, namespace, node meta, namespace meta) -> the metas the pod should carry now
Pair = tuple[ObjectMeta | None, ObjectMeta | None]
Metas = Callable[[str, str, ObjectMeta | None, ObjectMeta | None], Pair]
_MAX_TEMPLATES = 65536  # distinct owners remembered; tombstones keep their own template alive


class _Tomb(NamedTuple):
    blob: bytes  # the pod without node/namespace metadata, pickled, deflated against template
    template: bytes
    uid: str
    node_name: str
    node_meta: ObjectMeta | None
    namespace_meta: ObjectMeta | None
    expires: float


def concerns(pod_node: str, pod_namespace: str, *, node: str | None, namespace: str | None) -> bool:
    """A pod on ``pod_node`` in ``pod_namespace`` is one a change of ``node`` /
    ``namespace`` re-joins (every pod when both are None)."""
    return (node is None or pod_node == node) and (namespace is None or pod_namespace == namespace)


def _owner_key(pod: PodInfo) -> Key:
    top = pod.owner_chain[-1].name if pod.owner_chain else ""
    return (pod.namespace, top)


class Tombstones:
    """Compact deleted pods by (namespace, name) and by uid, expiring in burial order."""

    def __init__(self) -> None:
        self._tombs: dict[Key, _Tomb] = {}
        self._by_uid: dict[str, Key] = {}
        self._templates: dict[Key, bytes] = {}

    def __len__(self) -> int:
        return len(self._tombs)

    def bury(self, pod: PodInfo, expires: float) -> None:
        bare = replace(pod, node_meta=None, node_labels={}, namespace_meta=None, namespace_labels={})
        raw = pickle.dumps(bare, protocol=5)
        owner = _owner_key(pod)
        template = self._templates.get(owner)
        if template is None:
            if len(self._templates) >= _MAX_TEMPLATES:
                self._templates.clear()  # buried tombstones hold their own reference
            template = self._templates[owner] = raw
        deflate = zlib.compressobj(1, zdict=template)
        blob = deflate.compress(raw) + deflate.flush()
        key = (sys.intern(pod.namespace), pod.name)
        self.pop(key)  # a re-buried name moves to the end (burial order = expiry order)
        uid = pod.uid
        self._tombs[key] = _Tomb(
            blob,
            template,
            uid,
            sys.intern(pod.node_name),
            pod.node_meta,
            pod.namespace_meta,
            expires,
        )
        if uid:
            self._by_uid[uid] = key

    def expired(self, key: Key, now: float) -> bool:
        """The tombstone is there and its time is up (checked before thawing it)."""
        tomb = self._tombs.get(key)
        return tomb is not None and tomb.expires <= now

    def get(self, key: Key) -> PodInfo | None:
        """The pod, thawed, with its node/namespace metadata."""
        tomb = self._tombs.get(key)
        if tomb is None:
            return None
        inflate = zlib.decompressobj(zdict=tomb.template)
        bare: PodInfo = pickle.loads(inflate.decompress(tomb.blob) + inflate.flush())
        return with_metas(bare, tomb.node_meta, tomb.namespace_meta)

    def key_of(self, uid: str) -> Key | None:
        return self._by_uid.get(uid)

    def pop(self, key: Key) -> bool:
        tomb = self._tombs.pop(key, None)
        if tomb is None:
            return False
        if tomb.uid and self._by_uid.get(tomb.uid) == key:
            del self._by_uid[tomb.uid]
        return True

    def expire(self, now: float) -> list[Key]:
        """Drop every tombstone whose time is up; returns their keys. Burial order is
        expiry order (one retention for all), so this stops at the first live one."""
        gone: list[Key] = []
        for key, tomb in self._tombs.items():
            if tomb.expires > now:
                break
            gone.append(key)
        for key in gone:
            self.pop(key)
        return gone

    def rejoin(self, metas: Metas, *, node: str | None = None, namespace: str | None = None) -> list[Key]:
        """Point the tombstones of ``node`` / ``namespace`` (all when both are None) at the
        metadata ``metas`` gives; returns the keys whose metadata changed."""
        changed: list[Key] = []
        for key, tomb in self._tombs.items():
            if not concerns(tomb.node_name, key[0], node=node, namespace=namespace):
                continue
            new_node, new_ns = metas(tomb.node_name, key[0], tomb.node_meta, tomb.namespace_meta)
            if new_node is tomb.node_meta and new_ns is tomb.namespace_meta:
                continue
            self._tombs[key] = tomb._replace(node_meta=new_node, namespace_meta=new_ns)
            if new_node != tomb.node_meta or new_ns != tomb.namespace_meta:
                changed.append(key)
        return changed
