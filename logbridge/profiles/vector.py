"""The ``vector`` profile: Vector's ``kubernetes_logs`` source, legacy log namespace.

Why: platforms running Vector search ``kubernetes.pod_name`` etc. in ``vector-*``
indices. Document as Vector writes it (src/sources/kubernetes_logs/mod.rs and
pod_metadata_annotator.rs): ``file`` (the ``/var/log/pods`` path Vector tails),
``message``, ``source_type``, ``stream``, ``timestamp`` (RFC 3339, AutoSi
precision), and ``kubernetes.*`` with literal label keys, ``container_id`` with its
scheme, ``container_image`` from the pod spec, ``pod_owner`` as ``Kind/name``.
Keys sorted, as Vector's JSON encoder emits its BTreeMap. Checked against a real
Vector 0.58 (tests/golden/vector/real): ``_partial`` on merged events, no container
id / image for init containers, ``pod_annotation_fields`` renames that nest dotted
paths, pods filtered by ``extra_label_selector`` / ``vector.dev/exclude`` and files by
``exclude_paths_glob_patterns``, the sink's ``bulk.action`` (``index`` by default).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.naming import pod_log_path
from logbridge.profiles.options import (
    OptionError,
    OptionSpec,
    option,
    option_specs,
    parse_model,
    parse_options,
)
from logbridge.profiles.spec import ProfileSpec
from logbridge.records import PodRef
from logbridge.routing import IndexTemplate, TemplateError
from logbridge.selecting import Requirement, SelectorError, matches, parse_selector

__all__ = ["NAME", "OPTIONS", "SPEC", "Vector", "VectorOptions"]

NAME = "vector"
# Vector's field names (pod_metadata_annotator.rs FieldsSpec) and default paths
FIELDS: dict[str, str] = {
    "pod_annotation_fields.pod_name": "kubernetes.pod_name",
    "pod_annotation_fields.pod_namespace": "kubernetes.pod_namespace",
    "pod_annotation_fields.pod_uid": "kubernetes.pod_uid",
    "pod_annotation_fields.pod_ip": "kubernetes.pod_ip",
    "pod_annotation_fields.pod_ips": "kubernetes.pod_ips",
    "pod_annotation_fields.pod_labels": "kubernetes.pod_labels",
    "pod_annotation_fields.pod_annotations": "kubernetes.pod_annotations",
    "pod_annotation_fields.pod_node_name": "kubernetes.pod_node_name",
    "pod_annotation_fields.pod_owner": "kubernetes.pod_owner",
    "pod_annotation_fields.container_name": "kubernetes.container_name",
    "pod_annotation_fields.container_id": "kubernetes.container_id",
    "pod_annotation_fields.container_image": "kubernetes.container_image",
    "pod_annotation_fields.container_image_id": "kubernetes.container_image_id",
    "namespace_annotation_fields.namespace_labels": "kubernetes.namespace_labels",
    "node_annotation_fields.node_labels": "kubernetes.node_labels",
}
RECORD_KEYS = ("_partial", "message", "source_type", "stream", "timestamp")  # written by the core
EXCLUDE_LABEL = "vector.dev/exclude"  # Vector's built-in pod / namespace exclusion
EXCLUDE_CONTAINERS = "vector.dev/exclude-containers"  # pod annotation: container names


@dataclass(frozen=True, slots=True)
class VectorOptions:
    """The profile's options, typed; each field is spelled as Vector's config spells it.
    The field-path options (``pod_annotation_fields.*`` …) are ``paths``, one mapping."""

    index: str = option(
        "index",
        "vector-%Y.%m.%d",
        "elasticsearch sink index template: strftime (UTC) and {{ field }} references to the pod's "
        "fields, e.g. 'logs-{{ kubernetes.pod_namespace }}-%Y.%m.%d'",
    )
    bulk_action: str = option(
        "bulk.action",
        "index",
        "elasticsearch sink bulk action (Vector's default: index; documents keep a deterministic "
        "_id, so a replay overwrites instead of duplicating)",
        ("index", "create"),
    )
    auto_partial_merge: bool = option(
        "auto_partial_merge", True, "merge CRI P/F (and 16 KiB Docker) fragments; off: each fragment an event"
    )
    insert_namespace_fields: bool = option("insert_namespace_fields", True, "add namespace_labels")
    include_annotations: bool = option("include_annotations", True, "add pod_annotations")
    include_node_labels: bool = option("include_node_labels", True, "add node_labels")
    extra_label_selector: str = option(
        "extra_label_selector",
        "",
        "label selector pods must match (e.g. 'k8s-app!=kube-proxy'); pods labelled "
        "vector.dev/exclude=true are always excluded",
    )
    exclude_paths_glob_patterns: str = option(
        "exclude_paths_glob_patterns",
        "",
        "comma-separated globs of /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log paths not to collect",
    )
    parser: str = option(
        "parser", "cri", "container runtime log format on the nodes: cri or docker", ("cri", "docker")
    )


FIELD_OPTIONS: tuple[OptionSpec, ...] = tuple(
    OptionSpec(name, path, f"path of {name.split('.')[1]} ('' leaves it out; dots nest)")
    for name, path in FIELDS.items()
)
OPTIONS: tuple[OptionSpec, ...] = option_specs(VectorOptions) + FIELD_OPTIONS
_PATH_KEYS = frozenset(name.lower() for name in FIELDS)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = doc
    for p in parents:
        child = node.get(p)
        if not isinstance(child, dict):
            child = node[p] = {}
        node = child
    node[leaf] = value


def _runs(top: Mapping[str, Any]) -> tuple[bytes, ...]:
    """Top-level keys (sorted) in six runs around the core's per-record keys."""
    runs: list[list[bytes]] = [[] for _ in range(len(RECORD_KEYS) + 1)]
    for key in sorted(top):
        run = sum(1 for r in RECORD_KEYS if r < key)
        runs[run].append(orjson.dumps({key: _sorted(top[key])})[1:-1])
    return tuple(b",".join(r) for r in runs)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value


