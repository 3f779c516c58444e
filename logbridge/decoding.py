"""Decode provider records, whatever their shape, into ``LogLine`` values.

Why: providers ship container output to Kafka in their own formats and the exact
bytes are not published (DESIGN §3), so every record is sniffed on its own: Tencent
EKS default (Fluent Bit-like ``log``/``stream``/``time``/``kubernetes``), its
``filebeat`` metadata format, the CLS flat keys, a raw CRI line, a Docker json-file
line. What no decoder can read becomes a ``DeadLetter`` with a fixed reason; this
module never raises on input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from logbridge.naming import FileIdentity
from logbridge.records import DeadLetter, Embedded, LogLine, Reason
from logbridge.timefmt import TimestampError, format_rfc3339, parse_rfc3339

__all__ = ["NO_CONTEXT", "SHAPES", "Context", "decode"]

_CRI = re.compile(r"(\S+) (stdout|stderr) ([PF])(?: (.*))?\Z", re.DOTALL)
_HEADER_KEYS = {
    "namespace": ("k8s.namespace", "namespace", "kubernetes.namespace_name"),
    "pod": ("k8s.pod", "pod", "pod_name", "kubernetes.pod_name"),
    "container": ("k8s.container", "container", "container_name", "kubernetes.container_name"),
    "container_id": ("k8s.container_id", "container_id", "docker_id"),
}
_MAX_TEXT = 16 * 1024 * 1024


class Context(NamedTuple):
    """Where a record came from, for identity the record itself does not carry."""

    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    file: FileIdentity | None = None


NO_CONTEXT = Context()


class _Bad(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _identity(ctx: Context) -> dict[str, str]:
    """Pod identity from the file name, then headers, then a ``ns/pod/container`` key."""
    ident: dict[str, str] = {}
    if ctx.file is not None:
        ident = {
            "namespace": ctx.file.namespace,
            "pod": ctx.file.pod,
            "container": ctx.file.container,
            "container_id": ctx.file.container_id,
        }
    if ctx.headers:
        hdr = {k.lower(): v for k, v in ctx.headers}
        for field, names in _HEADER_KEYS.items():
            for n in names:
                if field not in ident and n in hdr:
                    ident[field] = hdr[n].decode("utf-8", "replace")
    if ctx.key and "pod" not in ident:
        parts = ctx.key.decode("utf-8", "replace").split("/")
        if len(parts) >= 3:
            ident.setdefault("namespace", parts[0])
            ident.setdefault("pod", parts[1])
            ident.setdefault("container", parts[2])
    return ident


def _time_from(value: Any) -> tuple[int, str]:
    """A record timestamp (RFC 3339 text or epoch number) -> (ns, text as written)."""
    if isinstance(value, str):
        try:
            return parse_rfc3339(value), value
        except TimestampError as exc:
            raise _Bad(Reason.BAD_TIMESTAMP, str(exc)) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        mag = abs(value)
        scale = 1e9 if mag < 1e11 else 1e6 if mag < 1e14 else 1e3 if mag < 1e17 else 1.0
        ns = round(value * scale) if isinstance(value, float) else int(value * int(scale))
        return ns, format_rfc3339(ns)
    raise _Bad(Reason.BAD_TIMESTAMP, f"timestamp of type {type(value).__name__}")


def _need(ident: Mapping[str, str]) -> None:
    if not ident.get("namespace") or not ident.get("pod"):
        raise _Bad(Reason.NO_IDENTITY, "record names no namespace/pod and the context gives none")


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _str_map(v: Any) -> dict[str, str]:
    return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else {}


def _bare_id(cid: str) -> str:
    return cid.partition("://")[2] if "://" in cid else cid


def _text_and_partial(text: Any, tag: Any, *, docker_style: bool) -> tuple[str, bool]:
    if not isinstance(text, str):
        text = "" if text is None else orjson.dumps(text).decode()
    if docker_style:  # Docker json-file: a complete line ends with "\n"
        if text.endswith("\n"):
            return text[:-1], False
        return text, True
    if text.endswith("\n"):
        text = text[:-1]
    return text, tag == "P"


def _from_eks(obj: dict[str, Any], ctx: Context) -> LogLine:
    """Tencent EKS default / fluent-bit metadata format."""
    k8s = _dict(obj.get("kubernetes"))
    ident = _identity(ctx)
    ident = {
        "namespace": str(k8s.get("namespace_name") or ident.get("namespace", "")),
        "pod": str(k8s.get("pod_name") or ident.get("pod", "")),
        "container": str(k8s.get("container_name") or ident.get("container", "")),
        "container_id": _bare_id(
            str(k8s.get("docker_id") or k8s.get("container_id") or ident.get("container_id", ""))
        ),
    }
    _need(ident)
    ts_ns, ttext = _time_from(obj["time"] if "time" in obj else obj.get("@timestamp"))
    text, partial = _text_and_partial(obj.get("log"), obj.get("_p", obj.get("logtag")), docker_style=False)
    emb = Embedded(
        pod_uid=str(k8s.get("pod_id", "")),
        labels=_str_map(k8s.get("labels")),
        annotations=_str_map(k8s.get("annotations")),
        host=str(k8s.get("host", "")),
        pod_ip=str(k8s.get("pod_ip", "")),
        image=str(k8s.get("container_image", "")),
        image_id=str(k8s.get("container_hash", "")),
    )
    return _line(ts_ns, ttext, obj.get("stream"), text, partial, ident, emb, "eks")


def _from_filebeat(obj: dict[str, Any], ctx: Context) -> LogLine:
    """The provider's ``filebeat`` metadata format (ECS-like nesting)."""
    k8s = _dict(obj["kubernetes"])
    pod = _dict(k8s.get("pod"))
    cont = _dict(k8s.get("container"))
    ecs_c = _dict(obj.get("container"))
    ns = k8s.get("namespace")
    ident = _identity(ctx)
    ident = {
        "namespace": str(ns if isinstance(ns, str) else ident.get("namespace", "")),
        "pod": str(pod.get("name") or ident.get("pod", "")),
        "container": str(cont.get("name") or ident.get("container", "")),
        "container_id": _bare_id(str(ecs_c.get("id") or ident.get("container_id", ""))),
    }
    _need(ident)
    ts_ns, ttext = _time_from(obj.get("@timestamp"))
    text, partial = _text_and_partial(obj.get("message"), None, docker_style=False)
    image = _dict(ecs_c.get("image"))
    node = _dict(k8s.get("node"))
    emb = Embedded(
        pod_uid=str(pod.get("uid", "")),
        labels=_str_map(k8s.get("labels")),
        annotations=_str_map(k8s.get("annotations")),
        host=str(node.get("name", "")),
        pod_ip=str(pod.get("ip", "")),
        image=str(cont.get("image") or image.get("name", "")),
    )
    return _line(ts_ns, ttext, obj.get("stream"), text, partial, ident, emb, "filebeat")


