"""The ``filebeat`` profile: filestream + ``container`` parser + ``add_kubernetes_metadata``.

Why: platforms running Filebeat search ECS fields (``kubernetes.pod.name``,
``kubernetes.namespace``, ``container.id``) in ``filebeat-<version>``. The document
follows Filebeat 8's own code, rule by rule (tests/golden/filebeat/README.md cites
each file): the container indexer's metadata (``kubernetes.container.name``; ECS
``container.{id,runtime,image.name}`` from the container *status*), the pod
metadata generator (``pod.{name,uid,ip}``, ``namespace``, controller owners, labels
and annotations with ``safemapstr``/dedot rules, node and namespace resource
metadata), the container parser (``stream``, CRI time, partial lines joined) and the
JSON codec (``@timestamp`` in UTC milliseconds).

Node-local fields (``log.offset``, ``log.file.inode``/``device_id``/``fingerprint``,
``agent.id``/``ephemeral_id``) name a file and a Filebeat process that do not exist
for a virtual node, so they are omitted rather than invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.naming import container_log_path
from logbridge.profiles.conditions import DropEvent, drop_event, one_processor
from logbridge.profiles.options import NO_FIELDS, OptionError, OptionSpec, option, option_specs, parse_model
from logbridge.profiles.spec import ProfileSpec
from logbridge.records import PodRef
from logbridge.routing import IndexTemplate, TemplateError
from vnbridge.pods import ObjectMeta, PodInfo

__all__ = ["CHECKED", "NAME", "OPTIONS", "SPEC", "Filebeat", "FilebeatOptions", "safe_put"]

NAME = "filebeat"
# options whose documents make test compares with a real Filebeat's, document by document
# (tests/integration/test_filebeat_differential.py; a unit test keeps this list honest)
CHECKED = frozenset(
    {
        "version",
        "agent.name",
        "orchestrator.cluster.name",
        "orchestrator.cluster.url",
        "labels.dedot",
        "annotations.dedot",
        "include_labels",
        "exclude_labels",
        "use_regex_include",
        "include_annotations",
        "add_resource_metadata.deployment",
        "add_resource_metadata.cronjob",
        "add_resource_metadata.namespace.enabled",
        "add_resource_metadata.namespace.include_labels",
        "add_resource_metadata.namespace.labels.dedot",
        "add_resource_metadata.node.enabled",
        "add_resource_metadata.node.include_labels",
        "add_resource_metadata.node.exclude_labels",
        "index",
        "fields",
        "fields_under_root",
        "add_fields",
        "include_lines",
        "exclude_lines",
        "drop_event",
    }
)
_RM = "add_resource_metadata"


@dataclass(frozen=True, slots=True)
class FilebeatOptions:
    """The profile's options, typed; each field is spelled as the collector spells it."""

    version: str = option(
        "version", "8.19.0", "Filebeat version: data stream filebeat-<version>, agent.version"
    )
    labels_dedot: bool = option(
        "labels.dedot", True, "'.' -> '_' in pod label keys (off: dotted keys nest, as safemapstr does)"
    )
    annotations_dedot: bool = option("annotations.dedot", True, "'.' -> '_' in pod annotation keys")
    include_labels: str = option(
        "include_labels", "", "comma-separated pod label keys; when set, only those labels"
    )
    exclude_labels: str = option(
        "exclude_labels", "", "comma-separated pod label keys to drop (wins over include_labels)"
    )
    use_regex_include: bool = option(
        "use_regex_include", False, "include_labels / include_annotations are regexps, not exact keys"
    )
    include_annotations: str = option(
        "include_annotations", "", "comma-separated pod annotation keys to add (none by default)"
    )
    rm_namespace_enabled: bool = option(
        f"{_RM}.namespace.enabled", True, "add namespace_uid / namespace_labels"
    )
    rm_namespace_include_labels: str = option(
        f"{_RM}.namespace.include_labels", "", "namespace label keys; when set, only those"
    )
    rm_namespace_exclude_labels: str = option(
        f"{_RM}.namespace.exclude_labels", "", "namespace label keys to drop"
    )
    rm_namespace_labels_dedot: bool = option(
        f"{_RM}.namespace.labels.dedot", True, "'.' -> '_' in namespace label keys"
    )
    rm_namespace_annotations_dedot: bool = option(
        f"{_RM}.namespace.annotations.dedot", True, "'.' -> '_' in namespace annotation keys"
    )
    rm_namespace_include_annotations: str = option(
        f"{_RM}.namespace.include_annotations", "", "namespace annotation keys to add"
    )
    rm_node_enabled: bool = option(f"{_RM}.node.enabled", True, "add node uid / hostname / labels")
    rm_node_include_labels: str = option(
        f"{_RM}.node.include_labels", "", "node label keys; when set, only those"
    )
    rm_node_exclude_labels: str = option(f"{_RM}.node.exclude_labels", "", "node label keys to drop")
    rm_node_labels_dedot: bool = option(f"{_RM}.node.labels.dedot", True, "'.' -> '_' in node label keys")
    rm_node_annotations_dedot: bool = option(
        f"{_RM}.node.annotations.dedot", True, "'.' -> '_' in node annotation keys"
    )
    rm_node_include_annotations: str = option(
        f"{_RM}.node.include_annotations", "", "node annotation keys to add"
    )
    rm_deployment: bool = option(
        f"{_RM}.deployment", False, "add kubernetes.deployment.name (ReplicaSet -> Deployment)"
    )
    rm_cronjob: bool = option(f"{_RM}.cronjob", False, "add kubernetes.cronjob.name (Job -> CronJob)")
    orchestrator_cluster_name: str = option(
        "orchestrator.cluster.name", "", "orchestrator.cluster.name (Filebeat reads it from kubeadm-config)"
    )
    orchestrator_cluster_url: str = option("orchestrator.cluster.url", "", "orchestrator.cluster.url")
    index: str = option(
        "index",
        "",
        "output.elasticsearch.index format string, e.g. 'logs-%{[kubernetes.namespace]}-%{+yyyy.MM.dd}' "
        "(pod fields; lower-cased as Filebeat does); empty: the data stream filebeat-<version>",
    )
    fields: Mapping[str, object] = option(
        "fields",
        NO_FIELDS,
        "input fields added to every event, under 'fields' (or the root with fields_under_root)",
    )
    fields_under_root: bool = option("fields_under_root", False, "put the input's fields at the event's root")
    add_fields: Mapping[str, object] = option(
        "add_fields",
        NO_FIELDS,
        "add_fields processors: Filebeat's list of {target, fields} (target default 'fields', '' = root) "
        "or {target: fields}",
    )
    drop_event: Mapping[str, object] = option(
        "drop_event",
        NO_FIELDS,
        "drop_event processors: {when: <condition>} or a list of them (equals, contains, regexp, range, "
        "has_fields, or, and, not); on pod fields decided per pod, on message/stream per line",
    )
    include_lines: tuple[str, ...] = option(
        "include_lines",
        (),
        "filestream: regexps (a YAML list); only lines matching one of them are kept (applied first)",
    )
    exclude_lines: tuple[str, ...] = option(
        "exclude_lines", (), "filestream: regexps (a YAML list); lines matching any of them are dropped"
    )
    input_type: str = option(
        "input.type",
        "filestream",
        "input type written to input.type: filestream or container",
        ("filestream", "container"),
    )
    agent_name: str = option(
        "agent.name", "", "agent.name / host.name (default: the node's hostname, else its name)"
    )


