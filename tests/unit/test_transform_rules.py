"""Decoders, reassembly, inventory tombstones, embedded metadata and the other profiles."""

from __future__ import annotations

import orjson
import pytest

from logbridge.decoding import Context
from logbridge.enrichment import Source, resolve
from logbridge.naming import FileIdentity
from logbridge.profiles import OptionError, build
from logbridge.records import DeadLetter, Reason
from logbridge.transforming import Transformer
from tests.support.lines import Line, decode, encode_line
from tests.support.timefmt import TimestampError, format_rfc3339, parse_rfc3339
from vnbridge.inventory import MemoryInventory
from vnbridge.pods import pod_from_object

CID = "a" * 64
FILE = Context(file=FileIdentity("web-1", "shop", "app", CID))


def test_rfc3339_keeps_nanoseconds_and_offsets() -> None:
    assert parse_rfc3339("2024-05-01T12:00:00.000000001Z") == 1714564800000000001
    assert parse_rfc3339("2024-05-01T14:00:00.5+02:00") == 1714564800500000000
    assert format_rfc3339(1714564800000000001) == "2024-05-01T12:00:00.000000001Z"
    with pytest.raises(TimestampError):
        parse_rfc3339("yesterday")


@pytest.mark.parametrize(
    ("value", "ctx", "reason"),
    [
        (b"", FILE, Reason.EMPTY),
        (b"\xff\xfe not utf8", FILE, Reason.NOT_UTF8),
        (b"garbage without fields", FILE, Reason.BAD_CRI),
        (b"{not json", FILE, Reason.BAD_JSON),
        (b"[1,2]", FILE, Reason.UNKNOWN_SHAPE),
        (b'{"foo": 1}', FILE, Reason.UNKNOWN_SHAPE),
        (b"2024-05-01T12:00:00Z stdout F no identity", Context(), Reason.NO_IDENTITY),
        (b"2024-13-01T12:00:00Z stdout F bad month", FILE, Reason.BAD_TIMESTAMP),
        (b'{"log": "x", "time": 12, "kubernetes": {"namespace_name": "a"}}', Context(), Reason.NO_IDENTITY),
    ],
)
def test_unreadable_records_are_dead_letters_with_a_reason(
    value: bytes, ctx: Context, reason: Reason
) -> None:
    out = decode(value, ctx)
    assert isinstance(out, DeadLetter)
    assert out.reason is reason
    assert out.record == value


def test_shapes_are_sniffed_per_record() -> None:
    eks = {
        "@timestamp": 1714564800.5,
        "log": "hi",
        "stream": "stderr",
        "time": "2024-05-01T12:00:00.5Z",
        "kubernetes": {
            "pod_name": "p",
            "namespace_name": "n",
            "container_name": "c",
            "docker_id": CID,
            "labels": {"a": "b"},
            "pod_id": "u1",
        },
    }
    cls = {
        "pod_name": "p",
        "namespace": "n",
        "container_name": "c",
        "container_id": f"containerd://{CID}",
        "log": "hi",
        "time": "2024-05-01T12:00:00.5Z",
        "pod_label_app": "web",
    }
    fb = {
        "@timestamp": "2024-05-01T12:00:00.500Z",
        "message": "hi",
        "stream": "stdout",
        "kubernetes": {"pod": {"name": "p", "uid": "u1"}, "namespace": "n", "container": {"name": "c"}},
    }
    docker = {"log": "hi\n", "stream": "stdout", "time": "2024-05-01T12:00:00.5Z"}
    got = [decode(orjson.dumps(x), FILE) for x in (eks, cls, fb, docker)]
    assert [g.shape for g in got if isinstance(g, Line)] == ["eks", "cls", "filebeat", "docker"]
    for g in got:
        assert isinstance(g, Line)
        assert g.text == "hi"
        assert g.ts_ns == 1714564800500000000
    assert got[1].embedded is not None and got[1].embedded.labels == {"app": "web"}
    assert isinstance(got[0], Line) and (got[0].pod, got[0].stream) == ("p", "stderr")


def test_partials_join_keep_first_time_and_respect_the_cap() -> None:
    tr: Transformer[int] = Transformer(profile=build("fluent-bit", {"Output": "plain"}), max_line_bytes=1024)
    cri = "2024-05-01T12:00:0{}Z stdout {} {}"
    assert tr.push(cri.format(1, "P", "a" * 600).encode(), 1, FILE) == ([], [])
    assert tr.push(cri.format(2, "P", "b" * 600).encode(), 2, FILE) == ([], [])
    [done], _ = tr.push(cri.format(3, "F", "c").encode(), 3, FILE)
    assert done.tokens == (1, 2, 3) and tr.counters["truncated_lines"] == 1
    assert (
        len(done.doc["log"]) == 1024 and done.doc["time"] == "2024-05-01T12:00:01Z" and done.doc["_p"] == "P"
    )
    assert tr.push(cri.format(4, "P", "x").encode(), 4, FILE) == ([], [])
    assert tr.flush_idle(now=1.0) == []
    stranded = tr.flush_idle(now=10.0)
    assert [o.doc["log"] for o in stranded] == ["x"] and stranded[0].tokens == (4,)


