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
from typing import Any, cast

import orjson
import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.profiles.options import (
    OptionError,
    OptionSpec,
    option,
    option_specs,
    option_values,
    parse_model,
)
from logbridge.profiles.spec import ProfileSpec
from logbridge.records import PodRef

__all__ = ["NAME", "OPTIONS", "SPEC", "FluentBit", "FluentBitOptions", "excluded"]

NAME = "fluent-bit"


@dataclass(frozen=True, slots=True)
class FluentBitOptions:
    """The profile's options, typed; each field is spelled as the collector spells it."""

    multiline_parser: str = option(
        "multiline.parser", "cri", "tail input parser on the nodes: cri or docker", ("cri", "docker")
    )
    parser: str = option(
        "Parser",
        "",
        "classic tail Parser instead of multiline.parser: cri or docker (no joining)",
        ("", "cri", "docker"),
    )
    merge_log: bool = option(
        "Merge_Log", False, "kubernetes filter: merge a JSON object body into the record"
    )
    merge_log_key: str = option("Merge_Log_Key", "", "kubernetes filter: put the merged body under this key")
    merge_log_trim: bool = option(
        "Merge_Log_Trim", True, "kubernetes filter: trim trailing newlines of merged string values"
    )
    keep_log: bool = option("Keep_Log", True, "kubernetes filter: keep the original log after merging")
    labels: bool = option("Labels", True, "kubernetes filter: include pod labels")
    annotations: bool = option("Annotations", True, "kubernetes filter: include pod annotations")
    k8s_logging_exclude: bool = option(
        "K8S-Logging.Exclude",
        False,
        'kubernetes filter: drop the lines of pods annotated fluentbit.io/exclude: "true"',
    )
    owner_references: bool = option("Owner_References", False, "kubernetes filter: include ownerReferences")
    record_modifier_record: tuple[str, ...] = option(
        "record_modifier.Record",
        (),
        "filter record_modifier (after kubernetes): 'key value' lines appended to every record",
    )
    modify_add: tuple[str, ...] = option(
        "modify.Add",
        (),
        "filter modify (after record_modifier): 'key value' lines added when the record lacks the key",
    )
    output: str = option(
        "Output",
        "es",
        "which output the DaemonSet uses: es, kafka, or plain (record only)",
        ("es", "kafka", "plain"),
    )
    logstash_format: bool = option(
        "Logstash_Format", False, "es: index <Logstash_Prefix>-<Logstash_DateFormat>"
    )
    logstash_prefix: str = option("Logstash_Prefix", "logstash", "es: index prefix with Logstash_Format")
    logstash_prefix_key: str = option(
        "Logstash_Prefix_Key",
        "",
        "es: record accessor whose value replaces Logstash_Prefix, e.g. $kubernetes['namespace_name'] "
        "(missing or empty: Logstash_Prefix; an index Elasticsearch refuses: dead letter bad_index)",
    )
    logstash_prefix_separator: str = option(
        "Logstash_Prefix_Separator", "-", "es: between the prefix and the date with Logstash_Format"
    )
    logstash_dateformat: str = option("Logstash_DateFormat", "%Y.%m.%d", "es: strftime date suffix (UTC)")
    index: str = option("Index", "fluent-bit", "es: index name without Logstash_Format")
    time_key: str = option("Time_Key", "@timestamp", "es: name of the time field")
    time_key_format: str = option(
        "Time_Key_Format", "%Y-%m-%dT%H:%M:%S", "es: strftime format of the time field (fraction added)"
    )
    time_key_nanos: bool = option("Time_Key_Nanos", False, "es: nanosecond instead of millisecond fraction")
    include_tag_key: bool = option("Include_Tag_Key", False, "es: add the tag under Tag_Key")
    tag_key: str = option("Tag_Key", "_flb-key", "es: field name for the tag")
    replace_dots: bool = option("Replace_Dots", False, "es: replace '.' by '_' in every key")
    generate_id: bool = option("Generate_ID", False, "es: give each document a content-derived _id")
    timestamp_key: str = option("Timestamp_Key", "@timestamp", "kafka: name of the time field")
    timestamp_format: str = option(
        "Timestamp_Format",
        "double",
        "kafka: double, iso8601 or iso8601_ns",
        ("double", "iso8601", "iso8601_ns"),
    )
    tag_prefix: str = option(
        "Tag_Prefix", "kube.var.log.containers.", "tag prefix the tail input uses on the nodes"
    )


OPTIONS: tuple[OptionSpec, ...] = option_specs(FluentBitOptions)


def _pair_options(opts: FluentBitOptions) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("record_modifier.Record", opts.record_modifier_record), ("modify.Add", opts.modify_add))


def _pairs(key: str, lines: tuple[str, ...]) -> list[tuple[str, str]]:
    """Fluent Bit's ``Record`` / ``Add`` lines: the key, then the rest of the line as the value."""
    out: list[tuple[str, str]] = []
    for entry in lines:
        parts = entry.split(None, 1)
        if len(parts) != 2:
            raise OptionError(f"option {key}: {entry!r} is not 'key value'")
        out.append((parts[0], parts[1].strip()))
    return out


