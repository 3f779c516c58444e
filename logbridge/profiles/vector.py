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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.naming import pod_log_path
from logbridge.profiles.options import OptionError, OptionSpec, parse_options
from logbridge.records import LogLine

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
        opts = parse_options(NAME, OPTIONS, given)
        try:
            vnbridge_core.strftime(str(opts["index"]), 0)
        except ValueError as exc:
            raise OptionError(f"option index: {exc}") from None
        return cls(opts)

    @property
    def parser(self) -> str:
        return str(self.opts["parser"])

    def core_config(self) -> dict[str, object]:
        return {"profile": NAME, "index": self.opts["index"]}

    def fragment(self, line: LogLine, res: Resolved) -> tuple[bytes, ...]:
        """``file`` and ``kubernetes`` (keys sorted): what precedes ``message``."""
        return (orjson.dumps(_sorted(self.head(line, res)))[1:-1],)

    def head(self, line: LogLine, res: Resolved) -> dict[str, Any]:
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
        return {
            "file": pod_log_path(
                namespace=line.namespace,
                pod=line.pod,
                uid=pod.uid if pod else "",
                container=line.container,
                restart=restart,
            ),
            "kubernetes": k,
        }
