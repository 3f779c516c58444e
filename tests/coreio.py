"""Run one ``LogLine`` through the compiled core, as a record of its pod would go.

Why: profiles no longer encode in Python (the core splices each pod's fragment into
every record); rule tests that start from a line use this to get the document the
core makes for it: the line becomes a CRI record from its kubelet-named file.
"""

from __future__ import annotations

from logbridge.decoding import Context
from logbridge.naming import FileIdentity
from logbridge.profiles import Profile
from logbridge.records import LogLine
from logbridge.timefmt import format_rfc3339
from logbridge.transforming import Output, Transformer
from vnbridge.inventory import Lookup


def encode_line(profile: Profile, line: LogLine, lookup: Lookup | None = None) -> Output[int]:
    tr: Transformer[int] = Transformer(profile=profile, lookup=lookup)
    time_text = line.time_text or format_rfc3339(line.ts_ns)
    record = f"{time_text} {line.stream} F {line.text}".encode()
    ctx = Context(file=FileIdentity(line.pod, line.namespace, line.container, line.container_id))
    outs, dead = tr.push(record, 1, ctx)
    outs += tr.flush_all()
    assert not dead and len(outs) == 1, dead
    return outs[0]
