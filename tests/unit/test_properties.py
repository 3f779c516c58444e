"""Property tests: no decoder or encoder raises on arbitrary input; every record
ends as a document or a dead letter with a reason."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logbridge.decoding import Context, decode
from logbridge.naming import FileIdentity
from logbridge.profiles import build
from logbridge.records import DeadLetter, Reason
from logbridge.transforming import Transformer

CTX = Context(file=FileIdentity("p", "n", "c", "b" * 64))
PROFILES = [
    build("fluent-bit", {"Merge_Log": "On", "Replace_Dots": "On"}),
    build("vector", {}),
    build("filebeat", {}),
    build("fluent-bit", {"Output": "kafka"}),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _accounted(value: bytes) -> None:
    for prof in PROFILES:
        tr: Transformer[int] = Transformer(profile=prof)
        outs, dead = tr.push(value, 1, CTX)
        outs += tr.flush_all()
        assert len(outs) + len(dead) == 1
        for dl, _ in dead:
            assert isinstance(dl.reason, Reason)
        for o in outs:
            orjson.dumps(o.doc)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(value: bytes) -> None:
    out = decode(value, CTX)
    assert isinstance(out, DeadLetter) or out.namespace
    _accounted(value)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json(value: object) -> None:
    _accounted(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["stdout", "stderr"]), st.sampled_from(["P", "F"]))
def test_arbitrary_cri_bodies_and_log_json(body: str, stream: str, tag: str) -> None:
    _accounted(f"2024-05-01T12:00:00.1Z {stream} {tag} {body}".encode())
    _accounted(orjson.dumps({"log": body, "time": "2024-05-01T12:00:00Z", "stream": stream}))