@dataclass(frozen=True, slots=True)
class Vector:
    opts: VectorOptions
    index: IndexTemplate
    paths: Mapping[str, str]  # FIELDS name -> the path it is written at ("" = left out)
    selector: tuple[Requirement, ...] = ()
    excluded_paths: tuple[str, ...] = ()
    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, object]) -> Vector:
        values = parse_options(NAME, OPTIONS, given)  # every key checked, the paths included
        opts = parse_model(
            VectorOptions, NAME, {k: v for k, v in given.items() if str(k).lower() not in _PATH_KEYS}
        )
        paths = {name: str(values[name]) for name in FIELDS}
        try:
            index = IndexTemplate.checked("vector", opts.index, per_line=frozenset(RECORD_KEYS))
        except TemplateError as exc:
            raise OptionError(f"option index: {exc}") from None
        try:
            selector = parse_selector(opts.extra_label_selector)
        except SelectorError as exc:
            raise OptionError(f"option extra_label_selector: {exc}") from None
        for name, path in paths.items():
            steps = path.split(".")
            if path and (steps[0] in (*RECORD_KEYS, "file") or "" in steps):
                raise OptionError(f"option {name}: {path!r} collides with a key of every event or is empty")
        globs = tuple(g.strip() for g in opts.exclude_paths_glob_patterns.split(",") if g.strip())
        return cls(opts, index, paths, selector, globs)

    @property
    def parser(self) -> str:
        return self.opts.parser

    @property
    def bulk_action(self) -> str:
        return self.opts.bulk_action

    def core_config(self) -> vnbridge_core.VectorConfig:
        return {
            "profile": "vector",
            "index": "" if self.index.dynamic else self.opts.index,
            "index_from_fragment": self.index.dynamic,
            "auto_partial_merge": self.opts.auto_partial_merge,
        }

    def fragment(self, ref: PodRef, res: Resolved) -> tuple[bytes, ...] | None:
        """The pod's top-level keys (``file``, ``kubernetes`` or renamed paths) in runs
        around the per-record keys; None when Vector would not collect the file."""
        top = self.head(ref, res)
        if self._excluded(top["file"], res):
            return None
        if self.index.dynamic:  # the index pattern of this pod (the core adds each record's date)
            return (*_runs(top), self.index.resolve(top))
        return _runs(top)

    def _excluded(self, path: str, res: Resolved) -> bool:
        pod = res.pod
        if any(fnmatch.fnmatchcase(path, g) for g in self.excluded_paths):
            return True
        if pod is None:
            return False
        if pod.labels.get(EXCLUDE_LABEL) == "true" or pod.namespace_labels.get(EXCLUDE_LABEL) == "true":
            return True
        skip = {c.strip() for c in pod.annotations.get(EXCLUDE_CONTAINERS, "").split(",")}
        return (res.container is not None and res.container.name in skip) or not matches(
            self.selector, pod.labels
        )

    def head(self, ref: PodRef, res: Resolved) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "container_name": ref.container,
            "pod_name": ref.pod,
            "pod_namespace": ref.namespace,
        }
        pod, c = res.pod, res.container
        if pod is not None:
            fields["pod_uid"] = pod.uid
            if pod.labels:  # pod_metadata_annotator.rs inserts one field per label: none -> absent
                fields["pod_labels"] = dict(pod.labels)
            if self.opts.include_annotations and pod.annotations:
                fields["pod_annotations"] = dict(pod.annotations)
            if pod.node_name:
                fields["pod_node_name"] = pod.node_name
            if pod.pod_ip:
                fields["pod_ip"] = pod.pod_ip
                fields["pod_ips"] = list(pod.pod_ips or (pod.pod_ip,))
            if pod.owners:
                fields["pod_owner"] = f"{pod.owners[0].kind}/{pod.owners[0].name}"
            if self.opts.insert_namespace_fields and pod.namespace_labels:
                fields["namespace_labels"] = dict(pod.namespace_labels)
            if self.opts.include_node_labels and pod.node_labels:
                fields["node_labels"] = dict(pod.node_labels)
        init = pod is not None and ref.container in pod.init_containers
        if c is not None and not init:  # Vector annotates init containers by name only
            if c.container_id:
                fields["container_id"] = c.container_id
            if c.spec_image:
                fields["container_image"] = c.spec_image
            if c.image_id:
                fields["container_image_id"] = c.image_id
        restart = c.restart_count if c is not None else 0
        top: dict[str, Any] = {
            "file": pod_log_path(
                namespace=ref.namespace,
                pod=ref.pod,
                uid=pod.uid if pod else "",
                container=ref.container,
                restart=restart,
            ),
        }
        for name in FIELDS:
            short = name.split(".", 1)[1]
            if short in fields and (path := self.paths[name]):
                _put(top, path, fields[short])
        return top


SPEC = ProfileSpec(NAME, OPTIONS, Vector.from_options)
