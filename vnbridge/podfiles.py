"""Load a pod inventory from files: a directory of Pod JSON/YAML, or a
``kubectl get pods -o json`` list.

Why: ``logbridge convert`` must run with no cluster at all (the embedded default),
and tests need pods from fixtures. A file may also hold Namespace and Node objects,
whose labels feed the pods' ``namespace_labels`` / ``node_labels``. Files named like
``<namespace>_<pod>.deleted.json`` (or Pods with ``metadata.deletionTimestamp``) are
loaded as tombstones, as if the watch had seen the pod go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from vnbridge.inventory import MemoryInventory
from vnbridge.pods import ObjectMeta, object_meta, pod_from_object

__all__ = ["PodFileError", "load_inventory"]


class PodFileError(Exception):
    """A pods file cannot be read or is not a Pod / List; not retriable."""

    retriable = False


def _objects(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        if doc.get("kind", "").endswith("List") or ("items" in doc and "kind" not in doc):
            for item in doc.get("items") or []:
                yield from _objects(item)
        else:
            yield doc
    elif isinstance(doc, list):
        for item in doc:
            yield from _objects(item)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PodFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        if path.suffix == ".json":
            docs: list[Any] = [orjson.loads(raw)]
        else:
            docs = list(yaml.safe_load_all(raw))
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise PodFileError(f"{path}: not valid JSON/YAML ({exc})") from exc
    return [o for d in docs for o in _objects(d)]


def load_inventory(path: Path, *, retention_s: float = 86400.0) -> MemoryInventory:
    """Read every Pod (and Namespace / Node for their labels) under ``path``."""
    if not path.exists():
        raise PodFileError(f"{path}: no such file or directory")
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in {".json", ".yaml", ".yml"} and p.is_file())
        if path.is_dir()
        else [path]
    )
    objects = [(f, o) for f in files for o in _read(f)]
    namespaces: dict[str, ObjectMeta] = {}
    nodes: dict[str, ObjectMeta] = {}
    for _, obj in objects:
        if obj.get("kind") == "Namespace":
            ns = object_meta(obj)
            namespaces[ns.name] = ns
        elif obj.get("kind") == "Node":
            node = object_meta(obj)
            nodes[node.name] = node
    inv = MemoryInventory(retention_s=retention_s)
    for f, obj in objects:
        if obj.get("kind", "Pod") != "Pod":
            continue
        meta = obj.get("metadata") or {}
        pod = pod_from_object(
            obj,
            namespace=namespaces.get(str(meta.get("namespace", "default"))),
            node=nodes.get(str((obj.get("spec") or {}).get("nodeName", ""))),
        )
        if not pod.name:
            raise PodFileError(f"{f}: a Pod without metadata.name")
        inv.upsert(pod)
        if meta.get("deletionTimestamp") or ".deleted." in f.name:
            inv.delete(pod.namespace, pod.name)
    return inv
