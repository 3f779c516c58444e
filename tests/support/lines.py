"""One decoded line, as tests think of it, and the two ways tests use one: what the
core decodes a record into (``decode``) and the document the core makes for a line
(``encode_line``).

Why: the product has no per-line model (the compiled core reads every record; Python
sees a ``PodRef`` per pod change). Rule tests still reason a line at a time, so the
line lives here, with the tests: decoded through ``vnbridge_core.decode_one``, and
encoded by writing it as a CRI record in its kubelet-named file and pushing it through
the same ``Transformer`` the pipeline drives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import vnbridge_core

from logbridge.decoding import NO_CONTEXT, Context
from logbridge.naming import FileIdentity
from logbridge.profiles import Profile
from logbridge.records import DeadLetter, Embedded, Reason
from logbridge.transforming import Output, Transformer
from tests.support.timefmt import format_rfc3339
from vnbridge.inventory import Lookup

__all__ = ["Line", "decode", "encode_line"]


@dataclass(frozen=True, slots=True)
class Line:
    """One decoded line (or fragment) of container output."""

    ts_ns: int  # nanoseconds since the epoch, UTC
    time_text: str  # the timestamp as the runtime wrote it (Fluent Bit keeps it verbatim)
    stream: str  # "stdout" | "stderr"
    text: str  # the line, without the runtime's trailing newline
    partial: bool  # CRI "P": more fragments follow
    namespace: str
    pod: str
    container: str
    container_id: str = ""  # bare 64-hex id, no scheme
    embedded: Embedded | None = None
    shape: str = ""  # which decoder read it


def decode(
    value: bytes, ctx: Context = NO_CONTEXT, *, shape: str = "auto", record: Mapping[str, str] | None = None
) -> Line | DeadLetter:
    """One provider record -> the ``Line`` the core read, or a ``DeadLetter`` saying why not."""
    got = vnbridge_core.decode_one(
        value, shape, ctx.file_tuple(), ctx.key, list(ctx.headers) or None, dict(record) if record else None
    )
    if isinstance(got, tuple):
        reason, detail = got
        return DeadLetter(Reason(reason), detail, value)
    emb = got["embedded"]
    return Line(
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


def encode_line(profile: Profile, line: Line, lookup: Lookup | None = None) -> Output[int]:
    """The one document the core makes for ``line`` (a CRI record from its kubelet file)."""
    tr: Transformer[int] = Transformer(profile=profile, lookup=lookup)
    time_text = line.time_text or format_rfc3339(line.ts_ns)
    record = f"{time_text} {line.stream} F {line.text}".encode()
    ctx = Context(file=FileIdentity(line.pod, line.namespace, line.container, line.container_id))
    outs, dead = tr.push(record, 1, ctx)
    outs += tr.flush_all()
    assert not dead and len(outs) == 1, dead
    return outs[0]
