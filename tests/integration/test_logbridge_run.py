"""logbridge run against the real Kafka, Elasticsearch and kube-apiserver (issue 4).

Every test uses fresh topics, index and consumer group, so runs never see each
other's data. Counts are exact: "exactly N" is the contract.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from logbridge.settings import LogbridgeSettings
from simulator.model import T0_NS, Cluster, SimPod
from simulator.running import eks_record, kube, register
from tests.integration.conftest import STACK, Stack
from tests.integration.lbrun import RUN, Run, metric, readyz, records, seqs
from tests.support.helpers import child, eventually
from tests.support.kafkatools import committed_total, create_topic, produce, read_all


@pytest.fixture(scope="module")
def pods(stack: Stack) -> list[SimPod]:
    c = Cluster(seed=21, prefix=f"it-l{RUN}-", ip_octet=40, web_replicas=2, cronjob_pods=3).build()
    register(kube(str(stack.kubeconfig)), c)
    return [p for p in c.pods if p.virtual]


@pytest.fixture()
def run(stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Run]:
    yield Run(stack, tmp_path, request.node.name.removeprefix("test_")[:20].replace("_", "-"))


def test_delivers_each_record_once_and_dead_letters_bad_input(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    good, expected = records(pods, 3000, fragments_every=100)
    bad = [(b"k", b"\xff\xfe not utf-8"), (b"k", b"{broken json"), (None, b""), (b"k", b'{"log": 5}')]
    mixed = good[:1000] + bad + good[1000:]
    produce(stack.kafka_bootstrap, run.topic, mixed)
    cfg, port = run.config()
    with child(["logbridge", "run", "-c", str(cfg)], log=run.tmp / "lb.log") as proc:
        run.wait_committed(len(mixed))
        assert run.docs() == expected
        assert metric(port, "vnbridge_logbridge_records_dead_lettered_total") == len(bad)
        assert metric(port, "vnbridge_logbridge_bytes_in_total") == sum(len(v) for _, v in mixed)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    out = read_all(stack.kafka_bootstrap, run.out)
    assert len(out) == expected and len(set(seqs(out))) == expected
    v1 = kube(str(stack.kubeconfig))
    live_uids = {v1.read_namespaced_pod(p.name, p.namespace).metadata.uid.encode() for p in pods}
    assert {m.key for m in out} == live_uids  # message key = the pod's uid, from the live inventory
    dead = read_all(stack.kafka_bootstrap, run.dlq)
    assert sorted(m.value for m in dead) == sorted(v for _, v in bad)
    for m in dead:
        h = dict(m.headers)
        assert h["vnbridge.reason"].decode() in {"not_utf8", "bad_json", "empty_record", "unknown_shape"}
        assert h["vnbridge.source.topic"].decode() == run.topic
        assert int(h["vnbridge.source.offset"]) >= 0
    # Kibana-style search on the collector's fields finds the virtual pods' lines, enriched
    pod = pods[0]
    query = {
        "bool": {
            "filter": [
                {"term": {"kubernetes.namespace_name.keyword": pod.namespace}},
                {"term": {"kubernetes.pod_name.keyword": pod.name}},
            ]
        }
    }
    assert run.docs(query) == len([i for i in range(3000) if i % len(pods) == 0])
    hit = httpx.post(
        f"{stack.es_url}/{run.index}/_search", json={"query": query, "size": 1}, timeout=10
    ).json()
    k8s = hit["hits"]["hits"][0]["_source"]["kubernetes"]
    assert (k8s["host"], k8s["pod_ip"], k8s["container_name"]) == (pod.node, pod.ip, pod.container)


def test_documents_elasticsearch_rejects_go_to_the_dead_letter_topic(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    """A mapping conflict is permanent: those records are dead-lettered with the
    sink's reason, every other record is delivered, and the pipeline goes on."""
    mapping = {
        "mappings": {
            "properties": {
                "kubernetes": {"properties": {"labels": {"properties": {"app": {"type": "long"}}}}}
            }
        }
    }
    assert httpx.put(f"{stack.es_url}/{run.index}", json=mapping, timeout=30).status_code == 200
    good, expected = records(pods, 500)
    produce(stack.kafka_bootstrap, run.topic, good)
    rejected = sum(1 for i in range(500) if "app" in pods[i % len(pods)].labels)
    cfg, _ = run.config()
    with child(["logbridge", "run", "-c", str(cfg)], log=run.tmp / "lb.log"):
        run.wait_committed(len(good))
    assert run.docs() == expected - rejected
    dead = read_all(stack.kafka_bootstrap, run.dlq)
    assert len(dead) == rejected
    h = dict(dead[0].headers)
    assert h["vnbridge.reason"] == b"sink_rejected"
    assert h["vnbridge.detail"].startswith(b"elasticsearch: ")
    assert dead[0].key is not None


