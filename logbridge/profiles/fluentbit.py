"""The ``fluent-bit`` profile: tail (cri/docker parsers) + kubernetes filter + es/kafka output.

Why: reproduce, field for field and in key order, what Fluent Bit 4.x writes for a
line (ground truth: tests/golden/fluent-bit, produced by a real Fluent Bit).
Rules reproduced, each observed there:

* record keys: input fields first (``time, stream, _p, log`` for ``multiline.parser
  cri``; ``log, stream, time`` for docker, ``log`` keeping its ``\\n``), then merged
  body keys, then ``kubernetes`` last;
* ``Merge_Log``: only a JSON object body merges; a body key that repeats a record
  key replaces it at the later position (``stream``, ``time``, ``@timestamp``); a
  body ``kubernetes`` key is always discarded (anti-spoofing: the filter's map wins,
  and with no metadata it is dropped too); ``Merge_Log_Trim`` strips trailing
  newlines of string values; numbers follow Fluent Bit's parser (``1e3`` -> 1);
* ``kubernetes`` map order ``pod_name, namespace_name, pod_id, labels, annotations,
  [ownerReferences], host, pod_ip, container_name, docker_id, container_hash,
  container_image``; empty labels/annotations omitted; a container missing from
  ``containerStatuses`` has no hash/image; a pod with no metadata has no map;
* es output: ``@timestamp`` first (ms, or ns with ``Time_Key_Nanos``), optional tag
  key, ``Replace_Dots`` on every key; kafka output: ``Timestamp_Key`` first.

The per-record half (record keys, Merge_Log, outputs, Generate_ID) is compiled
(core/src/encode.rs); this module owns the options and renders the ``kubernetes``
map once per pod change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.profiles.options import OptionError, OptionSpec, parse_options
from logbridge.records import LogLine

__all__ = ["NAME", "OPTIONS", "FluentBit"]

NAME = "fluent-bit"
OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("multiline.parser", "cri", "tail input parser on the nodes: cri or docker", ("cri", "docker")),
    OptionSpec(
        "Parser",
        "",
        "classic tail Parser instead of multiline.parser: cri or docker (no joining)",
        ("", "cri", "docker"),
    ),
    OptionSpec("Merge_Log", False, "kubernetes filter: merge a JSON object body into the record"),
    OptionSpec("Merge_Log_Key", "", "kubernetes filter: put the merged body under this key"),
    OptionSpec("Merge_Log_Trim", True, "kubernetes filter: trim trailing newlines of merged string values"),
    OptionSpec("Keep_Log", True, "kubernetes filter: keep the original log after merging"),
    OptionSpec("Labels", True, "kubernetes filter: include pod labels"),
    OptionSpec("Annotations", True, "kubernetes filter: include pod annotations"),
    OptionSpec("Owner_References", False, "kubernetes filter: include ownerReferences"),
    OptionSpec(
        "Output",
        "es",
        "which output the DaemonSet uses: es, kafka, or plain (record only)",
        ("es", "kafka", "plain"),
    ),
    OptionSpec("Logstash_Format", False, "es: index <Logstash_Prefix>-<Logstash_DateFormat>"),
    OptionSpec("Logstash_Prefix", "logstash", "es: index prefix with Logstash_Format"),
    OptionSpec("Logstash_DateFormat", "%Y.%m.%d", "es: strftime date suffix (UTC)"),
    OptionSpec("Index", "fluent-bit", "es: index name without Logstash_Format"),
    OptionSpec("Time_Key", "@timestamp", "es: name of the time field"),
    OptionSpec(
        "Time_Key_Format", "%Y-%m-%dT%H:%M:%S", "es: strftime format of the time field (fraction added)"
    ),
    OptionSpec("Time_Key_Nanos", False, "es: nanosecond instead of millisecond fraction"),
    OptionSpec("Include_Tag_Key", False, "es: add the tag under Tag_Key"),
    OptionSpec("Tag_Key", "_flb-key", "es: field name for the tag"),
    OptionSpec("Replace_Dots", False, "es: replace '.' by '_' in every key"),
    OptionSpec("Generate_ID", False, "es: give each document a content-derived _id"),
    OptionSpec("Timestamp_Key", "@timestamp", "kafka: name of the time field"),
    OptionSpec(
        "Timestamp_Format",
        "double",
        "kafka: double, iso8601 or iso8601_ns",
        ("double", "iso8601", "iso8601_ns"),
    ),
    OptionSpec("Tag_Prefix", "kube.var.log.containers.", "tag prefix the tail input uses on the nodes"),
)


@dataclass(frozen=True, slots=True)
class FluentBit:
    opts: Mapping[str, Any]

    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> FluentBit:
        opts = parse_options(NAME, OPTIONS, given)
        for key in ("Logstash_DateFormat", "Time_Key_Format"):
            try:
                vnbridge_core.strftime(str(opts[key]), 0)
            except ValueError as exc:
                raise OptionError(f"option {key}: {exc}") from None
        return cls(opts)

    @property
    def bulk_action(self) -> str:
        return "create"

    @property
    def parser(self) -> str:
        classic = self.opts["Parser"]
        return f"{classic}-classic" if classic else str(self.opts["multiline.parser"])

    def kubernetes(self, line: LogLine, res: Resolved) -> dict[str, Any] | None:
        pod = res.pod
        if pod is None:
            return None
        o = self.opts
        k: dict[str, Any] = {"pod_name": pod.name, "namespace_name": pod.namespace}
        if pod.uid:
            k["pod_id"] = pod.uid
        if o["Labels"] and pod.labels:
            k["labels"] = dict(pod.labels)
        if o["Annotations"] and pod.annotations:
            k["annotations"] = dict(pod.annotations)
        if o["Owner_References"] and pod.owners:
            k["ownerReferences"] = [r.as_api() for r in pod.owners]
        if pod.node_name:
            k["host"] = pod.node_name
        if pod.pod_ip:
            k["pod_ip"] = pod.pod_ip
        k["container_name"] = line.container
        cid = line.container_id or (res.container.bare_id if res.container else "")
        if cid:
            k["docker_id"] = cid
        c = res.container
        if c is not None and c.has_status:
            if c.image_id:
                k["container_hash"] = c.image_id.partition("://")[2] if "://" in c.image_id else c.image_id
            if c.image:
                k["container_image"] = c.image
        return k

    # -- what the core needs ---------------------------------------------------------
    def core_config(self) -> dict[str, object]:
        """Options for the core's per-record half (record keys, Merge_Log, outputs)."""
        return {"profile": NAME, "parser": self.parser, **self.opts}

    def fragment(self, line: LogLine, res: Resolved) -> tuple[bytes, ...]:
        """The ``kubernetes`` map for this pod and container (empty: no metadata)."""
        meta = self.kubernetes(line, res)
        if meta is None:
            return (b"",)
        body = orjson.dumps(meta)
        return (vnbridge_core.replace_dots(body) if self.opts["Replace_Dots"] else body,)