def _from_cls(obj: dict[str, Any], ctx: Context) -> LogLine:
    """Tencent CLS flat keys (``pod_name``, ``namespace``, ``pod_label_<k>``, ...)."""
    ident = _identity(ctx)
    ident = {
        "namespace": str(obj.get("namespace") or ident.get("namespace", "")),
        "pod": str(obj.get("pod_name") or ident.get("pod", "")),
        "container": str(obj.get("container_name") or ident.get("container", "")),
        "container_id": _bare_id(str(obj.get("container_id") or ident.get("container_id", ""))),
    }
    _need(ident)
    raw_t = next((obj[k] for k in ("time", "@timestamp", "timestamp", "__TIMESTAMP__") if k in obj), None)
    ts_ns, ttext = _time_from(raw_t)
    body = next((obj[k] for k in ("log", "content", "message", "__CONTENT__") if k in obj), "")
    text, partial = _text_and_partial(body, obj.get("_p", obj.get("logtag")), docker_style=False)
    labels = {k[len("pod_label_") :]: str(v) for k, v in obj.items() if k.startswith("pod_label_")}
    emb = Embedded(
        pod_uid=str(obj.get("pod_uid", "")),
        labels=labels,
        pod_ip=str(obj.get("pod_ip", "")),
        image=str(obj.get("image_name", "")),
        host=str(obj.get("node_name", obj.get("host", ""))),
    )
    return _line(ts_ns, ttext, obj.get("stream"), text, partial, ident, emb, "cls")