def test_documents_too_large_for_the_kafka_sink_topic_are_dead_lettered_alone(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    """The Kafka sink sends whole record batches; when the output topic refuses a batch
    as too large, only the documents too large on their own are dead-lettered (reason
    ``sink_rejected``, ``kafka: message_too_large``); every other one is delivered once,
    in the same transaction."""
    create_topic(stack.kafka_bootstrap, run.out, 2, {"max.message.bytes": "20000"})
    good, _ = records(pods, 400)
    big = {7, 150, 333}
    for i in big:
        pod = pods[i % len(pods)]
        good[i] = (
            pod.uid.encode(),
            eks_record(pod, T0_NS + i * 1000, "stdout", "F", f"seq={i:07d} " + "z" * 30_000),
        )
    produce(stack.kafka_bootstrap, run.topic, good)
    cfg, _ = run.config()
    with child(["logbridge", "run", "-c", str(cfg)], log=run.tmp / "lb.log"):
        run.wait_committed(len(good))
    out = read_all(stack.kafka_bootstrap, run.out)
    assert sorted(seqs(out)) == sorted(f"seq={i:07d}" for i in range(400) if i not in big)
    dead = read_all(stack.kafka_bootstrap, run.dlq)
    assert sorted(json.loads(m.value)["log"].split()[0] for m in dead) == sorted(f"seq={i:07d}" for i in big)
    assert {dict(m.headers)["vnbridge.detail"] for m in dead} == {b"kafka: message_too_large"}
    assert run.docs() == 400  # Elasticsearch took them all


def test_a_dead_letter_too_large_for_its_topic_stops_progress_with_a_clear_error(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    """Dead letters go through the same limit-aware batches as the sink: one too large
    for the dead-letter topic stops logbridge (exit 1, the topic named) and commits
    nothing past it, instead of a refused batch wedging the idempotent producer."""
    create_topic(stack.kafka_bootstrap, run.dlq, 1, {"max.message.bytes": "4000"})
    good, _ = records(pods, 100)
    produce(stack.kafka_bootstrap, run.topic, [*good, (b"k", b"{not json " + b"x" * 8000)])
    cfg, _ = run.config()
    log = run.tmp / "lb.log"
    with child(["logbridge", "run", "-c", str(cfg)], log=log) as proc:
        assert proc.wait(120) == 1
    assert "refused as too large" in log.read_text() and run.dlq in log.read_text()
    assert committed_total(stack.kafka_bootstrap, run.group, run.topic) < len(good) + 1
    assert read_all(stack.kafka_bootstrap, run.dlq, timeout=5) == []


def test_a_pod_relabelled_in_the_api_is_enriched_with_its_new_labels(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    """Live joins: the core caches each pod's metadata fragment; a pod change seen by
    the watch makes the next record of that pod render it again."""
    pod = pods[0]
    cfg, _ = run.config()
    v1 = kube(str(stack.kubeconfig))
    key = pod.uid.encode()
    before = [(key, eks_record(pod, T0_NS + i, "stdout", "F", f"seq={i:07d} before")) for i in range(50)]
    produce(stack.kafka_bootstrap, run.topic, before)
    with child(["logbridge", "run", "-c", str(cfg)], log=run.tmp / "lb.log"):
        run.wait_committed(50)  # the index exists and holds them (counting earlier can meet a 503)
        assert run.docs() == 50
        v1.patch_namespaced_pod(pod.name, pod.namespace, {"metadata": {"labels": {"relabelled": RUN}}})
        # the watch delivers the change asynchronously; records keep coming until one
        # produced after it carries the new label (bounded: 30 rounds)
        relabelled = {"term": {"kubernetes.labels.relabelled": RUN}}
        for round_ in range(30):
            text = f"seq={round_:07d} after"
            produce(
                stack.kafka_bootstrap,
                run.topic,
                [(key, eks_record(pod, T0_NS + 10_000 + round_, "stdout", "F", text))],
            )
            eventually(
                lambda n=51 + round_: run.docs() == n,
                timeout=60,
                interval=0.5,
                what=f"document {51 + round_}",
            )
            if run.docs(relabelled) > 0:
                break
        assert run.docs(relabelled) > 0
    stale = {
        "bool": {
            "must": [{"match": {"log": "before"}}, {"exists": {"field": "kubernetes.labels.relabelled"}}]
        }
    }
    assert run.docs(stale) == 0  # documents written before the change keep what was true then


def test_a_relabelled_node_and_namespace_reach_every_later_document_of_their_pods(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    """Live joins for node and namespace metadata (Filebeat's kubernetes.node.labels and
    kubernetes.namespace_labels): once a record carries the new labels every later one
    does, the one before the change does not — waited for, not timed."""
    pod = pods[0]
    cfg, _ = run.config(profile={"name": "filebeat"}, elasticsearch=False, watch_namespaces=True)
    v1 = kube(str(stack.kubeconfig))
    key = pod.uid.encode()
    label = "vnbridge-relabel-test"
    produce(stack.kafka_bootstrap, run.topic, [(key, eks_record(pod, T0_NS, "stdout", "F", "n=0 before"))])

    def labelled(doc: dict[str, Any]) -> tuple[bool, bool]:
        k = doc["kubernetes"]
        return (
            k["node"].get("labels", {}).get(label) == RUN,
            k.get("namespace_labels", {}).get(label) == RUN,
        )

    with child(["logbridge", "run", "-c", str(cfg)], log=run.tmp / "lb.log"):
        run.wait_committed(1)
        try:
            v1.patch_node(pod.node, {"metadata": {"labels": {label: RUN}}})
            v1.patch_namespace(pod.namespace, {"metadata": {"labels": {label: RUN}}})
            n = 1
            deadline = time.monotonic() + 120  # a ceiling, not the claim
            while True:
                batch = [
                    (key, eks_record(pod, T0_NS + n + i, "stdout", "F", f"n={n + i} after"))
                    for i in range(20)
                ]
                produce(stack.kafka_bootstrap, run.topic, batch)
                n += 20
                run.wait_committed(n)
                last = json.loads(read_all(stack.kafka_bootstrap, run.out)[-1].value)
                if labelled(last) == (True, True):
                    break
                assert time.monotonic() < deadline, "the new labels never reached a document"
            tail = [
                (key, eks_record(pod, T0_NS + n + i, "stdout", "F", f"n={n + i} after")) for i in range(20)
            ]
            produce(stack.kafka_bootstrap, run.topic, tail)
            n += 20
            run.wait_committed(n)
        finally:
            v1.patch_node(pod.node, {"metadata": {"labels": {label: None}}})
    docs = [json.loads(m.value) for m in read_all(stack.kafka_bootstrap, run.out)]
    assert len(docs) == n
    docs.sort(key=lambda d: int(d["message"].split()[0].removeprefix("n=")))
    seen = [labelled(d) == (True, True) for d in docs]
    assert not seen[0]  # produced before the change
    first = seen.index(True)
    assert all(seen[first:]), "a record after one with the new labels lacked them"
    assert all(seen[-20:])


def test_kill_9_five_times_during_200k_records_loses_and_doubles_nothing(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    n = 200_000
    good, expected = records(pods, n, fragments_every=997)
    produce(stack.kafka_bootstrap, run.topic, good)
    cfg, port = run.config(batch_max_records=4000)
    rng = random.Random(4)
    log = run.tmp / "lb.log"
    at_kill: list[tuple[int, int]] = []  # (committed, produced) when each kill landed
    while len(at_kill) < 5:
        with child(["logbridge", "run", "-c", str(cfg)], log=log) as proc:
            # this incarnation committed (it made progress), then a random number of
            # further commits, then the kill: always mid-stream, never on a timer
            extra = rng.randint(0, 2)
            eventually(
                lambda e=extra: metric(port, "vnbridge_logbridge_commits_total") > e,
                timeout=120,
                interval=0.01,
                what="this incarnation's commits",
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        at_kill.append((committed_total(stack.kafka_bootstrap, run.group, run.topic), len(good)))
    # each kill landed with records still uncommitted, and the stream moved between kills
    assert all(c < end for c, end in at_kill), at_kill
    assert [c for c, _ in at_kill] == sorted(c for c, _ in at_kill) and at_kill[0][0] < at_kill[-1][0], (
        at_kill
    )
    with child(["logbridge", "run", "-c", str(cfg)], log=log) as proc:
        run.wait_committed(len(good), timeout=300, what="all offsets committed after 5 kills")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert run.docs() == expected
    out = read_all(stack.kafka_bootstrap, run.out, timeout=120)
    got = seqs(out)
    assert len(got) == expected, f"{len(got) - len(set(got))} duplicates, {expected - len(set(got))} missing"
    assert len(set(got)) == expected


def test_elasticsearch_outage_pauses_then_recovers_without_loss(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    first, _ = records(pods, 2000)
    produce(stack.kafka_bootstrap, run.topic, first)
    cfg, port = run.config(degraded_after_s=2.0)
    with child(["logbridge", "run", "-c", str(cfg)], log=run.tmp / "lb.log") as proc:
        eventually(lambda: run.docs() == 2000, timeout=60, interval=0.5, what="first batch in ES")
        subprocess.run(["bash", str(STACK), "stop", "elasticsearch"], check=True, timeout=60)
        try:
            more, _ = records(pods, 20_000)
            produce(stack.kafka_bootstrap, run.topic, more[2000:])  # distinct seqs 2000..19999
            eventually(
                lambda: readyz(port) == 503,
                timeout=30,
                what="/readyz degraded",
            )
            consumed = []
            for _ in range(30):  # 30 s without Elasticsearch: alive, and consumption paused
                with pytest.raises(subprocess.TimeoutExpired):
                    proc.wait(timeout=1)  # returns at once if the process dies
                consumed.append(metric(port, "vnbridge_logbridge_records_in_total"))
            assert committed_total(stack.kafka_bootstrap, run.group, run.topic) <= 2000 + 4000
        finally:
            subprocess.run(
                ["bash", str(STACK), "up", "elasticsearch"], check=True, timeout=300, capture_output=True
            )
        eventually(lambda: run.docs() == 20_000, timeout=180, interval=1, what="recovery after the outage")
        eventually(
            lambda: readyz(port) == 200,
            timeout=30,
            what="/readyz ready again",
        )
        # memory stays bounded because consumption pauses: at most the cycle it holds (the
        # design's bound, delivery.batch_max_records) beyond what was delivered — not all
        # 18,000 records produced during the outage; a bound on records, not on RSS or time
        cycle = LogbridgeSettings().delivery.batch_max_records
        assert consumed and 0 < max(consumed) <= 2000 + cycle, consumed
    out = read_all(stack.kafka_bootstrap, run.out)
    assert len(out) == len(set(seqs(out))) == 20_000


def test_two_replicas_split_the_partitions_with_no_duplicate_and_no_gap(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    n = 40_000
    good, expected = records(pods, n)
    cfg1, port1 = run.config("r1")
    cfg2, port2 = run.config("r2")
    with (
        child(["logbridge", "run", "-c", str(cfg1)], log=run.tmp / "r1.log"),
        child(["logbridge", "run", "-c", str(cfg2)], log=run.tmp / "r2.log"),
    ):
        if True:  # both replicas run for the block below
            # /readyz says started, not assigned: wait until the group split the partitions
            eventually(
                lambda: (
                    [metric(p, "vnbridge_logbridge_assigned_partitions") for p in (port1, port2)] == [2, 2]
                ),
                timeout=60,
                what="both replicas assigned",
            )
            # every partition gets records: a few pod uids as keys can all hash to one replica's
            produce(stack.kafka_bootstrap, run.topic, good, round_robin=4)
            eventually(
                lambda: committed_total(stack.kafka_bootstrap, run.group, run.topic) == n,
                timeout=180,
                interval=1,
                what="all offsets committed",
            )
            share = [metric(p, "vnbridge_logbridge_records_in_total") for p in (port1, port2)]
    assert all(s > 0 for s in share) and sum(share) >= n, share  # a rebalance may replay a little
    assert run.docs() == expected
    out = read_all(stack.kafka_bootstrap, run.out)
    assert len(out) == len(set(seqs(out))) == expected


def test_a_fenced_replica_stops_in_one_line_and_the_other_delivers_everything_once(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    """Issue 33: two replicas given one transactional_id (a hand-set value copied into two
    Deployments). The later one fences the first, whose next transaction fails with
    ProducerFenced: it stops with one line and exit 1, never retrying or committing, and
    the survivor delivers every record exactly once."""
    n = 4_000
    good, expected = records(pods, n)
    cfg1, port1 = run.config("r1", transactional_id=f"{run.group}-same")
    cfg2, port2 = run.config("r2", transactional_id=f"{run.group}-same")
    produce(stack.kafka_bootstrap, run.topic, good[: n // 2], round_robin=4)
    with child(["logbridge", "run", "-c", str(cfg1)], log=run.tmp / "r1.log") as first:
        run.wait_committed(n // 2, what="the first replica delivered the first half")
        with child(["logbridge", "run", "-c", str(cfg2)], log=run.tmp / "r2.log") as second:
            # the second replica's producer is up (it fenced the first) and the group split
            eventually(
                lambda: (
                    [metric(p, "vnbridge_logbridge_assigned_partitions") for p in (port1, port2)] == [2, 2]
                ),
                timeout=60,
                what="both replicas assigned",
            )
            produce(stack.kafka_bootstrap, run.topic, good[n // 2 :], round_robin=4)
            eventually(
                lambda: first.poll() is not None, timeout=120, interval=0.5, what="the fenced replica stops"
            )
            code = first.returncode
            run.wait_committed(n, timeout=180, what="the survivor delivered the rest")
            assert second.poll() is None
    assert code == 1
    log = (run.tmp / "r1.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    [line] = [x for x in log.splitlines() if "stopped:" in x]
    assert "producer fenced" in line and f"{run.group}-same" in line, line
    assert run.docs() == expected
    out = read_all(stack.kafka_bootstrap, run.out)
    assert len(out) == len(set(seqs(out))) == expected
