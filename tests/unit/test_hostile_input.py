"""Hostile input through the compiled core: every record becomes a document or a dead
letter with a reason; nothing raises, nothing crashes (issue: a body nested 300 deep
once stopped ``logbridge convert`` with a traceback)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from logbridge.cli import app as logbridge_app
from logbridge.decoding import Context
from logbridge.naming import FileIdentity
from logbridge.profiles import build
from logbridge.records import Reason
from logbridge.transforming import Transformer

CTX = Context(file=FileIdentity("p", "n", "c", "b" * 64))
PROFILES = {
    "fluent-bit": {"Merge_Log": "On", "Replace_Dots": "On", "Generate_ID": "On"},
    "filebeat": {},
    "vector": {},
}


def _one(profile: str, value: bytes) -> tuple[list[bytes], list[Reason]]:
    tr: Transformer[int] = Transformer(profile=build(profile, PROFILES[profile]))
    outs, dead = tr.push(value, 1, CTX)
    outs += tr.flush_all()
    assert len(outs) + len(dead) == 1
    return [o.body for o in outs], [d.reason for d, _ in dead]


@pytest.mark.parametrize("profile", PROFILES)
def test_a_body_nested_ten_thousand_deep_stays_a_string(profile: str) -> None:
    body = "{" + '"a":[' * 10_000 + "]" * 10_000 + "}"
    [doc], [] = _one(profile, f"2024-05-01T12:00:00Z stdout F {body}".encode())
    parsed = orjson.loads(doc)
    assert body in (parsed.get("log"), parsed.get("message"))


def test_a_record_nested_ten_thousand_deep_is_a_dead_letter() -> None:
    record = b'{"log":"x","time":"2024-05-01T12:00:00Z","k":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert _one("fluent-bit", record) == ([], [Reason.BAD_JSON])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"2024-05-01T12:00:00Z stdout F \xff\xfe", Reason.NOT_UTF8),
        (b'{"log":"\\ud800","time":"2024-05-01T12:00:00Z"}', Reason.BAD_JSON),
        (b'{"log":"x","time":1e400}', Reason.BAD_JSON),
        (b'{"log":"x","time":123456789012345678901234567890}', Reason.BAD_JSON),
        (b'{"log":"x","time":"2024-05-01T12:00:00Z","time":[1]}', Reason.BAD_TIMESTAMP),
        (b"\x00" * 20, Reason.BAD_CRI),
    ],
)
def test_malformed_records_are_dead_letters_with_a_reason(value: bytes, reason: Reason) -> None:
    for profile in PROFILES:
        assert _one(profile, value) == ([], [reason])


def test_big_numbers_nul_bytes_and_duplicate_keys_in_a_merged_body() -> None:
    body = '{"n": 123456789012345678901234567890, "f": 1e3, "z": "a\\u0000b", "k": 1, "k": 2}'
    [doc], [] = _one("fluent-bit", f"2024-05-01T12:00:00Z stdout F {body}".encode())
    parsed = orjson.loads(doc)
    assert (parsed["n"], parsed["f"], parsed["z"], parsed["k"]) == (2**64 - 1, 1, "a\x00b", 2)


def test_a_ten_megabyte_line_is_one_document_cut_at_max_line_bytes() -> None:
    """max_line_bytes caps every line, joined or not (issue 33): delivered, cut, counted."""
    line = b"2024-05-01T12:00:00Z stdout F " + b"x" * (10 * 1024 * 1024)
    for profile in PROFILES:
        [doc], [] = _one(profile, line)
        assert 2 * 1024 * 1024 < len(doc) < 2 * 1024 * 1024 + 1024
        tr: Transformer[int] = Transformer(profile=build(profile, PROFILES[profile]), max_line_bytes=16 << 20)
        [whole], _ = tr.push(line, 1, CTX)
        assert len(whole.body) > 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "problem"),
    [("nope.log", "does not exist"), ("logs", "is a directory; name its log files")],
)
def test_convert_names_why_an_input_cannot_be_read(tmp_path: Path, name: str, problem: str) -> None:
    (tmp_path / "logs").mkdir()
    result = CliRunner().invoke(logbridge_app, ["convert", str(tmp_path / name)])
    assert result.exit_code == 2
    assert problem in result.output and isinstance(result.exception, SystemExit)  # not a traceback


def test_a_body_with_many_keys_and_a_repeated_one_merges_as_fluent_bit_would() -> None:
    """Object keys are gathered in linear time (a 100k-key body once took minutes: each
    insert scanned the keys before it; past 10,000 keys a body is now not merged at all,
    tests/unit/test_bounded.py); a repeated key keeps its first place and its last value."""
    body = ",".join(f'"k{i}":{i}' for i in range(9_990)) + ',"k1":"again","a.b":1,"a_b":2'
    record = orjson.dumps({"log": "{" + body + "}\n", "stream": "stdout", "time": "2024-05-01T12:00:00Z"})
    tr: Transformer[int] = Transformer(profile=build("fluent-bit", {"Merge_Log": "On", "Replace_Dots": "On"}))
    [out], dead = tr.push(record, 1, CTX)
    assert dead == []
    doc = orjson.loads(out.body)
    keys = [k for k in doc if k.startswith("k")]
    assert len(keys) == 9_990 and keys[:3] == ["k0", "k1", "k2"]
    assert doc["k1"] == "again" and doc["a_b"] == 2  # Replace_Dots made one key of two: the later wins