def _from_docker(obj: dict[str, Any], ctx: Context) -> LogLine:
    ident = _identity(ctx)
    _need(ident)
    ts_ns, ttext = _time_from(obj.get("time"))
    text, partial = _text_and_partial(obj.get("log"), None, docker_style=True)
    return _line(ts_ns, ttext, obj.get("stream"), text, partial, ident, None, "docker")


def _from_cri(line: str, ctx: Context) -> LogLine:
    m = _CRI.match(line)
    if m is None:
        raise _Bad(Reason.BAD_CRI, "not '<RFC3339> stdout|stderr P|F <message>'")
    ident = _identity(ctx)
    _need(ident)
    ttext, stream, tag, msg = m.groups()
    try:
        ts_ns = parse_rfc3339(ttext)
    except TimestampError as exc:
        raise _Bad(Reason.BAD_TIMESTAMP, str(exc)) from None
    return _line(ts_ns, ttext, stream, msg or "", tag == "P", ident, None, "cri")


def _line(
    ts_ns: int,
    ttext: str,
    stream: Any,
    text: str,
    partial: bool,
    ident: Mapping[str, str],
    emb: Embedded | None,
    shape: str,
) -> LogLine:
    return LogLine(
        ts_ns,
        ttext,
        _stream(stream),
        text,
        partial,
        ident["namespace"],
        ident["pod"],
        ident.get("container", ""),
        ident.get("container_id", ""),
        emb,
        shape,
    )


def _stream(v: Any) -> str:
    return v if v in ("stdout", "stderr") else "stdout"


def _sniff_json(obj: dict[str, Any]) -> Callable[[dict[str, Any], Context], LogLine]:
    k8s = obj.get("kubernetes")
    if isinstance(k8s, dict) and ("pod" in k8s or "container" in k8s) and "message" in obj:
        return _from_filebeat
    if "log" in obj and isinstance(k8s, dict):
        return _from_eks
    if "pod_name" in obj or ("namespace" in obj and "container_name" in obj):
        return _from_cls
    if "log" in obj and "time" in obj:
        return _from_docker
    if "log" in obj and ("@timestamp" in obj or "time" in obj):
        return _from_eks
    raise _Bad(Reason.UNKNOWN_SHAPE, f"JSON object with keys {sorted(obj)[:8]} matches no known shape")


_JSON_SHAPES: dict[str, Callable[[dict[str, Any], Context], LogLine]] = {
    "eks": _from_eks,
    "fluent-bit": _from_eks,
    "filebeat": _from_filebeat,
    "cls": _from_cls,
    "docker": _from_docker,
}
SHAPES = ("auto", *_JSON_SHAPES, "cri")


def decode(value: bytes, ctx: Context = NO_CONTEXT, *, shape: str = "auto") -> LogLine | DeadLetter:
    """One provider record -> a ``LogLine``, or a ``DeadLetter`` saying why not."""
    try:
        if not value or not value.strip():
            raise _Bad(Reason.EMPTY, "empty record")
        if len(value) > _MAX_TEXT:
            raise _Bad(Reason.TOO_LARGE, f"record of {len(value)} bytes exceeds {_MAX_TEXT}")
        if shape == "cri" or (shape == "auto" and value.lstrip()[:1] not in (b"{", b"[")):
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                raise _Bad(Reason.NOT_UTF8, "record is not valid UTF-8") from None
            return _from_cri(text.rstrip("\r\n"), ctx)
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise _Bad(Reason.BAD_JSON, f"invalid JSON at char {getattr(exc, 'pos', '?')}") from None
        if not isinstance(obj, dict):
            raise _Bad(Reason.UNKNOWN_SHAPE, f"JSON {type(obj).__name__}, expected an object")
        handler = _sniff_json(obj) if shape == "auto" else _JSON_SHAPES[shape]
        return handler(obj, ctx)
    except _Bad as bad:
        return DeadLetter(bad.reason, bad.detail, value)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # malformed field types
        return DeadLetter(Reason.UNKNOWN_SHAPE, f"{type(exc).__name__} while reading fields", value)
