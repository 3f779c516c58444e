"""The ``vector`` profile: Vector's ``kubernetes_logs`` source, legacy log namespace.

Why: platforms running Vector search ``kubernetes.pod_name`` etc. in ``vector-*``
indices. Document as Vector writes it (src/sources/kubernetes_logs/mod.rs and
pod_metadata_annotator.rs): ``file`` (the ``/var/log/pods`` path Vector tails),
``message``, ``source_type``, ``stream``, ``timestamp`` (RFC 3339, AutoSi
precision), and ``kubernetes.*`` with literal label keys, ``container_id`` with its
scheme, ``container_image`` from the pod spec, ``pod_owner`` as ``Kind/name``.
Keys sorted, as Vector's JSON encoder emits its BTreeMap.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from logbridge.enrichment import Resolved
from logbridge.naming import pod_log_path
from logbridge.profiles.options import OptionSpec, parse_options
from logbridge.records import LogLine
from logbridge.timefmt import format_rfc3339

__all__ = ["NAME", "OPTIONS", "Vector"]

NAME = "vector"
OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("index", "vector-%Y.%m.%d", "elasticsearch sink index (strftime, UTC)"),
    OptionSpec("insert_namespace_fields", True, "add namespace_labels"),
    OptionSpec("include_annotations", True, "add pod_annotations"),
    OptionSpec("include_node_labels", True, "add node_labels"),
    OptionSpec(
        "parser", "cri", "container runtime log format on the nodes: cri or docker", ("cri", "docker")
    ),
)


def autosi(ts_ns: int) -> str:
    """chrono's ``SecondsFormat::AutoSi``: 0, 3, 6 or 9 fraction digits, the fewest exact."""
    ns = ts_ns % 1_000_000_000
    digits = 0 if ns == 0 else 3 if ns % 1_000_000 == 0 else 6 if ns % 1000 == 0 else 9
    return format_rfc3339(ts_ns, digits)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value


@dataclass(frozen=True, slots=True)
class Vector:
    opts: Mapping[str, Any]
    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Vector:
        return cls(parse_options(NAME, OPTIONS, given))

    @property
    def parser(self) -> str:
        return str(self.opts["parser"])

    def encode(self, line: LogLine, res: Resolved) -> Any:
        from logbridge.profiles import Encoded

        k: dict[str, Any] = {
            "container_name": line.container,
            "pod_name": line.pod,
            "pod_namespace": line.namespace,
        }
        pod, c = res.pod, res.container
        if pod is not None:
            k["pod_uid"] = pod.uid
            if pod.labels:  # pod_metadata_annotator.rs inserts one field per label: none -> absent
                k["pod_labels"] = dict(pod.labels)
            if self.opts["include_annotations"] and pod.annotations:
                k["pod_annotations"] = dict(pod.annotations)
            if pod.node_name:
                k["pod_node_name"] = pod.node_name
            if pod.pod_ip:
                k["pod_ip"] = pod.pod_ip
                k["pod_ips"] = list(pod.pod_ips or (pod.pod_ip,))
            if pod.owners:
                k["pod_owner"] = f"{pod.owners[0].kind}/{pod.owners[0].name}"
            if self.opts["insert_namespace_fields"] and pod.namespace_labels:
                k["namespace_labels"] = dict(pod.namespace_labels)
            if self.opts["include_node_labels"] and pod.node_labels:
                k["node_labels"] = dict(pod.node_labels)
        if c is not None:
            if c.container_id:
                k["container_id"] = c.container_id
            if c.spec_image:
                k["container_image"] = c.spec_image
            if c.image_id:
                k["container_image_id"] = c.image_id
        restart = c.restart_count if c is not None else 0
        doc: dict[str, Any] = {
            "file": pod_log_path(
                namespace=line.namespace,
                pod=line.pod,
                uid=pod.uid if pod else "",
                container=line.container,
                restart=restart,
            ),
            "kubernetes": k,
            "message": line.text,
            "source_type": "kubernetes_logs",
            "stream": line.stream,
            "timestamp": autosi(line.ts_ns),
        }
        index = time.strftime(str(self.opts["index"]), time.gmtime(line.ts_ns // 1_000_000_000))
        return Encoded(_sorted(doc), index, None)