_ANNOTATION_PREFIX = "fluentbit.io/"
_TRUE_WORDS = frozenset({"true", "on", "yes"})  # flb_utils_bool


def _prop_is(name: str, prop: str) -> bool:
    # kube_property.c prop_cmp: strncmp over the shorter of the two lengths
    n = min(len(name), len(prop))
    return name[:n] == prop[:n]


def excluded(annotations: Mapping[str, str]) -> bool:
    """Fluent Bit's reading of a pod's ``fluentbit.io/*`` annotations (kube_property.c):
    a property that is not a ``parser*`` one and compares equal to ``exclude`` over the
    shorter length (so ``exclude``, ``exclude-<anything>``) sets the pod's exclude flag to
    its value as a boolean (true / on / yes); the last one read wins, and the API
    serialises annotations in key order."""
    flag = False
    for key in sorted(annotations):
        if not key.startswith(_ANNOTATION_PREFIX):
            continue
        prop = key[len(_ANNOTATION_PREFIX) :]
        if _prop_is("parser", prop):
            continue
        if _prop_is("exclude", prop):
            flag = annotations[key].lower() in _TRUE_WORDS
    return flag


@dataclass(frozen=True, slots=True)
class FluentBit:
    opts: FluentBitOptions

    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, object]) -> FluentBit:
        opts = parse_model(FluentBitOptions, NAME, given)
        for key, fmt in (
            ("Logstash_DateFormat", opts.logstash_dateformat),
            ("Time_Key_Format", opts.time_key_format),
        ):
            try:
                vnbridge_core.strftime(fmt, 0)
            except ValueError as exc:
                raise OptionError(f"option {key}: {exc}") from None
        for key, lines in _pair_options(opts):
            _pairs(key, lines)
        if opts.logstash_prefix_key and (
            why := vnbridge_core.record_accessor_error(opts.logstash_prefix_key)
        ):
            raise OptionError(f"option Logstash_Prefix_Key: {why}")
        if opts.output == "es":
            static = (
                opts.logstash_prefix
                + opts.logstash_prefix_separator
                + vnbridge_core.strftime(opts.logstash_dateformat, 0)
                if opts.logstash_format
                else opts.index
            )
            if (why := vnbridge_core.index_name_error(static)) is not None:
                key = "Logstash_Prefix" if opts.logstash_format else "Index"
                raise OptionError(f"option {key}: {why}")
        return cls(opts)

    @property
    def bulk_action(self) -> str:
        return "create"

    @property
    def parser(self) -> str:
        classic = self.opts.parser
        return f"{classic}-classic" if classic else self.opts.multiline_parser

    def kubernetes(self, ref: PodRef, res: Resolved) -> dict[str, Any] | None:
        pod = res.pod
        if pod is None:
            return None
        o = self.opts
        k: dict[str, Any] = {"pod_name": pod.name, "namespace_name": pod.namespace}
        if pod.uid:
            k["pod_id"] = pod.uid
        if o.labels and pod.labels:
            k["labels"] = dict(pod.labels)
        if o.annotations and pod.annotations:
            k["annotations"] = dict(pod.annotations)
        if o.owner_references and pod.owners:
            k["ownerReferences"] = [r.as_api() for r in pod.owners]
        if pod.node_name:
            k["host"] = pod.node_name
        if pod.pod_ip:
            k["pod_ip"] = pod.pod_ip
        k["container_name"] = ref.container
        cid = ref.container_id or (res.container.bare_id if res.container else "")
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
    def core_config(self) -> vnbridge_core.FluentBitConfig:
        """Options for the core's per-record half (record keys, Merge_Log, outputs): exactly
        the keys the core reads for this profile (it refuses any other)."""
        reads = set(vnbridge_core.profile_keys(NAME))
        values: dict[str, object] = {"profile": NAME, "parser": self.parser}
        values |= {k: v for k, v in option_values(self.opts).items() if k in reads}
        for key, lines in _pair_options(self.opts):
            values[key] = _pairs(key, lines)  # the core takes (key, value) pairs, parsed here only
        return cast("vnbridge_core.FluentBitConfig", values)

    def fragment(self, ref: PodRef, res: Resolved) -> tuple[bytes, ...] | None:
        """The ``kubernetes`` map for this pod and container (empty: no metadata); None
        when ``K8S-Logging.Exclude`` is on and the pod asks to be excluded."""
        if self.opts.k8s_logging_exclude and res.pod is not None and excluded(res.pod.annotations):
            return None
        meta = self.kubernetes(ref, res)
        if meta is None:
            return (b"",)
        body = orjson.dumps(meta)
        return (vnbridge_core.replace_dots(body) if self.opts.replace_dots else body,)


SPEC = ProfileSpec(NAME, OPTIONS, FluentBit.from_options)
