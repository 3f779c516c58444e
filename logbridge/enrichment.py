"""Resolve a record's pod metadata: live inventory, then tombstone, then what the
provider embedded in the record.

Why: the anchors lose metadata for pods gone before their lines are processed; we
look up tombstones, and for a pod the inventory never saw we fall back to the
record's own metadata, so the document is as complete as the input allows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from logbridge.records import PodRef
from vnbridge.inventory import Lookup
from vnbridge.pods import ContainerInfo, PodInfo, owner_chain

__all__ = ["Resolved", "Source", "resolve"]


class Source(enum.StrEnum):
    LIVE = "live"
    TOMBSTONE = "tombstone"
    EMBEDDED = "embedded"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Resolved:
    pod: PodInfo | None
    container: ContainerInfo | None
    source: Source


def _from_embedded(ref: PodRef) -> PodInfo | None:
    emb = ref.embedded
    if emb is None:
        return None
    cont = ContainerInfo(
        name=ref.container,
        container_id=f"containerd://{ref.container_id}" if ref.container_id else "",
        image=emb.image,
        image_id=emb.image_id,
        spec_image=emb.image,
        has_status=bool(emb.image),
    )
    return PodInfo(
        namespace=ref.namespace,
        name=ref.pod,
        uid=emb.pod_uid,
        labels=emb.labels,
        annotations=emb.annotations,
        node_name=emb.host,
        pod_ip=emb.pod_ip,
        pod_ips=(emb.pod_ip,) if emb.pod_ip else (),
        containers=(cont,),
        owner_chain=owner_chain(()),
        namespace_labels=emb.namespace_labels,
    )


def resolve(ref: PodRef, lookup: Lookup | None) -> Resolved:
    hit = lookup.by_name(ref.namespace, ref.pod) if lookup is not None else None
    if hit is None and lookup is not None and ref.embedded is not None and ref.embedded.pod_uid:
        hit = lookup.by_uid(ref.embedded.pod_uid)
    if hit is not None:
        pod, tomb = hit
        return Resolved(pod, pod.container(ref.container), Source.TOMBSTONE if tomb else Source.LIVE)
    emb = _from_embedded(ref)
    if emb is not None:
        return Resolved(emb, emb.containers[0], Source.EMBEDDED)
    return Resolved(None, None, Source.NONE)