OPTIONS: tuple[OptionSpec, ...] = option_specs(FilebeatOptions)
_PER_RECORD = frozenset({"@timestamp", "message", "stream"})
_CONTROLLERS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"})


def _processor_form(given: Mapping[str, object]) -> Mapping[str, object]:
    """``add_fields`` as Filebeat writes the processors — a list of ``{target, fields}``
    (target ``fields`` when left out, ``""`` for the root) — becomes ``{target: fields}``;
    a list of ``drop_event`` processors becomes one whose condition is their ``or``."""
    if "drop_event" in given:
        given = {**given, "drop_event": one_processor(given["drop_event"])}
    for key, value in given.items():
        if str(key).lower() != "add_fields" or not isinstance(value, list):
            continue
        merged: dict[str, dict[str, object]] = {}
        for proc in value:
            if not isinstance(proc, Mapping) or not isinstance(proc.get("fields"), Mapping):
                raise OptionError(f"option add_fields: {proc!r} is not {{target, fields}}")
            target = str(proc.get("target", "fields"))
            merged.setdefault(target, {}).update(proc["fields"])
        return {**given, key: merged}
    return given


def _deep_update(doc: dict[str, Any], values: Mapping[str, Any]) -> None:
    """libbeat's DeepUpdate: maps merge key by key, anything else overwrites."""
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(doc.get(key), dict):
            _deep_update(doc[key], value)
        else:
            doc[key] = dict(value) if isinstance(value, Mapping) else value


