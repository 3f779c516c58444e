"""The ``filebeat`` profile: filestream + ``container`` parser + ``add_kubernetes_metadata``.

Why: platforms running Filebeat search ECS fields (``kubernetes.pod.name``,
``kubernetes.namespace``, ``container.id``) in ``filebeat-<version>``. Document as
Filebeat 8 writes it (libbeat/processors/add_kubernetes_metadata, libbeat's
kubernetes metadata generators, filebeat/input/filestream): ``@timestamp`` in
milliseconds, ``message``, ``stream``, ``log.file.path`` (the
``/var/log/containers`` name), ``input.type``,
``container.{id,runtime,image.name}``, ``kubernetes.{pod,namespace,labels (dedot),
container,node,replicaset|deployment|job|cronjob}``, ``agent``, ``ecs.version``.
``log.offset`` is omitted: there is no node file whose byte offset it could name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from logbridge.enrichment import Resolved
from logbridge.naming import container_log_path
from logbridge.profiles.options import OptionSpec, parse_options
from logbridge.records import LogLine
from logbridge.timefmt import format_rfc3339

__all__ = ["NAME", "OPTIONS", "Filebeat"]

NAME = "filebeat"
OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("version", "8.19.0", "Filebeat version: data stream filebeat-<version>, agent.version"),
    OptionSpec("labels.dedot", True, "add_kubernetes_metadata: '.' -> '_' in label keys"),
    OptionSpec("annotations.dedot", True, "add_kubernetes_metadata: '.' -> '_' in annotation keys"),
    OptionSpec("include_annotations", "", "comma-separated annotation keys to include"),
    OptionSpec("add_resource_metadata.namespace", True, "add namespace labels"),
    OptionSpec("add_resource_metadata.node", True, "add node labels"),
    OptionSpec(
        "add_resource_metadata.deployment", False, "add kubernetes.deployment.name from the owner chain"
    ),
    OptionSpec("add_resource_metadata.cronjob", False, "add kubernetes.cronjob.name from the owner chain"),
    OptionSpec(
        "input.type",
        "filestream",
        "input type written to input.type: filestream or container",
        ("filestream", "container"),
    ),
    OptionSpec("agent.name", "", "agent.name / host.name (defaults to the pod's node name)"),
)


def _dedot(m: Mapping[str, str], on: bool) -> dict[str, str]:
    return {k.replace(".", "_"): v for k, v in m.items()} if on else dict(m)


@dataclass(frozen=True, slots=True)
class Filebeat:
    opts: Mapping[str, Any]
    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Filebeat:
        return cls(parse_options(NAME, OPTIONS, given))

    @property
    def parser(self) -> str:
        return "cri"

    def encode(self, line: LogLine, res: Resolved) -> Any:
        from logbridge.profiles import Encoded

        o = self.opts
        pod, c = res.pod, res.container
        cid = line.container_id or (c.bare_id if c else "")
        k8s: dict[str, Any] = {
            "container": {"name": line.container},
            "namespace": line.namespace,
            "pod": {"name": line.pod},
        }
        container: dict[str, Any] = {"id": cid}
        if c is not None:
            if c.runtime:
                container["runtime"] = c.runtime
            if c.spec_image or c.image:
                container["image"] = {"name": c.spec_image or c.image}
                k8s["container"]["image"] = c.spec_image or c.image
        node = ""
        if pod is not None:
            node = pod.node_name
            k8s["pod"]["uid"] = pod.uid
            if pod.pod_ip:
                k8s["pod"]["ip"] = pod.pod_ip
            if pod.labels:
                k8s["labels"] = _dedot(pod.labels, bool(o["labels.dedot"]))
            wanted = [a.strip() for a in str(o["include_annotations"]).split(",") if a.strip()]
            ann = {a: pod.annotations[a] for a in wanted if a in pod.annotations}
            if ann:
                k8s["annotations"] = _dedot(ann, bool(o["annotations.dedot"]))
            if o["add_resource_metadata.namespace"] and pod.namespace_labels:
                k8s["namespace_labels"] = _dedot(pod.namespace_labels, bool(o["labels.dedot"]))
            if node:
                k8s["node"] = {"name": node, "hostname": node}
                if o["add_resource_metadata.node"] and pod.node_labels:
                    k8s["node"]["labels"] = _dedot(pod.node_labels, bool(o["labels.dedot"]))
            for ref in pod.owner_chain:
                kind = ref.kind.lower()
                if (
                    kind in ("replicaset", "job")
                    or (kind == "deployment" and o["add_resource_metadata.deployment"])
                    or (kind == "cronjob" and o["add_resource_metadata.cronjob"])
                ):
                    k8s[kind] = {"name": ref.name}
        host = str(o["agent.name"]) or node
        doc: dict[str, Any] = {
            "@timestamp": format_rfc3339(line.ts_ns, 3),
            "agent": {"name": host, "type": "filebeat", "version": o["version"]},
            "container": container,
            "ecs": {"version": "8.0.0"},
            "host": {"name": host},
            "input": {"type": o["input.type"]},
            "kubernetes": k8s,
            "log": {
                "file": {
                    "path": container_log_path(
                        pod=line.pod, namespace=line.namespace, container=line.container, container_id=cid
                    )
                }
            },
            "message": line.text,
            "stream": line.stream,
        }
        return Encoded(doc, f"filebeat-{o['version']}", None)
