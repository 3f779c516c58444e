"""The peers bench: the same records from one Kafka topic into one Elasticsearch through
logbridge, Vector, the OpenTelemetry Collector and Filebeat, taking turns.

Why: "faster than the alternatives" is a claim until the tools a team would actually
put between Kafka and Elasticsearch run beside logbridge on the same records, on the
same machine, measured the same way (issue 37). Each tool does the nearest equivalent
of logbridge's work: parse the provider record (Tencent's documented default, the pod
metadata in ``kubernetes`` as a JSON string), lift the metadata into fields with the
dots of label and annotation keys replaced, write one document per line. What each
peer does not do (P/F joins, multiline, tombstones, exactly-once) is said in the
README's table, not hidden here.

Method (docs/performance.md): one topic of N records (4 partitions) is produced once;
then ``RUNS`` rounds, each tool once per round, each run with a fresh consumer group
and a fresh index (1 shard, 0 replicas). CPU-seconds are the tool's process's utime +
stime from /proc when Elasticsearch counts N documents; peak RSS is its VmHWM. A run
that stalls short of N (no new document for ``STALL`` seconds) is reported with its
count and not timed. Start-up is measured apart: the same tool on an empty topic, CPU
until its consumer group is Stable. rsyslog (Kafka→Kafka, no Elasticsearch output in
Debian's package set) has its own row. Medians of the runs; nothing asserts a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from simulator.supervising import ROOT, spawned
from tests.bench.pipeline import _cpu_s, _input, _median, _rsyslog, logbridge_config, peak_rss_mb
from tests.support.kafkatools import create_topic, delete_topics, new_topics_deleted

RUNS = int(os.environ.get("BENCH_PEERS_RUNS", "3"))
STALL = float(os.environ.get("BENCH_PEERS_STALL_S", "90"))
LOCAL = ROOT / "deploy" / "local"
PODS = int(os.environ.get("BENCH_PEERS_PODS", "0"))  # 0: the simulated cluster's 5 virtual pods
ONLY = os.environ.get("BENCH_PEERS_TOOLS", "logbridge,vector,otelcol,filebeat,rsyslog").split(",")

# Vector Remap Language: the record is already decoded (the source's json codec)
VRL = r"""
if is_string(.kubernetes) { .kubernetes = parse_json!(.kubernetes) }
if is_object(.kubernetes.labels) {
  .kubernetes.labels = map_keys(object!(.kubernetes.labels)) -> |k| { replace(k, ".", "_") }
}
if is_object(.kubernetes.annotations) {
  .kubernetes.annotations = map_keys(object!(.kubernetes.annotations)) -> |k| { replace(k, ".", "_") }
}
."@timestamp" = del(.time)
del(.headers); del(.message_key); del(.offset); del(.partition); del(.topic)
del(.source_type); del(.timestamp)
"""

# OpenTelemetry Transformation Language over the record the kafka receiver's json
# encoding decoded into the log body; the exporter's bodymap mode writes the body as is
OTTL_LOG = [
    'set(log.cache["k"], ParseJSON(log.body["kubernetes"])) where IsString(log.body["kubernetes"])',
    'set(log.body["kubernetes"], log.cache["k"]) where log.cache["k"] != nil',
    'replace_all_patterns(log.body["kubernetes"]["labels"], "key", "\\\\.", "_")',
    'replace_all_patterns(log.body["kubernetes"]["annotations"], "key", "\\\\.", "_")',
    'set(log.body["@timestamp"], log.body["time"])',
    'delete_key(log.body, "time")',
]


@dataclass(frozen=True)
class Run:
    """One tool's pass over the topic."""

    cpu_s: float
    wall_s: float
    rss_max_mb: float
    docs: int
    complete: bool


@dataclass(frozen=True)
class Tool:
    """A peer: how to build it, and the command that runs it on (topic, group, index)."""

    name: str
    what: str  # the configuration, one line, for the printout and the README
    binary: Callable[[], str | None]
    command: Callable[[str, dict[str, str], str, str, str, Path], list[str]]


def _built(script: str, name: str) -> Callable[[], str | None]:
    def find() -> str | None:
        proc = subprocess.run(["bash", str(LOCAL / script)], capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name:11} not built: {last}")
            return None
        return proc.stdout.strip().splitlines()[-1]

    return find


def _logbridge(binary: str, env: dict[str, str], topic: str, group: str, index: str, tmp: Path) -> list[str]:
    cfg = tmp / f"{group}.yaml"
    cfg.write_text(logbridge_config(env, topic=topic, group=group, index=index, sink="es"))
    return [binary, "-m", "logbridge", "run", "-c", str(cfg)]


