"""Decoding provider records: the Python face of the core's decoders.

Why: the decoders themselves (shape sniffing; EKS / fluent-bit / filebeat metadata
shapes, CLS flat keys, CRI, Docker) live in the compiled core, the one place every
record is touched. This module names the shapes, carries the context a record does
not (file name, Kafka key and headers), and turns one record into a ``LogLine`` or a
``DeadLetter`` for tests, ``logbridge explain``-style tools and fragment rendering.
"""

from __future__ import annotations

from typing import NamedTuple

import vnbridge_core

from logbridge.naming import FileIdentity
from logbridge.records import DeadLetter, Embedded, LogLine, Reason

__all__ = ["MULTILINE_LANGUAGES", "NO_CONTEXT", "SHAPES", "Context", "decode"]

SHAPES = ("auto", "eks", "fluent-bit", "filebeat", "cls", "docker", "cri")
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


def decode(value: bytes, ctx: Context = NO_CONTEXT, *, shape: str = "auto") -> LogLine | DeadLetter:
    """One provider record -> a ``LogLine``, or a ``DeadLetter`` saying why not."""
    got = vnbridge_core.decode_one(value, shape, ctx.file_tuple(), ctx.key, list(ctx.headers) or None)
    if isinstance(got, tuple):
        reason, detail = got
        return DeadLetter(Reason(reason), detail, value)
    emb = got["embedded"]
    return LogLine(
        ts_ns=got["ts_ns"],
        time_text=got["time_text"],
        stream=got["stream"],
        text=got["text"],
        partial=got["partial"],
        namespace=got["namespace"],
        pod=got["pod"],
        container=got["container"],
        container_id=got["container_id"],
        embedded=None if emb is None else Embedded(**emb),
        shape=got["shape"],
    )
