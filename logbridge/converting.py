"""``logbridge convert``: the transform over files or stdin, no services needed.

Why: the embedded default. A user feeds the very files a DaemonSet collector tails
(kubelet-named, so the pod identity comes from the name) or provider records, and
gets on stdout exactly the documents the sink would index; dead letters go to
stderr as JSON lines. The same function backs golden tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Unpack

import orjson

from logbridge.decoding import Context
from logbridge.naming import parse_container_log_name
from logbridge.profiles import Profile
from logbridge.transforming import Assembly, Output, Transformer, dead_letter_json
from vnbridge.inventory import Lookup

__all__ = ["convert_lines", "iter_inputs", "write_outputs"]

Position = tuple[str, int]  # (input file or '-', line number): where a record was read


def iter_inputs(paths: Iterable[Path], stdin: IO[bytes]) -> Iterator[tuple[bytes, Position, Context]]:
    """Every line of every input (``-`` or no path = stdin) with its position and context."""
    plist = list(paths) or [Path("-")]
    for p in plist:
        ctx = Context(file=parse_container_log_name(str(p)))
        fh: IO[bytes] = stdin if str(p) == "-" else p.open("rb")
        try:
            for n, raw in enumerate(fh):
                # a CRLF line keeps its \r here: the profile's reading decides (Vector keeps it)
                line = raw[:-1] if raw.endswith(b"\n") else raw
                yield line, (str(p), n), ctx
        finally:
            if fh is not stdin:
                fh.close()


def convert_lines(
    records: Iterable[tuple[bytes, Position, Context]],
    *,
    profile: Profile,
    lookup: Lookup | None,
    **assembly: Unpack[Assembly],
) -> Iterator[Output[Position] | dict[str, Any]]:
    """Outputs in input order; dead letters as ``{"reason", "detail", "record"}`` dicts."""
    tr: Transformer[Position] = Transformer(profile=profile, lookup=lookup, **assembly)
    for value, token, ctx in records:
        outs, dead = tr.push(value, token, ctx)
        yield from outs
        for dl, _ in dead:
            yield dead_letter_json(dl)
    yield from tr.flush_all()


def write_outputs(
    items: Iterable[Output[Position] | dict[str, Any]],
    *,
    out: IO[bytes],
    err: IO[bytes],
    bulk: bool,
    op: str = "create",
) -> tuple[int, int]:
    docs = dead = 0
    for item in items:
        if isinstance(item, dict):
            err.write(orjson.dumps(item) + b"\n")
            dead += 1
            continue
        if bulk:
            action: dict[str, Any] = {"_index": item.index}
            if item.doc_id:
                action["_id"] = item.doc_id
            out.write(orjson.dumps({op: action}) + b"\n")
        out.write(item.body + b"\n")
        docs += 1
    return docs, dead