def _vector(binary: str, env: dict[str, str], topic: str, group: str, index: str, tmp: Path) -> list[str]:
    data = tmp / f"{group}-data"
    data.mkdir()
    cfg = tmp / f"{group}.json"
    cfg.write_text(
        json.dumps(
            {
                "data_dir": str(data),
                "sources": {
                    "in": {
                        "type": "kafka",
                        "bootstrap_servers": env["KAFKA_BOOTSTRAP"],
                        "group_id": group,
                        "topics": [topic],
                        "auto_offset_reset": "earliest",
                        "decoding": {"codec": "json"},
                    }
                },
                "transforms": {"lift": {"type": "remap", "inputs": ["in"], "source": VRL}},
                "sinks": {
                    "es": {
                        "type": "elasticsearch",
                        "inputs": ["lift"],
                        "endpoints": [env["ES_URL"]],
                        "api_version": "v8",
                        "mode": "bulk",
                        "bulk": {"index": index},
                        "acknowledgements": {"enabled": True},
                    }
                },
            }
        )
    )
    return [binary, "--quiet", "--config", str(cfg)]


def _otelcol(binary: str, env: dict[str, str], topic: str, group: str, index: str, tmp: Path) -> list[str]:
    cfg = tmp / f"{group}.yaml"
    cfg.write_text(
        json.dumps(
            {
                "receivers": {
                    "kafka": {
                        "brokers": [env["KAFKA_BOOTSTRAP"]],
                        "group_id": group,
                        "initial_offset": "earliest",
                        "logs": {"topics": [topic], "encoding": "json"},
                        "message_marking": {"after": True},
                    }
                },
                "processors": {
                    "transform": {
                        "error_mode": "ignore",
                        "log_statements": [
                            {
                                "context": "scope",
                                "statements": ['set(scope.attributes["elastic.mapping.mode"], "bodymap")'],
                            },
                            {"context": "log", "statements": OTTL_LOG},
                        ],
                    }
                },
                "exporters": {
                    "elasticsearch": {
                        "endpoints": [env["ES_URL"]],
                        "logs_index": index,
                        # the default queue of 10 requests holds 10 records (the receiver
                        # makes one request per Kafka record): one document a second
                        "sending_queue": {"queue_size": 100000},
                    }
                },
                "service": {
                    "pipelines": {
                        "logs": {
                            "receivers": ["kafka"],
                            "processors": ["transform"],
                            "exporters": ["elasticsearch"],
                        }
                    },
                    "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
                },
            }
        )
    )
    return [binary, "--config", f"file:{cfg}"]


def _filebeat(binary: str, env: dict[str, str], topic: str, group: str, index: str, tmp: Path) -> list[str]:
    home = tmp / group
    home.mkdir()
    cfg = home / "filebeat.yml"
    cfg.write_text(
        json.dumps(
            {
                "filebeat.inputs": [
                    {
                        "type": "kafka",
                        "hosts": [env["KAFKA_BOOTSTRAP"]],
                        "topics": [topic],
                        "group_id": group,
                        "initial_offset": "oldest",
                    }
                ],
                "processors": [
                    {"decode_json_fields": {"fields": ["message"], "target": "", "max_depth": 1}},
                    {"drop_fields": {"fields": ["message"]}},
                    {"rename": {"fields": [{"from": "log", "to": "message"}]}},
                    {"decode_json_fields": {"fields": ["kubernetes"], "target": "kubernetes"}},
                    {"timestamp": {"field": "time", "layouts": ["2006-01-02T15:04:05.999999999Z07:00"]}},
                ],
                "output.elasticsearch": {
                    "hosts": [env["ES_URL"]],
                    "index": index,
                    "allow_older_versions": True,  # Filebeat 9.3 beside the stack's Elasticsearch 8.19
                },
                "setup.template.enabled": False,
                "setup.ilm.enabled": False,
                "logging.level": "warning",
            }
        )
    )
    os.chmod(cfg, 0o600)
    return [binary, "-e", "-c", str(cfg), "--path.home", str(home), "--path.data", str(home / "data")]


TOOLS = (
    Tool(
        "logbridge",
        "logbridge run: fluent-bit profile, Replace_Dots On, ES sink, offsets after delivery",
        lambda: sys.executable,
        _logbridge,
    ),
    Tool(
        "vector",
        "kafka source (json codec) → remap (parse_json, map_keys replace '.') → "
        "elasticsearch sink, bulk, acknowledgements on",
        _built("build-vector.sh", "vector"),
        _vector,
    ),
    Tool(
        "otelcol",
        "kafkareceiver (json encoding, mark after) → transformprocessor (ParseJSON, "
        "replace_all_patterns on keys) → elasticsearchexporter, bodymap",
        _built("build-otelcol.sh", "otelcol"),
        _otelcol,
    ),
    Tool(
        "filebeat",
        "kafka input → decode_json_fields ×2, rename, timestamp → output.elasticsearch; "
        "labels mapped flattened (no dedot processor)",
        _built("build-filebeat.sh", "filebeat"),
        _filebeat,
    ),
)


