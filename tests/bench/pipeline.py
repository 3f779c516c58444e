"""End-to-end logbridge benchmarks (issue 4), side by side with rsyslog.

One input topic of N EKS-shaped records; then, on the same topic:
* logbridge run, Kafka sink (exactly-once transactions) → records per CPU-second;
* logbridge run, Elasticsearch sink → records/s and CPU-seconds per million;
* rsyslog (Debian ``rsyslog`` + ``rsyslog-kafka``): imkafka → mmjsonparse → a
  template rebuilding the collector document → omkafka.
CPU time is read from /proc (utime + stime of the process) when the last record
is through. Figures are printed and returned; nothing asserts a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from simulator.model import Cluster
from simulator.supervising import rss_mb
from tests.support.helpers import child, eventually, free_port
from tests.support.kafkatools import (
    committed_total,
    create_topic,
    es_count,
    new_topics_deleted,
    produce,
)

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")

RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imkafka")
module(load="omkafka")
module(load="mmjsonparse")
template(name="doc" type="string"
  string="{{\\"@timestamp\\":\\"%$!time%\\",\\"time\\":\\"%$!time%\\",\\"stream\\":\\"%$!stream%\\",\\"_p\\":\\"%$!_p%\\",\\"log\\":\\"%$!log:::json%\\",\\"kubernetes\\":%$!kubernetes%}}")
ruleset(name="bridge" queue.type="LinkedList" queue.size="200000") {{
  action(type="mmjsonparse" cookie="")
  action(type="omkafka" topic="{out}" broker=["{broker}"] template="doc"
         confParam=["compression.codec=none", "queue.buffering.max.ms=5", "enable.idempotence=true"])
}}
input(type="imkafka" topic="{topic}" broker=["{broker}"] consumergroup="{group}" ruleset="bridge"
      confParam=["auto.offset.reset=smallest"])
"""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (the kernel's VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _end_offsets(bootstrap: str, topic: str) -> int:
    from tests.support.kafkatools import read_all

    return len(read_all(bootstrap, topic, committed_only=False, timeout=300))


def _input(env: dict[str, str], n: int, run: str, pods_wanted: int = 0) -> str:
    """A topic of ``n`` records of Tencent's default shape, round-robin over the simulated
    cluster's virtual pods, or over ``pods_wanted`` distinct pods cloned from them (each
    its own name, uid and container id, so its own metadata bytes)."""
    from dataclasses import replace

    from simulator.model import T0_NS
    from simulator.running import eks_record

    pods = [p for p in Cluster(seed=5).build().pods if p.virtual]
    if pods_wanted:
        pods = [
            replace(
                pods[k % len(pods)],
                name=f"{pods[k % len(pods)].name}-{k}",
                uid=f"{k:08d}-0000-4000-8000-000000000000",
                container_id=f"{k:064x}",
            )
            for k in range(pods_wanted)
        ]
    topic = f"bench-in-{run}"
    create_topic(env["KAFKA_BOOTSTRAP"], topic, 4)
    line = "GET /api/v1/orders?page=2 200 12ms user=8812 trace=4bf92f3577b34da6a3ce929d0e0e4736 " * 3
    produce(
        env["KAFKA_BOOTSTRAP"],
        topic,
        (
            (
                pods[i % len(pods)].uid.encode(),
                eks_record(pods[i % len(pods)], T0_NS + i, "stdout", "F", f"{i} {line}"),
            )
            for i in range(n)
        ),
    )
    return topic


def logbridge_config(
    env: dict[str, str], *, topic: str, group: str, index: str, sink: str, out_topic: str = ""
) -> str:
    """The settings of a bench's ``logbridge run`` (JSON is YAML): fluent-bit with
    Replace_Dots, no inventory (the records carry their metadata), one sink."""
    sinks: dict[str, Any] = {
        "elasticsearch": {"enabled": sink == "es"},
        "kafka": {"enabled": sink == "kafka", **({"topic": out_topic} if out_topic else {})},
    }
    return json.dumps(
        {
            "profile": {"name": "fluent-bit", "options": {"Index": index, "Replace_Dots": "On"}},
            "source": {"topics": [topic], "group_id": group},
            "kafka": {"bootstrap_servers": env["KAFKA_BOOTSTRAP"]},
            "elasticsearch": {"hosts": [env["ES_URL"]]},
            "inventory": {"source": "none"},
            "sinks": sinks,
            "delivery": {
                "dead_letter_topic": f"{group}-dlq",
                "transactional_id": group,
                "batch_max_records": 10000,
            },
            "http": {"listen": f"127.0.0.1:{free_port()}"},
        }
    )


def _logbridge(env: dict[str, str], topic: str, run: str, n: int, sink: str, tmp: Path) -> dict[str, float]:
    group = f"bench-{sink}-{run}"
    index = f"bench-{run}"
    cfg = tmp / f"logbridge-{sink}.yaml"
    cfg.write_text(
        logbridge_config(
            env, topic=topic, group=group, index=index, sink=sink, out_topic=f"bench-out-lb-{run}"
        )
    )
    rss: list[float] = []
    with child(["logbridge", "run", "-c", str(cfg)], log=tmp / f"logbridge-{sink}.log") as proc:
        cpu0 = None
        t0 = time.monotonic()

        def done() -> bool:
            rss.append(rss_mb(proc.pid))
            return committed_total(env["KAFKA_BOOTSTRAP"], group, topic) >= n

        cpu0 = _cpu_s(proc.pid)
        eventually(done, timeout=900, interval=0.5, what=f"logbridge {sink} through {n} records")
        wall = time.monotonic() - t0
        cpu = _cpu_s(proc.pid) - cpu0
    if sink == "es":
        assert es_count(env["ES_URL"], index) == n
        httpx.delete(f"{env['ES_URL']}/{index}", timeout=60)  # a kept stack must not grow bench after bench
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "rss_max_mb": max(rss),
        "rss_last_mb": rss[-1],
        "rss_first_mb": rss[0],
    }


