"""The ``fluent-bit`` profile: tail (cri/docker parsers) + kubernetes filter + es/kafka output.

Why: reproduce, field for field and in key order, what Fluent Bit 4.x writes for a
line (ground truth: shared/golden/fluent-bit, produced by a real Fluent Bit).
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
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mmh3
import msgpack  # type: ignore[import-untyped]
import orjson

from logbridge.enrichment import Resolved
from logbridge.naming import container_log_path
from logbridge.profiles.options import OptionSpec, parse_options
from logbridge.records import LogLine
from logbridge.timefmt import format_rfc3339

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

_EXPONENT = re.compile(r"\d[eE][-+]?\d")
_INT_RE = re.compile(r"[-+]?\d+")
_U64 = 2**64 - 1
_I64_MIN = -(2**63)


def _fb_number(token: str) -> int | float:
    """Fluent Bit's JSON numbers: no '.' -> strtoll/strtoull prefix (so 1e3 -> 1)."""
    if "." in token:
        return float(token)
    m = _INT_RE.match(token)
    value = int(m.group(0)) if m else 0
    return max(_I64_MIN, min(_U64, value))


def fb_json_object(text: str) -> dict[str, Any] | None:
    """The body as Fluent Bit's kubernetes filter reads it: a JSON object or None."""
    body = text.strip()
    if not body.startswith("{") or not body.endswith("}"):
        return None
    if not _EXPONENT.search(body):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = None  # may still be valid with >64-bit integers: try the slow path
        else:
            return obj if isinstance(obj, dict) else None
    try:
        obj = json.loads(body, parse_float=_fb_number, parse_int=_fb_number, parse_constant=lambda c: None)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _trim(value: Any) -> Any:
    """Merge_Log_Trim: drop trailing newlines and escaped ``\\n``/``\\r`` (never the first char)."""
    if not isinstance(value, str):
        return value
    end = len(value)
    i = end - 1
    while i > 0:
        if value[i] == "\n":
            end -= 1
            i -= 1
            continue
        if value[i - 1] == "\\" and value[i] in "nr":
            end -= 2
            i -= 2
            continue
        break
    return value[:end]


def _dedot(value: Any) -> Any:
    """Replace_Dots: '.' -> '_' in every key, at every depth (scalars are returned as is)."""
    if type(value) is dict:
        out = {}
        for k, v in value.items():
            if "." in k:
                k = k.replace(".", "_")
            out[k] = _dedot(v) if type(v) is dict or type(v) is list else v
        return out
    if type(value) is list:
        return [_dedot(v) if type(v) is dict or type(v) is list else v for v in value]
    return value