POD = {
    "metadata": {
        "name": "report-1-x",
        "namespace": "batch",
        "uid": "u-1",
        "labels": {"job-name": "report-1"},
        "ownerReferences": [{"kind": "Job", "name": "report-28470000", "controller": True}],
    },
    "spec": {"nodeName": "eklet-0", "containers": [{"name": "job", "image": "busybox:1.36"}]},
    "status": {
        "podIP": "127.10.0.5",
        "containerStatuses": [
            {
                "name": "job",
                "containerID": f"containerd://{CID}",
                "image": "docker.io/library/busybox:1.36",
                "imageID": "docker.io/library/busybox@sha256:abc",
            }
        ],
    },
}


def test_tombstones_keep_metadata_until_retention_then_expire() -> None:
    now = [0.0]
    inv = MemoryInventory(retention_s=60, clock=lambda: now[0])
    pod = pod_from_object(POD)
    assert [r.kind for r in pod.owner_chain] == ["Job", "CronJob"]
    inv.upsert(pod)
    inv.delete("batch", "report-1-x")
    line = Line(0, "", "stdout", "late line", False, "batch", "report-1-x", "job", CID)
    res = resolve(line, inv)
    assert (
        res.source is Source.TOMBSTONE and res.pod is not None and res.pod.labels == {"job-name": "report-1"}
    )
    now[0] = 61.0
    assert resolve(line, inv).source is Source.NONE


def test_tombstones_never_looked_up_again_are_swept_when_pods_keep_dying() -> None:
    now = [0.0]
    inv = MemoryInventory(retention_s=600, clock=lambda: now[0], sweep_every_s=60)
    for n in range(2000):  # one CronJob pod a minute for 33 hours, nobody asks for old ones
        now[0] = n * 60.0
        name = f"report-{n}"
        inv.upsert(pod_from_object({"metadata": {"name": name, "namespace": "batch", "uid": f"u{n}"}}))
        inv.delete("batch", name)
    assert inv.tombstones <= 11  # the last retention window (plus one sweep period), not 2000
    assert inv.by_uid("u1999") is not None and inv.by_uid("u0") is None


def test_unknown_pod_falls_back_to_embedded_metadata() -> None:
    rec = {
        "log": "x",
        "time": "2024-05-01T12:00:00Z",
        "kubernetes": {
            "pod_name": "ghost",
            "namespace_name": "n",
            "pod_id": "g-1",
            "labels": {"a": "1"},
            "host": "eklet-3",
            "container_name": "c",
            "docker_id": CID,
            "container_image": "img:1",
        },
    }
    line = decode(orjson.dumps(rec))
    assert isinstance(line, Line)
    res = resolve(line, MemoryInventory())
    assert res.source is Source.EMBEDDED
    tr: Transformer[int] = Transformer(
        profile=build("fluent-bit", {"Output": "plain"}), lookup=MemoryInventory()
    )
    [out], _ = tr.push(orjson.dumps(rec), 1)
    assert out.source is Source.EMBEDDED and out.pod_uid == "g-1"
    doc = out.doc
    assert doc["kubernetes"]["labels"] == {"a": "1"} and doc["kubernetes"]["host"] == "eklet-3"


def test_merged_body_cannot_spoof_metadata_in_any_profile() -> None:
    pod = pod_from_object(POD)
    inv = MemoryInventory()
    inv.upsert(pod)
    body = '{"kubernetes": {"namespace_name": "kube-system"}, "container": {"id": "x"}, "stream": "stderr"}'
    line = Line(0, "1970-01-01T00:00:00Z", "stdout", body, False, "batch", "report-1-x", "job", CID)
    fb = encode_line(build("fluent-bit", {"Merge_Log": "On", "Output": "plain"}), line, inv).doc
    assert fb["kubernetes"]["namespace_name"] == "batch"
    assert fb["stream"] == "stderr"  # as real Fluent Bit: non-metadata keys are replaced
    vec = encode_line(build("vector", {}), line, inv).doc
    assert vec["kubernetes"]["pod_namespace"] == "batch" and vec["message"] == body
    ecs = encode_line(build("filebeat", {}), line, inv).doc
    assert ecs["kubernetes"]["namespace"] == "batch" and ecs["container"]["id"] == CID


def test_vector_and_filebeat_documents_name_the_node_files() -> None:
    inv = MemoryInventory()
    inv.upsert(pod_from_object(POD))
    line = Line(1714564800000000001, "", "stdout", "hi", False, "batch", "report-1-x", "job", CID)
    v = encode_line(build("vector", {}), line, inv)
    assert list(v.doc) == sorted(v.doc)
    assert v.doc["file"] == "/var/log/pods/batch_report-1-x_u-1/job/0.log"
    assert v.doc["timestamp"] == "2024-05-01T12:00:00.000000001Z"
    assert v.doc["kubernetes"]["pod_owner"] == "Job/report-28470000" and v.index == "vector-2024.05.01"
    f = encode_line(build("filebeat", {"add_resource_metadata.cronjob": "true"}), line, inv)
    assert f.doc["log"]["file"]["path"] == f"/var/log/containers/report-1-x_batch_job-{CID}.log"
    assert f.doc["kubernetes"]["cronjob"] == {"name": "report"} and f.doc["kubernetes"]["job"]["name"]
    assert f.doc["@timestamp"] == "2024-05-01T12:00:00.000Z" and f.index == "filebeat-8.19.0"


def test_profile_options_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(OptionError, match="unknown option 'Merge_Logg'"):
        build("fluent-bit", {"Merge_Logg": "On"})
    with pytest.raises(OptionError, match="expected On/Off"):
        build("fluent-bit", {"Merge_Log": "maybe"})