def safe_put(data: dict[str, Any], key: str, value: Any) -> None:
    """Put a dotted key the way Beats' ``safemapstr.Put`` does: dots nest, and a
    scalar in the way moves to ``<key>.value`` instead of being overwritten."""
    while True:
        if key in data:
            old = data[key]
            if isinstance(old, dict):
                data, key = old, "value"
            break
        idx = key.find(".")
        if idx < 0:
            break
        head, key = key[:idx], key[idx + 1 :]
        sub = data.get(head)
        if sub is None:
            sub = data[head] = {}
        elif not isinstance(sub, dict):
            sub = data[head] = {"value": sub}
        data = sub
    data[key] = value


def _delete(data: dict[str, Any], key: str) -> None:
    """``mapstr.Delete``: the exact key first, else walk the dotted path."""
    while True:
        if key in data:
            del data[key]
            return
        idx = key.find(".")
        sub = data.get(key[:idx]) if idx >= 0 else None
        if not isinstance(sub, dict):
            return
        data, key = sub, key[idx + 1 :]


def _keys(text: str) -> tuple[str, ...]:
    return tuple(k for k in (s.strip() for s in str(text).split(",")) if k)


def _patterns(text: str, option: str, regex: bool) -> tuple[re.Pattern[str], ...]:
    """Include lists: exact keys (GenerateMapSubset), or unanchored regexps with
    ``use_regex_include`` (GenerateMapSubsetWithRegex)."""
    out = []
    for p in _keys(text):
        if not regex:
            out.append(re.compile(rf"\A{re.escape(p)}\Z"))
            continue
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise OptionError(f"option {option}: {p!r} is not a regular expression ({exc.msg})") from None
    return tuple(out)


