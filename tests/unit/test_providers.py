"""Every documented provider record variant, through ``logbridge convert``, in all three
profiles: the document carries the namespace, pod, container, stream, message and time a
DaemonSet collector would give the line (the rule, read from each profile's own field
names, not a snapshot of our output). The records and the docs each field comes from:
``tests/fixtures/providers/README.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner
from vnbridge_core import format_rfc3339, parse_rfc3339

from logbridge.cli import app as logbridge_app
from logbridge.decoding import explain
from logbridge.settings import LogbridgeSettings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers"
CASES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "cases.json").read_text())
VARIANTS = [(p, n) for p, cases in CASES.items() for n in cases]


def facts(profile: str, doc: dict[str, Any]) -> dict[str, str]:
    """What each collector calls namespace, pod, container, stream, message and time."""
    k = doc["kubernetes"]
    if profile == "fluent-bit":
        return {
            "namespace": k["namespace_name"],
            "pod": k["pod_name"],
            "container": k["container_name"],
            "stream": doc["stream"],
            "message": doc["log"],
            "ts": doc["time"],
        }
    if profile == "filebeat":
        return {
            "namespace": k["namespace"],
            "pod": k["pod"]["name"],
            "container": k["container"]["name"],
            "stream": doc["stream"],
            "message": doc["message"],
            "ts": doc["@timestamp"],
        }
    return {
        "namespace": k["pod_namespace"],
        "pod": k["pod_name"],
        "container": k["container_name"],
        "stream": doc["stream"],
        "message": doc["message"],
        "ts": doc["timestamp"],
    }


def _config(tmp_path: Path, record: dict[str, str] | None) -> list[str]:
    if not record:
        return []
    cfg = tmp_path / "logbridge.yaml"
    cfg.write_text(yaml.safe_dump({"source": {"record": record}}))
    return ["-c", str(cfg)]


def _same_instant(got: str, want: str, profile: str) -> None:
    """Each collector's own precision: Filebeat keeps milliseconds, Fluent Bit's `time`
    is the text as read, Vector nanoseconds."""
    g, w = parse_rfc3339(got), parse_rfc3339(want)
    if profile == "filebeat":
        assert got == format_rfc3339(w // 1_000_000 * 1_000_000, 3)
    else:
        assert g == w


@pytest.mark.parametrize(("provider", "variant"), VARIANTS)
@pytest.mark.parametrize("profile", ["fluent-bit", "filebeat", "vector"])
def test_each_documented_variant_becomes_the_collectors_document(
    provider: str, variant: str, profile: str, tmp_path: Path
) -> None:
    case = CASES[provider][variant]
    src = FIXTURES / provider / f"{variant}.jsonl"
    args = ["convert", "--profile", profile, *_config(tmp_path, case.get("record")), str(src)]
    result = CliRunner().invoke(logbridge_app, args)
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output  # one document, no dead letter
    got = facts(profile, orjson.loads(lines[0]))
    want = case["expect"]
    _same_instant(got.pop("ts"), want["ts"], profile)
    assert got == {k: v for k, v in want.items() if k != "ts"}


@pytest.mark.parametrize(("provider", "variant"), VARIANTS)
def test_explain_names_the_shape_and_where_each_fact_came_from(provider: str, variant: str) -> None:
    case = CASES[provider][variant]
    value = (FIXTURES / provider / f"{variant}.jsonl").read_bytes().rstrip(b"\n")
    record = LogbridgeSettings.model_validate({"source": {"record": case.get("record", {})}}).source.record
    got = explain(value, record=record.core())
    assert got["ok"], got
    assert got["identity"] and got["message"] and got["time"]
    expected_shape = {
        "tencent-eks": "eks",
        "aws-fargate": "eks",
        "tencent-cls": "cls",
        "alibaba-eci": "sls",
        "huawei-cci": "lts",
    }[provider]
    assert got["shape"] == expected_shape


def test_the_tencent_default_says_its_metadata_was_a_json_string() -> None:
    value = (FIXTURES / "tencent-eks" / "default.jsonl").read_bytes().rstrip(b"\n")
    got = explain(value)
    assert got["identity"] == "kubernetes JSON string, fluent-bit layout"
    assert (got["message"], got["time"]) == ("log", "time")


@pytest.mark.parametrize(
    ("record", "reason", "words"),
    [
        # the kubernetes field is there but no line field: the nearest shape and what it lacks
        ({"kubernetes": "{}", "@timestamp": 1.0}, "unknown_shape", ["nearest: eks", "log"]),
        ({"content": "x", "__TAG__.namespace": "n"}, "no_pod_identity", ["Tencent CLS tags"]),
        ({"content": "x", "_pod_name_": "p", "_namespace_": "n"}, "bad_timestamp", ["sls", "_time_"]),
        (
            {"log": "x", "kubernetes": "not json", "stream": "stdout"},
            "no_pod_identity",
            ["holds no JSON object"],
        ),
        (
            {"log": "x", "kubernetes": {"pod_name": "p", "namespace_name": "n"}},
            "bad_timestamp",
            ["@timestamp"],
        ),
    ],
)
def test_unreadable_records_name_the_nearest_shape_and_the_missing_key(
    record: dict[str, Any], reason: str, words: list[str]
) -> None:
    got = explain(orjson.dumps(record))
    assert not got["ok"] and got["reason"] == reason, got
    for w in words:
        assert w in got["detail"], got


def test_a_pinned_layout_that_does_not_match_says_which_layout_it_found() -> None:
    value = (FIXTURES / "tencent-eks" / "default.jsonl").read_bytes().rstrip(b"\n")
    record = LogbridgeSettings.model_validate(
        {"source": {"record": {"metadata_format": "filebeat"}}}
    ).source.record
    got = explain(value, record=record.core())
    assert got["reason"] == "no_pod_identity"
    assert "metadata is in the fluent-bit layout" in got["detail"]


def test_a_timestamp_of_the_other_format_is_a_bad_timestamp() -> None:
    value = orjson.dumps(
        {
            "log": "x",
            "@timestamp": "2024-05-01T13:00:00Z",
            "kubernetes": {"pod_name": "p", "namespace_name": "n"},
        }
    )
    record = LogbridgeSettings.model_validate(
        {"source": {"record": {"timestamp_format": "double"}}}
    ).source.record
    got = explain(value, record=record.core())
    assert got["reason"] == "bad_timestamp" and "timestamp_format is double" in got["detail"]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"record": {"message_key": "kubernetes"}}, "name the same field"),
        ({"record": {"metadata_key": "log"}}, "set message_key"),
        ({"decoder": "cri", "record": {"timestamp_key": "ts"}}, "does not read one"),
        ({"record": {"metadata_format": "logstash"}}, "metadata_format"),
        ({"record": {"timestampKey": "ts"}}, "timestampKey"),
    ],
)
def test_config_check_refuses_contradictions_in_one_line(
    tmp_path: Path, source: dict[str, Any], words: str
) -> None:
    cfg = tmp_path / "logbridge.yaml"
    cfg.write_text(yaml.safe_dump({"source": source}))
    result = CliRunner().invoke(logbridge_app, ["check", "-c", str(cfg)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert words in result.output


def test_the_explain_cli_prints_one_line_per_record(tmp_path: Path) -> None:
    src = FIXTURES / "tencent-eks" / "default.jsonl"
    result = CliRunner().invoke(logbridge_app, ["convert", "--explain", str(src)])
    assert result.exit_code == 0
    got = orjson.loads(result.stdout)
    assert got["shape"] == "eks" and got["input"].endswith("default.jsonl:1")


@pytest.mark.parametrize(
    ("variant", "layout", "namespace"),
    [
        ("default", "fluent-bit", "batch"),
        ("formattype-filebeat", "filebeat", "batch"),
        ("default", "default", "batch"),
        ("formattype-filebeat", "fluent-bit", None),  # pinned to the other layout: not read
    ],
)
def test_each_pinned_layout_reads_its_own_keys(variant: str, layout: str, namespace: str | None) -> None:
    value = (FIXTURES / "tencent-eks" / f"{variant}.jsonl").read_bytes().rstrip(b"\n")
    record = LogbridgeSettings.model_validate(
        {"source": {"record": {"metadata_format": layout}}}
    ).source.record
    got = explain(value, record=record.core())
    if namespace is None:
        assert got["reason"] == "no_pod_identity", got
    else:
        assert got["ok"] and got["namespace"] == namespace and got["pod"] == "report-28470000-abcde", got