def _rsyslog(env: dict[str, str], topic: str, run: str, n: int, tmp: Path) -> dict[str, float] | None:
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not Path(rsyslogd).exists():
        print("rsyslog     not installed (apt-get install rsyslog rsyslog-kafka): skipped")
        return None
    out = f"bench-out-rs-{run}"
    create_topic(env["KAFKA_BOOTSTRAP"], out, 4)
    work = tmp / f"rsyslog-{run}"
    work.mkdir()
    conf = work / "rsyslog.conf"
    conf.write_text(
        RSYSLOG_CONF.format(
            work=work, topic=topic, out=out, broker=env["KAFKA_BOOTSTRAP"], group=f"bench-rs-{run}"
        )
    )
    check = subprocess.run([rsyslogd, "-N1", "-f", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        print(f"rsyslog     config rejected: {check.stderr.strip()[-300:]}")
        return None
    with (work / "out.log").open("wb") as out_log:
        proc = subprocess.Popen(
            [rsyslogd, "-n", "-f", str(conf), "-i", str(work / "pid")],
            stdout=out_log,
            stderr=subprocess.STDOUT,
        )
    try:
        t0 = time.monotonic()
        cpu0 = _cpu_s(proc.pid)

        def through() -> bool:
            return _topic_size(env["KAFKA_BOOTSTRAP"], out) >= n

        eventually(through, timeout=900, interval=0.5, what=f"rsyslog through {n} records")
        cpu, wall = _cpu_s(proc.pid) - cpu0, time.monotonic() - t0
        hwm = peak_rss_mb(proc.pid)
        docs = _topic_size(env["KAFKA_BOOTSTRAP"], out)
        return {"cpu_s": cpu, "wall_s": wall, "rss_max_mb": hwm, "docs": docs}
    finally:
        proc.terminate()
        proc.wait(20)


def _topic_size(bootstrap: str, topic: str) -> int:
    import asyncio

    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    async def go() -> int:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await c.start()
        try:
            md = await c._client.fetch_all_metadata()
            tps = [TopicPartition(topic, p) for p in md.partitions_for_topic(topic) or ()]
            return sum((await c.end_offsets(tps)).values()) if tps else 0
        finally:
            await c.stop()

    return asyncio.run(go())


def pipeline_bench(
    env: dict[str, str], n: int = int(os.environ.get("BENCH_RECORDS", "1000000"))
) -> dict[str, float]:
    """A backlog of ``n`` records (default one million: the RSS figure is "flat at 1M")."""
    with new_topics_deleted(env["KAFKA_BOOTSTRAP"]):
        return _pipeline_bench(env, n)


RUNS = int(os.environ.get("BENCH_PIPELINE_RUNS", "3"))  # Kafka→Kafka runs of each, interleaved


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def _pipeline_bench(env: dict[str, str], n: int) -> dict[str, float]:
    """logbridge and rsyslog take turns on the same backlog, ``RUNS`` times each (a
    fresh consumer group and output topic per run); their medians make the ratio, so
    one noisy run on a shared 2-core machine cannot decide it."""
    run = f"{int(time.time()) % 1_000_000}"
    tmp = ROOT / ".bench" / f"pipeline-{run}"
    tmp.mkdir(parents=True)
    topic = _input(env, n, run)
    lb_runs: list[dict[str, float]] = []
    rs_rates: list[float] = []
    for k in range(RUNS):
        lb = _logbridge(env, topic, f"{run}k{k}", n, "kafka", tmp)
        lb_runs.append(lb)
        print(
            f"logbridge   Kafka→Kafka (transactions) {n:,} records, run {k + 1}/{RUNS}: "
            f"{lb['wall_s']:.1f} s wall, {lb['cpu_s']:.1f} CPU-s → {n / lb['cpu_s']:,.0f} records/CPU-s; "
            f"RSS first/max/last {lb['rss_first_mb']:.0f}/{lb['rss_max_mb']:.0f}/{lb['rss_last_mb']:.0f} MB"
        )
        rs = _rsyslog(env, topic, f"{run}k{k}", n, tmp)
        if rs is not None:
            rs_rates.append(n / rs["cpu_s"])
            print(
                f"rsyslog     Kafka→Kafka {n:,} records, run {k + 1}/{RUNS}: {rs['wall_s']:.1f} s wall, "
                f"{rs['cpu_s']:.1f} CPU-s → {n / rs['cpu_s']:,.0f} records/CPU-s"
            )
    lb_cpu = _median([r["cpu_s"] for r in lb_runs])
    lb_rate = n / lb_cpu
    rss_max = max(r["rss_max_mb"] for r in lb_runs)
    print(
        f"logbridge   Kafka→Kafka median of {RUNS}: {lb_rate:,.0f} records/CPU-s, "
        f"{lb_cpu / n * 1e6:.1f} CPU-s per million (start-up included); RSS max {rss_max:.0f} MB "
        "(target <= 250)"
    )
    es = _logbridge(env, topic, run, n, "es", tmp)
    print(
        f"logbridge   Kafka→Elasticsearch {n:,} records: {n / es['wall_s']:,.0f} records/s wall, "
        f"{es['cpu_s'] / n * 1e6:.1f} CPU-s per million (logbridge process only; target <= 10)"
    )
    results: dict[str, float] = {
        "logbridge_kafka_records_per_cpu_s": round(lb_rate),
        "logbridge_kafka_cpu_s_per_million": round(lb_cpu / n * 1e6, 1),
        "logbridge_kafka_records_per_s": round(n / _median([r["wall_s"] for r in lb_runs])),
        "logbridge_es_records_per_s": round(n / es["wall_s"]),
        "logbridge_es_cpu_s_per_million": round(es["cpu_s"] / n * 1e6, 1),
        "logbridge_backlog_rss_max_mb": round(rss_max, 1),
        "logbridge_backlog_rss_last_mb": round(lb_runs[-1]["rss_last_mb"], 1),
    }
    if rs_rates:
        rs_rate = _median(rs_rates)
        ratio = lb_rate / rs_rate
        runs = ", ".join(f"{n / r['cpu_s'] / x:.2f}x" for r, x in zip(lb_runs, rs_rates, strict=False))
        print(f"rsyslog     Kafka→Kafka median of {len(rs_rates)}: {rs_rate:,.0f} records/CPU-s")
        print(
            f"ratio       logbridge / rsyslog records per CPU-second = {ratio:.2f}x, medians "
            f"(run by run: {runs}; target >= 2.0x)"
        )
        results |= {"rsyslog_kafka_records_per_cpu_s": round(rs_rate), "rsyslog_ratio": round(ratio, 3)}
    return results