def _put_all(items: Iterable[tuple[str, str]], dedot: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in items:
        if dedot:
            out[k.replace(".", "_")] = v
        else:
            safe_put(out, k, v)
    return out


def _subset(m: Mapping[str, str], pats: tuple[re.Pattern[str], ...], dedot: bool) -> dict[str, Any]:
    # generateMapSubset: each pattern in turn, every key it matches
    return _put_all(((k, m[k]) for p in pats for k in m if p.search(k)), dedot)


def _labels_of(
    m: Mapping[str, str], include: tuple[re.Pattern[str], ...], exclude: tuple[str, ...], dedot: bool
) -> dict[str, Any]:
    """Labels as add_kubernetes_metadata writes them: excluded keys never appear (they
    win over an include of the same key), then the include subset (or all), dedotted or
    nested."""
    kept = {k: v for k, v in m.items() if k not in exclude}
    out = _subset(kept, include, dedot) if include else _put_all(kept.items(), dedot)
    for key in exclude:  # a dotted exclude also removes the nested path (mapstr Delete)
        _delete(out, key)
    return out


@dataclass(frozen=True, slots=True)
class Filebeat:
    opts: FilebeatOptions
    index: IndexTemplate
    include_labels: tuple[re.Pattern[str], ...]
    include_annotations: tuple[re.Pattern[str], ...]
    ns_annotations: tuple[re.Pattern[str], ...]
    node_annotations: tuple[re.Pattern[str], ...]
    ns_labels: tuple[re.Pattern[str], ...]
    node_labels: tuple[re.Pattern[str], ...]
    drop: DropEvent
    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, object]) -> Filebeat:
        o = parse_model(FilebeatOptions, NAME, _processor_form(given))
        rooted = [*(o.fields if o.fields_under_root else ()), *o.add_fields.get("", {})]  # type: ignore[misc]
        overwritten = sorted({*rooted, *o.add_fields} & _PER_RECORD)
        if overwritten:
            raise OptionError(
                f"fields / add_fields: {', '.join(overwritten)} is written per line and cannot be set"
            )
        for key, patterns in (("include_lines", o.include_lines), ("exclude_lines", o.exclude_lines)):
            for pattern in patterns:
                if (why := vnbridge_core.regex_error(pattern)) is not None:
                    raise OptionError(
                        f"option {key}: {pattern!r} is not a valid regexp: {why.splitlines()[-1]}"
                    )
        rx = o.use_regex_include
        try:  # (the data stream name is a literal: the template escapes its text)
            index = IndexTemplate.checked(
                "filebeat", o.index or f"filebeat-{o.version}", per_line=_PER_RECORD
            )
        except TemplateError as exc:
            raise OptionError(f"option index: {exc}") from None
        return cls(
            o,
            index,
            _patterns(o.include_labels, "include_labels", rx),
            _patterns(o.include_annotations, "include_annotations", rx),
            _patterns(o.rm_namespace_include_annotations, f"{_RM}.namespace.include_annotations", False),
            _patterns(o.rm_node_include_annotations, f"{_RM}.node.include_annotations", False),
            _patterns(o.rm_namespace_include_labels, f"{_RM}.namespace.include_labels", False),
            _patterns(o.rm_node_include_labels, f"{_RM}.node.include_labels", False),
            drop_event(dict(o.drop_event)) if o.drop_event else DropEvent([], []),
        )

    @property
    def bulk_action(self) -> str:
        return "create"

    @property
    def parser(self) -> str:
        return "cri"

    def _labels(self, labels: Mapping[str, str]) -> dict[str, Any]:
        exclude = _keys(self.opts.exclude_labels)
        return _labels_of(labels, self.include_labels, exclude, self.opts.labels_dedot)

    def _node(self, pod: PodInfo) -> dict[str, Any]:
        node: dict[str, Any] = {"name": pod.node_name}
        if not self.opts.rm_node_enabled:
            return node
        meta = pod.node_meta or ObjectMeta(pod.node_name, labels=pod.node_labels)
        if meta.uid:
            node["uid"] = meta.uid
        o = self.opts
        labels = _labels_of(
            meta.labels,
            self.node_labels,
            _keys(o.rm_node_exclude_labels),
            o.rm_node_labels_dedot,
        )
        if labels:
            node["labels"] = labels
        ann = _subset(meta.annotations, self.node_annotations, o.rm_node_annotations_dedot)
        if ann:
            node["annotations"] = ann
        if meta.hostname:
            node["hostname"] = meta.hostname
        return node

    def _kubernetes(self, ref: PodRef, pod: PodInfo) -> dict[str, Any]:
        o = self.opts
        k8s: dict[str, Any] = {"pod": {"name": pod.name}, "namespace": pod.namespace}
        if pod.uid:
            k8s["pod"]["uid"] = pod.uid
        if o.rm_namespace_enabled:
            ns = pod.namespace_meta
            if ns is not None and ns.uid:
                k8s["namespace_uid"] = ns.uid
            ns_labels = ns.labels if ns is not None else pod.namespace_labels
            ns_labels = _labels_of(
                ns_labels,
                self.ns_labels,
                _keys(o.rm_namespace_exclude_labels),
                o.rm_namespace_labels_dedot,
            )
            if ns_labels:
                k8s["namespace_labels"] = ns_labels
            ns_dedot = o.rm_namespace_annotations_dedot
            ns_ann = _subset(ns.annotations, self.ns_annotations, ns_dedot) if ns is not None else {}
            if ns_ann:
                k8s["namespace_annotations"] = ns_ann
        for owner in pod.owners:
            if owner.controller and owner.kind in _CONTROLLERS:
                safe_put(k8s, f"{owner.kind.lower()}.name", owner.name)
        chain = {r.kind: r.name for r in pod.owner_chain}
        if o.rm_deployment and "replicaset" in k8s and chain.get("Deployment"):
            k8s["deployment"] = {"name": chain["Deployment"]}
        if o.rm_cronjob and "job" in k8s and chain.get("CronJob"):
            k8s["cronjob"] = {"name": chain["CronJob"]}
        labels = self._labels(pod.labels)
        if labels:
            k8s["labels"] = labels
        ann = _subset(pod.annotations, self.include_annotations, o.annotations_dedot)
        if ann:
            k8s["annotations"] = ann
        k8s["container"] = {"name": ref.container}
        k8s["node"] = self._node(pod)
        if pod.pod_ip:
            k8s["pod"]["ip"] = pod.pod_ip
        return k8s

    def core_config(self) -> vnbridge_core.FilebeatConfig:
        return {
            "profile": "filebeat",
            "index": "" if self.index.dynamic else self.index.resolve({}).decode(),
            "index_from_fragment": self.index.dynamic,
            "include_lines": list(self.opts.include_lines),
            "exclude_lines": list(self.opts.exclude_lines),
            "drop_event": orjson.dumps(line).decode() if (line := self.drop.core_json()) else "",
        }

    def fragment(self, ref: PodRef, res: Resolved) -> tuple[bytes, ...] | None:
        """Everything of the document but ``@timestamp``, ``message`` and ``stream``:
        the keys between them (``agent`` … ``log``) and the tail (``orchestrator``);
        None when a ``drop_event`` condition on the pod's fields drops its lines."""
        doc = self.document(ref, res)
        if self.drop.drops_pod(doc):
            return None
        middle = {k: v for k, v in doc.items() if k not in _PER_RECORD and k != "orchestrator"}
        tail = b',"orchestrator":' + orjson.dumps(doc["orchestrator"]) if "orchestrator" in doc else b""
        if self.index.dynamic:  # the index pattern of this pod (the core adds each record's date)
            return orjson.dumps(middle)[1:-1], tail, self.index.resolve(doc)
        return orjson.dumps(middle)[1:-1], tail

    def document(self, ref: PodRef, res: Resolved) -> dict[str, Any]:
        """The document of ``ref``'s records but their time, message and stream (which
        the core writes per record; here they are empty)."""
        o = self.opts
        pod, c = res.pod, res.container
        cid = ref.container_id or (c.bare_id if c else "")
        container: dict[str, Any] = {"id": cid}
        if c is not None:
            if c.runtime:
                container["runtime"] = c.runtime
            if c.image or c.spec_image:
                container["image"] = {"name": c.image or c.spec_image}
        if pod is not None:
            k8s = self._kubernetes(ref, pod)
            node = pod.node_meta.hostname if pod.node_meta and pod.node_meta.hostname else pod.node_name
        else:
            k8s = {
                "container": {"name": ref.container},
                "namespace": ref.namespace,
                "pod": {"name": ref.pod},
            }
            node = ""
        host = o.agent_name or node
        doc: dict[str, Any] = {
            "@timestamp": "",
            "agent": {"name": host, "type": "filebeat", "version": o.version},
            "container": container,
            "ecs": {"version": "8.0.0"},
            "host": {"name": host},
            "input": {"type": o.input_type},
            "kubernetes": k8s,
            "log": {
                "file": {
                    "path": container_log_path(
                        pod=ref.pod, namespace=ref.namespace, container=ref.container, container_id=cid
                    )
                }
            },
            "message": "",  # per record: the core writes the line's own
            "stream": "",
        }
        cluster = {
            k: v for k, v in (("name", o.orchestrator_cluster_name), ("url", o.orchestrator_cluster_url)) if v
        }
        if cluster:
            doc["orchestrator"] = {"cluster": cluster}
        if o.fields:  # the input's fields, then the add_fields processors (after add_kubernetes_metadata)
            _deep_update(doc, dict(o.fields) if o.fields_under_root else {"fields": dict(o.fields)})
        for target, values in o.add_fields.items():
            _deep_update(doc, dict(values) if not target else {target: dict(values)})  # type: ignore[call-overload]
        return doc


SPEC = ProfileSpec(NAME, OPTIONS, Filebeat.from_options, checked=CHECKED)
