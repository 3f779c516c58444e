"""Bounded work and state, and every record accounted for (issue 33): each test here
failed on the code the issue was filed against."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import vnbridge_core

from logbridge.decoding import Context
from logbridge.naming import FileIdentity
from logbridge.profiles import build
from logbridge.records import Reason
from logbridge.transforming import Transformer, core_transformer

CTX = Context(file=FileIdentity("p", "ns", "c", "b" * 64))


def _render(*_: Any) -> tuple[int, str, str | None, list[bytes]]:
    return (0, "u", None, [b"", b""])


def _core(**kw: Any) -> vnbridge_core.Transformer:
    return core_transformer(profile=build("filebeat", {}), lookup=None, shape="cri", **kw)


def _go(tr: Transformer[int], lines: list[str]) -> tuple[list[Any], list[Any]]:
    outs, dead = [], []
    for i, text in enumerate(lines):
        o, d = tr.push(f"2024-05-01T12:00:00Z stdout F {text}".encode(), i, CTX)
        outs += o
        dead += d
    return outs, dead


def test_a_200k_line_stack_trace_is_flushed_in_capped_documents_not_held() -> None:
    """Was: every line after `panic:` held (each reset the idle timer), none emitted."""
    tr: Transformer[int] = Transformer(profile=build("filebeat", {}), multiline_namespaces={"ns": "go"})
    lines = ["panic: boom"] + [f"\tframe {i}" for i in range(1, 200_000)]
    outs, dead = _go(tr, lines)
    assert not dead
    assert len(outs) == 399  # 500 lines each (Filebeat's multiline.max_lines), the 400th still open
    assert all(len(o.tokens) == 500 for o in outs)
    assert outs[0].doc["message"].startswith("panic: boom\n\tframe 1\n")
    rest = tr.flush_all()
    assert [len(o.tokens) for o in rest] == [500]
    assert sorted(t for o in outs + rest for t in o.tokens) == list(range(200_000))


def test_multiline_caps_are_settings_with_the_collectors_defaults() -> None:
    tr: Transformer[int] = Transformer(
        profile=build("filebeat", {}), multiline_namespaces={"ns": "go"}, multiline_max_lines=3
    )
    outs, _ = _go(tr, ["panic: x", "\ta", "\tb", "\tc", "\td", "next"])
    assert [o.doc["message"] for o in outs] == ["panic: x\n\ta\n\tb", "\tc\n\td", "next"]
    tr = Transformer(
        profile=build("filebeat", {}), multiline_namespaces={"ns": "go"}, multiline_max_bytes=1024
    )
    outs, _ = _go(tr, ["panic: x"] + ["\t" + "y" * 300] * 7)
    outs += tr.flush_all()
    assert all(len(o.doc["message"]) <= 1024 for o in outs) and len(outs) == 3
    with pytest.raises(ValueError, match="at least 1"):
        _core(multiline_max_lines=0)


def test_partial_lines_of_ten_thousand_containers_do_not_grow_state_without_bound() -> None:
    """Was: one held partial line per (pod, container, stream), however many a stream claims."""
    core = _core()
    out = 0
    for i in range(10_000):
        b = core.push_values(
            "t", [b"2024-05-01T12:00:00Z stdout P part"], i, 0.0, ("ns", "p", f"c{i}", "b" * 64)
        )
        out += len(b)
    held = core.held("t")
    assert len(held) <= 4096  # MAX_STREAMS: the longest-idle one is emitted, never dropped
    assert out + len(held) == 10_000
    assert len(core.flush_all()) == len(held)


def test_a_failing_record_object_leaves_the_state_untouched() -> None:
    """Was: push_records failed half-way after earlier records had moved the state."""
    core = _core()
    good = SimpleNamespace(offset=0, value=b"2024-05-01T12:00:00Z stdout P held", key=b"", headers=[])
    broken = SimpleNamespace(value=b"x", key=None, headers=[])  # no offset
    with pytest.raises(AttributeError):
        core.push_records("t", [good, broken], 0.0)
    assert core.held("t") == [] and core.counters().get("records_in", 0) == 0


def test_no_partitions_is_refused_not_an_empty_result() -> None:
    """Was: every record silently dropped."""
    with pytest.raises(ValueError, match="no partitions"):
        vnbridge_core.kafka_batches([b"k"], [b"v"], 0, 1 << 20, 0)


def test_a_metadata_key_twice_with_a_broken_first_value_is_a_dead_letter() -> None:
    """Was: the fast path skipped the first value unchecked and took the second."""
    tr: Transformer[int] = Transformer(profile=build("fluent-bit", {}))
    rec = (
        b'{"log":"x\\n","stream":"stdout","time":"2024-05-01T00:00:00Z","kubernetes":{"pod_name":,"x"},'
        b'"kubernetes":{"namespace_name":"ns","pod_name":"p","container_name":"c"}}'
    )
    outs, dead = tr.push(rec, 1, Context())
    assert outs == [] and [d.reason for d, _ in dead] == [Reason.BAD_JSON]


def test_an_object_past_ten_thousand_keys_is_refused_where_it_costs_and_kept_where_it_can_be() -> None:
    """A provider record with 100k keys is a dead letter (too_many_keys); a Merge_Log body
    with 100k keys is not merged and stays the string it was (delivered, not lost)."""
    keys = ",".join(f'"{i:x}":0' for i in range(100_000))
    record = b'{"log":"x\\n","time":"2024-05-01T00:00:00Z",' + keys.encode() + b"}"
    tr: Transformer[int] = Transformer(profile=build("fluent-bit", {"Merge_Log": "On"}))
    outs, dead = tr.push(record, 1, CTX)
    assert outs == [] and [d.reason for d, _ in dead] == [Reason.TOO_MANY_KEYS]
    body = "{" + keys + "}"
    outs, dead = tr.push(f"2024-05-01T12:00:00Z stdout F {body}".encode(), 2, CTX)
    assert not dead and outs[0].doc["log"] == body
    ten_k = "{" + ",".join(f'"{i:x}":0' for i in range(10_000)) + "}"
    outs, _ = tr.push(f"2024-05-01T12:00:00Z stdout F {ten_k}".encode(), 3, CTX)
    assert outs[0].doc["270f"] == 0  # 10,000 keys: merged