@dataclass(frozen=True, slots=True)
class FluentBit:
    opts: Mapping[str, Any]

    name = NAME

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> FluentBit:
        return cls(parse_options(NAME, OPTIONS, given))

    @property
    def parser(self) -> str:
        classic = self.opts["Parser"]
        return f"{classic}-classic" if classic else str(self.opts["multiline.parser"])

    # -- the record the kubernetes filter emits ------------------------------------
    def base_record(self, line: LogLine) -> dict[str, Any]:
        parser = self.parser
        if parser == "cri":
            return {
                "time": line.time_text,
                "stream": line.stream,
                "_p": "P" if line.first_partial or line.partial else "F",
                "log": line.text,
            }
        if parser == "docker":
            return {
                "log": line.text if line.partial else line.text + "\n",
                "stream": line.stream,
                "time": line.time_text,
            }
        if parser == "cri-classic":
            # the stock cri parser's Time_Format needs a fraction; without one the
            # parse fails and Fluent Bit drops the time key (observed in the goldens)
            rec: dict[str, Any] = {"time": line.time_text} if "." in line.time_text else {}
            rec.update(stream=line.stream, logtag="P" if line.partial else "F")
            if line.text:
                rec["message"] = line.text
            return rec
        return {
            "log": line.text if line.partial else line.text + "\n",
            "stream": line.stream,
            "time": line.time_text,
        }

    def merge(self, record: dict[str, Any]) -> dict[str, Any]:
        o = self.opts
        log = record.get("log")
        body = fb_json_object(log) if o["Merge_Log"] and isinstance(log, str) else None
        if body is None:
            return record
        keep = o["Keep_Log"]
        if o["Merge_Log_Key"]:
            out = {k: v for k, v in record.items() if keep or k != "log"}
            if body:
                nested = {k: _trim(v) for k, v in body.items()} if o["Merge_Log_Trim"] else body
                out[o["Merge_Log_Key"]] = nested
            return out
        body.pop("kubernetes", None)  # anti-spoofing: a body never sets metadata
        out = {k: v for k, v in record.items() if k not in body and (keep or k != "log")}
        for k, v in body.items():
            out[k] = _trim(v) if o["Merge_Log_Trim"] else v
        return out

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

    def record(self, line: LogLine, res: Resolved) -> dict[str, Any]:
        rec = self.merge(self.base_record(line))
        rec.pop("kubernetes", None)
        meta = self.kubernetes(line, res)
        if meta is not None:
            rec["kubernetes"] = meta
        return rec

    # -- outputs ------------------------------------------------------------------
    def tag(self, line: LogLine) -> str:
        path = container_log_path(
            pod=line.pod, namespace=line.namespace, container=line.container, container_id=line.container_id
        )
        return str(self.opts["Tag_Prefix"]) + path.rsplit("/", 1)[1]

    def encode(self, line: LogLine, res: Resolved) -> Any:
        from logbridge.profiles import Encoded

        o = self.opts
        rec = self.record(line, res)
        secs, ns = divmod(line.ts_ns, 1_000_000_000)
        if o["Output"] == "plain":
            return Encoded(rec, "", None)
        if o["Output"] == "kafka":
            fmt = o["Timestamp_Format"]
            ts: Any = (
                line.ts_ns / 1e9
                if fmt == "double"
                else format_rfc3339(line.ts_ns, 6 if fmt == "iso8601" else 9)
            )
            key = str(o["Timestamp_Key"])
            doc = {key: ts, **{k: v for k, v in rec.items() if k != key}}
            return Encoded(doc, "", None)
        gm = time.gmtime(secs)
        frac = f"{ns:09d}Z" if o["Time_Key_Nanos"] else f"{ns // 1_000_000:03d}Z"
        key = str(o["Time_Key"])
        doc = {key: rec[key] if key in rec else time.strftime(str(o["Time_Key_Format"]), gm) + "." + frac}
        if o["Include_Tag_Key"]:
            doc[str(o["Tag_Key"])] = self.tag(line)
        for k, v in rec.items():
            if k != key:
                doc[k] = v
        if o["Replace_Dots"]:
            doc = _dedot(doc)
        index = (
            f"{o['Logstash_Prefix']}-{time.strftime(str(o['Logstash_DateFormat']), gm)}"
            if o["Logstash_Format"]
            else str(o["Index"])
        )
        return Encoded(doc, index, generate_id(doc) if o["Generate_ID"] else None)


def generate_id(doc: Mapping[str, Any]) -> str:
    """Fluent Bit's ``Generate_ID``: MurmurHash3 x64/128 (seed 42) of the record as
    msgpack, printed as eight little-endian 16-bit words (plugins/out_es/es.c)."""
    try:
        data = msgpack.packb(doc)
    except (OverflowError, TypeError, ValueError):  # an integer beyond 64 bits: still stable
        data = json.dumps(doc).encode()
    words = struct.unpack("<8H", mmh3.hash_bytes(data, 42, True))
    w = [f"{x:04x}" for x in words]
    return f"{w[0]}{w[1]}-{w[2]}-{w[3]}-{w[4]}-{w[5]}{w[6]}{w[7]}"
