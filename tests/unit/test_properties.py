"""Property tests: no decoder or encoder raises on arbitrary input; every record
ends as a document or a dead letter with a reason."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logbridge.decoding import Context
from logbridge.naming import FileIdentity
from logbridge.profiles import build
from logbridge.records import DeadLetter, Reason
from logbridge.transforming import Transformer
from tests.support.lines import decode

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


# --- valid provider records, then mutated: most examples become documents, and each
# mutation's dead-letter reason is the one it must be (tests/fixtures/providers/) --------
FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers"
VALID = [
    orjson.loads(p.read_bytes())
    for p in sorted(FIXTURES.glob("*/*.jsonl"))
    if "timestamp-iso8601" not in p.name  # needs its source.record settings
]
IDENTITY_KEYS = {
    "kubernetes",
    "__TAG__",
    "__TAG__.pod_name",
    "__TAG__.namespace",
    "_pod_name_",
    "_namespace_",
    "__tag__:_pod_name_",
    "__tag__:_namespace_",
    "podName",
    "nameSpace",
}
TIME_KEYS = {"time", "@timestamp", "__TIMESTAMP__", "_time_", "__time__", "collectTime"}
MUTATIONS = ("none", "drop_identity", "bad_time", "truncate", "not_utf8", "not_an_object", "text")


def _mutate(record: dict[str, object], how: str, text: str) -> tuple[bytes, str | None]:
    """The record after ``how``, and the dead-letter reason it must get (None: a document)."""
    r = dict(record)
    if how == "drop_identity":
        for k in IDENTITY_KEYS & set(r):
            del r[k]
        return orjson.dumps(r), "no_pod_identity"
    if how == "bad_time":
        body = next(k for k in ("log", "message", "__CONTENT__", "content") if k in r)
        if isinstance(r[body], str) and r[body][:4].isdigit():  # a CRI line in the body
            r[body] = "2024-02-31T00:00:00Z stdout F x"  # no such day
        for k in TIME_KEYS & set(r):
            r[k] = "yesterday"
        return orjson.dumps(r), "bad_timestamp"
    if how == "truncate":
        raw = orjson.dumps(r)
        return raw[: len(raw) // 2], "bad_json"
    if how == "not_utf8":  # invalid UTF-8 inside the JSON text
        return orjson.dumps(r)[:-1] + b',"x":"\xff"}', "bad_json"
    if how == "not_an_object":
        return orjson.dumps([r]), "unknown_shape"
    if how == "text":
        for k in ("log", "message", "__CONTENT__", "content"):
            if k in r and not (isinstance(r[k], str) and r[k][:4].isdigit()):
                r[k] = text
        return orjson.dumps(r), None
    return orjson.dumps(r), None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.sampled_from(MUTATIONS), st.text(max_size=300))
def test_valid_records_mutated_get_the_mutations_reason(
    record: dict[str, object], how: str, text: str
) -> None:
    value, reason = _mutate(record, how, text)
    for prof in PROFILES:
        tr: Transformer[int] = Transformer(profile=prof)
        outs, dead = tr.push(value, 1)
        outs += tr.flush_all()
        if reason is None:
            assert [d.reason for d, _ in dead] == [] and len(outs) == 1, (how, dead)
            orjson.dumps(outs[0].doc)
        else:
            assert outs == [] and [d.reason.value for d, _ in dead] == [reason], (how, value[:200], dead)


@settings(max_examples=60, deadline=None)
@given(
    # a runtime splits its lines at newlines: no line or fragment holds one
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
            min_size=1,
            max_size=120,
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.integers(1, 60), max_size=12),
    st.booleans(),
)
def test_a_stream_of_split_lines_joins_back_in_order(
    lines: list[str], cuts: list[int], as_string: bool
) -> None:
    """One transformer, many records of one pod: each line cut into P fragments + an F
    record (Tencent's record, `_p: "P"` on fragments) comes back whole, in order."""
    from simulator.model import Cluster
    from simulator.running import eks_record

    pod = next(p for p in Cluster(seed=3).build().pods if p.virtual)
    records: list[bytes] = []
    t = 1_714_564_800_000_000_000
    for i, line in enumerate(lines):
        cut = cuts[i] if i < len(cuts) else 0
        parts = [line[:cut], line[cut:]] if 0 < cut < len(line) else [line]
        for k, part in enumerate(parts):
            tag = "P" if k < len(parts) - 1 else "F"
            t += 1000
            records.append(
                eks_record(pod, t, "stdout", tag, part, metadata="string" if as_string else "object")
            )
    tr: Transformer[int] = Transformer(profile=build("fluent-bit", {}))
    docs = []
    for n, value in enumerate(records):
        outs, dead = tr.push(value, n)
        assert dead == []
        docs += outs
    docs += tr.flush_all()
    assert [d.doc["log"] for d in docs] == lines
