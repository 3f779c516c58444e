"""Decoding provider records: the Python face of the core's decoders.

Why: the decoders themselves (shape sniffing; EKS / fluent-bit / filebeat metadata
shapes, CLS flat keys, CRI, Docker) live in the compiled core, the one place every
record is touched. This module names the shapes, carries the context a record does
not (file name, Kafka key and headers), and says what the decoder understood of one
record (``explain``, behind ``logbridge explain``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import vnbridge_core

from logbridge.naming import FileIdentity

__all__ = ["MULTILINE_LANGUAGES", "NO_CONTEXT", "SHAPES", "Context", "explain"]

SHAPES = ("auto", "eks", "fluent-bit", "filebeat", "cls", "sls", "lts", "docker", "cri")
MULTILINE_LANGUAGES = ("java", "python", "go")


class Context(NamedTuple):
    """Where a record came from, for identity the record itself does not carry."""

    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    file: FileIdentity | None = None

    def file_tuple(self) -> tuple[str, str, str, str] | None:
        """(namespace, pod, container, container_id) as the core takes it."""
        f = self.file
        return None if f is None else (f.namespace, f.pod, f.container, f.container_id)


NO_CONTEXT = Context()


def explain(
    value: bytes, ctx: Context = NO_CONTEXT, *, shape: str = "auto", record: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What the decoder understood of one record: the shape it matched and where identity,
    message and time came from; for a record it cannot read, the reason and the nearest
    shape with the keys it lacks (in ``detail``)."""
    got = vnbridge_core.decode_one(
        value, shape, ctx.file_tuple(), ctx.key, list(ctx.headers) or None, dict(record) if record else None
    )
    if isinstance(got, tuple):
        reason, detail = got
        return {"ok": False, "reason": reason, "detail": detail}
    names = dict(record or {})
    configured = {"message_key": names.get("message_key"), "timestamp_key": names.get("timestamp_key")}

    def named(via: str) -> str:
        key = configured.get(via)
        return f"{via} {key!r}" if key else via

    return {
        "ok": True,
        "shape": got["shape"],
        "identity": got["via_identity"],
        "message": named(got["via_message"]),
        "time": named(got["via_time"]),
        "namespace": got["namespace"],
        "pod": got["pod"],
        "container": got["container"],
        "stream": got["stream"],
        "partial": got["partial"],
        "time_text": got["time_text"],
        "text": got["text"][:80],
    }