def _index(es: str, index: str, flattened: bool) -> None:
    mappings: dict[str, object] = {}
    if flattened:  # Filebeat cannot replace dots in keys: map the two label maps flattened
        mappings = {
            "properties": {
                "kubernetes": {
                    "properties": {"labels": {"type": "flattened"}, "annotations": {"type": "flattened"}}
                }
            }
        }
    body = {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": mappings}
    httpx.put(f"{es}/{index}", json=body, timeout=60).raise_for_status()


def _count(es: str, index: str) -> int:
    r = httpx.get(f"{es}/{index}/_count", timeout=60)
    return int(r.json()["count"]) if r.status_code == 200 else 0


def _group_state(bootstrap: str, group: str) -> str:
    from aiokafka.admin import AIOKafkaAdminClient

    async def go() -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            [resp] = await admin.describe_consumer_groups([group])
            return str(resp.groups[0][2]) if resp.groups else ""
        finally:
            await admin.close()

    return asyncio.run(go())


def _startup(tool: Tool, binary: str, env: dict[str, str], run: str, tmp: Path) -> float | None:
    """CPU-seconds from launch until the tool's consumer group is Stable on an empty topic."""
    topic, group = f"peers-empty-{run}", f"peers-{tool.name}-empty-{run}"
    create_topic(env["KAFKA_BOOTSTRAP"], topic, 4)
    index = f"peers-{tool.name}-empty-{run}"
    _index(env["ES_URL"], index, tool.name == "filebeat")
    try:
        with spawned(tool.command(binary, env, topic, group, index, tmp), log=tmp / f"{group}.log") as proc:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if _group_state(env["KAFKA_BOOTSTRAP"], group) == "Stable":
                    return _cpu_s(proc.pid)
                time.sleep(0.2)
            return None
    finally:
        httpx.delete(f"{env['ES_URL']}/{index}", timeout=60)
        delete_topics(env["KAFKA_BOOTSTRAP"], [topic])


def _pass(tool: Tool, binary: str, env: dict[str, str], topic: str, n: int, run: str, tmp: Path) -> Run:
    group, index = f"peers-{tool.name}-{run}", f"peers-{tool.name}-{run}"
    es = env["ES_URL"]
    _index(es, index, tool.name == "filebeat")
    t0 = time.monotonic()
    with spawned(tool.command(binary, env, topic, group, index, tmp), log=tmp / f"{group}.log") as proc:
        last, last_change, cpu, wall = -1, time.monotonic(), 0.0, 0.0
        while proc.poll() is None:
            count = _count(es, index)
            now = time.monotonic()
            if count >= n:
                cpu, wall = _cpu_s(proc.pid), now - t0
                break
            if count != last:
                last, last_change = count, now
            elif now - last_change > STALL:
                break
            time.sleep(0.5)
        if proc.poll() is not None:  # it stopped by itself: say why, in its own words
            tail = (tmp / f"{group}.log").read_text(errors="replace").strip().splitlines()[-3:]
            print(f"{tool.name:11} exited with {proc.returncode}: " + " | ".join(tail)[:600])
        rss = peak_rss_mb(proc.pid) if proc.poll() is None else 0.0
        complete = cpu > 0
        if complete:  # a tool that retries may write some twice: let it settle, then count
            time.sleep(3)
    httpx.post(f"{es}/{index}/_refresh", timeout=120)
    docs = _count(es, index)
    sample = httpx.get(f"{es}/{index}/_search", params={"size": 1}, timeout=60).json()
    hits = sample.get("hits", {}).get("hits", [])
    if hits:  # one document of each tool's, kept beside its log to compare the shapes
        (tmp / f"{group}.document.json").write_text(json.dumps(hits[0]["_source"], indent=2) + "\n")
    httpx.delete(f"{es}/{index}", timeout=120)
    return Run(cpu, wall, rss, docs, complete)


def peers_bench(
    env: dict[str, str], n: int = int(os.environ.get("BENCH_PEERS_RECORDS", "1000000"))
) -> dict[str, float]:
    with new_topics_deleted(env["KAFKA_BOOTSTRAP"]):
        return _peers(env, n)


def _peers(env: dict[str, str], n: int) -> dict[str, float]:
    run = f"{int(time.time()) % 1_000_000}"
    tmp = ROOT / ".bench" / f"peers-{run}"
    tmp.mkdir(parents=True)
    ready = [(t, b) for t in TOOLS if t.name in ONLY and (b := t.binary())]
    for tool, _ in ready:
        print(f"{tool.name:11} {tool.what}")
    topic = _input(env, n, f"peers-{run}", PODS)
    runs: dict[str, list[Run]] = {t.name: [] for t, _ in ready}
    starts: dict[str, list[float]] = {t.name: [] for t, _ in ready}
    rsyslog: list[dict[str, float]] = []
    for k in range(RUNS):
        for tool, binary in ready:
            s = _startup(tool, binary, env, f"{run}k{k}", tmp)
            if s is not None:
                starts[tool.name].append(s)
            r = _pass(tool, binary, env, topic, n, f"{run}k{k}", tmp)
            runs[tool.name].append(r)
            state = "" if r.complete else f" — INCOMPLETE: {r.docs:,} of {n:,} documents, not timed"
            print(
                f"{tool.name:11} run {k + 1}/{RUNS}: {r.wall_s:.1f} s wall, {r.cpu_s:.1f} CPU-s, "
                f"peak RSS {r.rss_max_mb:.0f} MB, {r.docs:,} documents{state}"
            )
        rs = _rsyslog(env, topic, f"peers{run}k{k}", n, tmp) if "rsyslog" in ONLY else None
        if rs is not None:
            rsyslog.append(rs)
    # another input (more pods, fewer records) gets keys of its own: a smoke run leaves
    # the million-record figures alone
    tag = (f"_{PODS}pods" if PODS else "") + (f"_{n}records" if n != 1_000_000 else "")
    results: dict[str, float] = {f"peer{tag}_records": n}  # the figures below are of this many records
    per_million: dict[str, float] = {}
    print(
        f"peers       {n:,} records of {PODS or 5} pods, medians of {RUNS} "
        "(start-up: CPU-s until the consumer group is Stable)"
    )
    for tool, _ in ready:
        done = [r for r in runs[tool.name] if r.complete]
        docs = max(r.docs for r in runs[tool.name])
        results[f"peer{tag}_{tool.name}_docs"] = docs
        results[f"peer{tag}_{tool.name}_rss_max_mb"] = round(max(r.rss_max_mb for r in runs[tool.name]), 1)
        start = _median(starts[tool.name]) if starts[tool.name] else float("nan")
        results[f"peer{tag}_{tool.name}_startup_cpu_s"] = round(start, 2)
        if len(done) < len(runs[tool.name]) or docs != n:
            print(
                f"{tool.name:11} did not deliver every record exactly once: "
                f"{docs:,} of {n:,} documents; not timed"
            )
            continue
        cpu = _median([r.cpu_s for r in done])
        per_million[tool.name] = cpu / n * 1e6
        results[f"peer{tag}_{tool.name}_cpu_s_per_million"] = round(per_million[tool.name], 2)
        results[f"peer{tag}_{tool.name}_cpu_s_per_million_past_startup"] = round((cpu - start) / n * 1e6, 2)
        print(
            f"{tool.name:11} {per_million[tool.name]:6.2f} CPU-s per million "
            f"({(cpu - start) / n * 1e6:.2f} past a start-up of {start:.2f} CPU-s), "
            f"peak RSS {results[f'peer{tag}_{tool.name}_rss_max_mb']:.0f} MB, {docs:,} documents"
        )
    if rsyslog:
        cpu = _median([r["cpu_s"] for r in rsyslog])
        results[f"peer{tag}_rsyslog_cpu_s_per_million"] = round(cpu / n * 1e6, 2)
        results[f"peer{tag}_rsyslog_rss_max_mb"] = round(max(r.get("rss_max_mb", 0.0) for r in rsyslog), 1)
        results[f"peer{tag}_rsyslog_docs"] = min(int(r["docs"]) for r in rsyslog)
        print(
            f"rsyslog     {cpu / n * 1e6:6.2f} CPU-s per million, "
            "Kafka→Kafka (its own row: no Elasticsearch output)"
        )
    peers = {k: v for k, v in per_million.items() if k != "logbridge"}
    if "logbridge" in per_million and peers:
        best = min(peers, key=peers.__getitem__)
        ratio = peers[best] / per_million["logbridge"]
        results[f"logbridge_vs_best_peer{tag}_ratio"] = round(ratio, 2)
        print(f"ratio       best peer ({best}) CPU-s ÷ logbridge's = {ratio:.2f}x (goal >= 3x)")
    return results
