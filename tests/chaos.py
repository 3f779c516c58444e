"""``make chaos``: exactly-once delivery while everything around logbridge fails.

Why: the delivery contract (docs/architecture.md §6) is only as good as the worst moment
it survives. This drives N provider records through two logbridge replicas on the
3-broker Kafka of the local stack (`stack.sh up kafka-cluster`, replication 3, min ISR 2)
into Elasticsearch while, at once:

* a random replica is SIGKILLed every ``kill_every`` seconds and started again (as a
  Deployment's kubelet would);
* Elasticsearch is stopped for ``es_outage_s`` seconds, then started again;
* the broker leading the input topic's partition 0 is killed, and restarted
  ``broker_down_s`` seconds later.

Faults go on until the planned ones have happened and ``fault_until`` of the records
are committed. Afterwards Elasticsearch must hold exactly N documents (every record once:
ids are deterministic, ``create`` never writes one twice), the group's committed offsets
must sum to N and the dead-letter topic must be empty. The seconds from the last fault to
that state are measured (the target of issue 33: under 60 s at 1,000,000 records).

    python -m tests.chaos                 # 1,000,000 records, the full schedule
    python -m tests.chaos 50000           # a smaller run of the same schedule

The integration test ``tests/integration/test_chaos.py`` runs a short version in
``make test``; the figures of a full run go to ``.bench/results.json`` (``chaos_*``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from simulator.model import T0_NS, Cluster
from simulator.running import eks_record
from simulator.supervising import ROOT, free_port
from tests.support.kafkatools import committed_total, es_count, read_all

STACK = ROOT / "deploy" / "local" / "stack.sh"


@dataclass(frozen=True)
class Plan:
    records: int
    produce_s: float = 150.0  # records arrive over this long, while the faults happen
    partitions: int = 6
    replicas: int = 2
    kill_every: tuple[float, float] = (10.0, 20.0)
    es_outage_at: float = 25.0
    es_outage_s: float = 60.0
    broker_kill_at: float = 40.0
    broker_down_s: float = 15.0
    fault_until: float = 0.9  # keep killing replicas until this share is committed
    timeout_s: float = 1800.0


@dataclass
class Outcome:
    records: int
    documents: int = 0
    committed: int = 0
    dead_letters: int = 0
    kills: int = 0
    es_outage_s: float = 0.0
    broker_restarts: int = 0
    duration_s: float = 0.0
    converged_after_last_fault_s: float = 0.0
    log: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:  # the chaos_* keys of .bench/results.json
        return {
            "chaos_records": self.records,
            "chaos_documents": self.documents,
            "chaos_committed": self.committed,
            "chaos_dead_letters": self.dead_letters,
            "chaos_kills": self.kills,
            "chaos_es_outage_s": round(self.es_outage_s, 1),
            "chaos_broker_restarts": self.broker_restarts,
            "chaos_duration_s": round(self.duration_s, 1),
            "chaos_converged_after_last_fault_s": round(self.converged_after_last_fault_s, 1),
        }


def read_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / ".stack" / "env").read_text().splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            env[k] = v
    return env


def stack(*args: str) -> None:
    subprocess.run(["bash", str(STACK), *args], check=True, capture_output=True, timeout=600)


def _records(plan: Plan, run: str) -> list[tuple[bytes, bytes]]:
    pods = [p for p in Cluster(seed=77, prefix=f"chaos{run}-", ip_octet=60).build().pods if p.virtual]
    out = []
    for i in range(plan.records):
        pod = pods[i % len(pods)]
        out.append((pod.uid.encode(), eks_record(pod, T0_NS + i * 1000, "stdout", "F", f"seq={i:07d} chaos")))
    return out


async def _create_topics(bootstrap: str, plan: Plan, topic: str, dlq: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, plan.partitions, 3, topic_configs={"min.insync.replicas": "2"}),
                NewTopic(dlq, 1, 3, topic_configs={"min.insync.replicas": "2"}),
            ]
        )
    finally:
        await admin.close()


class Producer(threading.Thread):
    """The provider: produces the records evenly over ``plan.produce_s`` (acks=all,
    idempotent), through the broker restart."""

    def __init__(self, bootstrap: str, plan: Plan, topic: str, records: list[tuple[bytes, bytes]]) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.plan, self.topic, self.records = bootstrap, plan, topic, records
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._go())
        except BaseException as exc:  # noqa: BLE001 - reported by the driver, which fails the run
            self.error = exc

    async def _go(self) -> None:
        prod = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=True, linger_ms=20, acks="all"
        )
        await prod.start()
        try:
            start, n, chunk = time.monotonic(), len(self.records), 2000
            for first in range(0, n, chunk):
                due = start + self.plan.produce_s * first / n
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                sent = [
                    await prod.send(self.topic, value, key=key, partition=i % self.plan.partitions)
                    for i, (key, value) in enumerate(self.records[first : first + chunk], first)
                ]
                await asyncio.gather(*sent)
                self.sent = min(n, first + chunk)
        finally:
            await prod.stop()


async def _leader_of_partition_0(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [desc] = await admin.describe_topics([topic])
        return int(next(p["leader"] for p in desc["partitions"] if p["partition"] == 0))
    finally:
        await admin.close()


class Replica:
    """One logbridge process, started again whenever it is gone (a kubelet's restart)."""

    def __init__(self, name: str, config: Path, log: Path) -> None:
        self.name, self.config, self.log = name, config, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def ensure(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            with self.log.open("ab") as fh:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "logbridge", "run", "-c", str(self.config)],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                    env={**os.environ, "VNBRIDGE_LOG_FORMAT": "text"},
                )
            self.starts += 1

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def chaos(plan: Plan, workdir: Path, *, seed: int = 0) -> Outcome:
    env = read_env()
    bootstrap, es = env.get("KAFKA_CLUSTER_BOOTSTRAP", ""), env["ES_URL"]
    if not bootstrap:
        raise SystemExit("chaos: the 3-broker Kafka is not up: bash deploy/local/stack.sh up kafka-cluster")
    rng = random.Random(seed)
    run = f"{int(time.time()) % 1_000_000}"
    topic, dlq, group, index = f"chaos-in-{run}", f"chaos-dlq-{run}", f"chaos-g-{run}", f"chaos-{run}"
    out = Outcome(records=plan.records)

    def note(what: str) -> None:
        out.log.append(f"{time.monotonic() - t0:7.1f}s {what}")
        print(out.log[-1], flush=True)

    t0 = time.monotonic()
    asyncio.run(_create_topics(bootstrap, plan, topic, dlq))
    producer = Producer(bootstrap, plan, topic, _records(plan, run))
    replicas = []
    for k in range(plan.replicas):
        cfg = {
            "profile": {"name": "fluent-bit", "options": {"Index": index, "Replace_Dots": "On"}},
            "source": {"topics": [topic], "group_id": group},
            "kafka": {"bootstrap_servers": bootstrap},
            "elasticsearch": {"hosts": [es]},
            "inventory": {"source": "none"},
            "sinks": {"elasticsearch": {"enabled": True}},
            "delivery": {"dead_letter_topic": dlq, "transactional_id": f"{group}-r{k}", "retry_max_s": 2.0},
            "http": {"listen": f"127.0.0.1:{free_port()}"},
        }
        path = workdir / f"chaos-r{k}.json"
        path.write_text(json.dumps(cfg))
        replicas.append(Replica(f"r{k}", path, workdir / f"chaos-r{k}.log"))
    for r in replicas:
        r.ensure()
    producer.start()
    note(f"producing {plan.records} records to {topic} over {plan.produce_s:.0f}s (replication 3)")
    start = time.monotonic()
    last_fault = start
    next_kill = start + rng.uniform(*plan.kill_every)
    es_down_at = start + plan.es_outage_at
    es_up_at: float | None = None
    broker_at = start + plan.broker_kill_at
    broker_back_at: float | None = None
    broker_node = 0
    committed, polled = 0, 0.0
    try:
        while True:
            now = time.monotonic()
            if now - start > plan.timeout_s:
                raise AssertionError(f"chaos: not converged in {plan.timeout_s}s: {out.figures()}")
            for r in replicas:
                r.ensure()
            if producer.error is not None:
                raise AssertionError(f"chaos: producing failed: {producer.error!r}")
            planned_done = out.es_outage_s > 0 and out.broker_restarts > 0 and producer.sent == plan.records
            faulting = not planned_done or committed < plan.fault_until * plan.records
            if faulting and now >= next_kill:
                victim = rng.choice(replicas)
                victim.kill9()
                out.kills += 1
                last_fault = now
                note(f"SIGKILL {victim.name} (produced {producer.sent}, committed {committed})")
                victim.ensure()
                next_kill = now + rng.uniform(*plan.kill_every)
            if es_up_at is None and now >= es_down_at:
                stack("stop", "elasticsearch")
                es_up_at = now + plan.es_outage_s
                note(f"Elasticsearch stopped for {plan.es_outage_s:.0f}s")
            elif es_up_at is not None and out.es_outage_s == 0 and now >= es_up_at:
                stack("up", "elasticsearch")
                out.es_outage_s = time.monotonic() - es_down_at
                last_fault = time.monotonic()
                note(f"Elasticsearch back after {out.es_outage_s:.0f}s")
            if broker_back_at is None and now >= broker_at:
                broker_node = asyncio.run(_leader_of_partition_0(bootstrap, topic))
                stack("stop", f"kafka-c{broker_node}")
                broker_back_at = now + plan.broker_down_s
                last_fault = now
                note(f"broker {broker_node} (leader of {topic}/0) killed")
            elif broker_back_at is not None and out.broker_restarts == 0 and now >= broker_back_at:
                stack("up", "kafka-cluster")
                out.broker_restarts += 1
                last_fault = time.monotonic()
                note(f"broker {broker_node} restarted")
            if now - polled >= 2 or not faulting:
                committed, polled = committed_total(bootstrap, group, topic), now
            if not faulting and committed == plan.records and es_count(es, index) == plan.records:
                break
            time.sleep(0.5)
        out.converged_after_last_fault_s = time.monotonic() - last_fault
        out.duration_s = time.monotonic() - start
        out.committed = committed
        out.documents = es_count(es, index)
        out.dead_letters = len(read_all(bootstrap, dlq, timeout=30))
        note(
            f"converged: {out.documents} documents, {out.committed} committed, {out.dead_letters} dead "
            f"letters, {out.converged_after_last_fault_s:.1f}s after the last fault"
        )
    finally:
        for r in replicas:
            r.stop()
        if es_up_at is not None and out.es_outage_s == 0:
            stack("up", "elasticsearch")
        if broker_back_at is not None and out.broker_restarts == 0:
            stack("up", "kafka-cluster")
        httpx.delete(f"{es}/{index}", timeout=30)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    stack("up")
    stack("up", "kafka-cluster")
    workdir = ROOT / ".bench" / "chaos"
    workdir.mkdir(parents=True, exist_ok=True)
    out = chaos(Plan(records=n), workdir)
    ok = out.documents == out.committed == n and out.dead_letters == 0
    print(
        f"chaos: {n:,} records, {out.kills} SIGKILLs, Elasticsearch down {out.es_outage_s:.0f}s, "
        f"{out.broker_restarts} broker restart(s): {out.documents:,} documents "
        f"({'exactly once' if ok else 'NOT exactly once'}), converged "
        f"{out.converged_after_last_fault_s:.1f}s after the last fault (target < 60 s), "
        f"{out.duration_s:.0f}s in all"
    )
    results = ROOT / ".bench" / "results.json"
    prev = json.loads(results.read_text()) if results.exists() else {}
    results.write_text(json.dumps({**prev, **out.figures()}, indent=2) + "\n")
    print(f"wrote {results}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
