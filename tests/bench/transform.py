"""Transform benchmark (issue: logbridge transform): records/s on one core for
decode -> assemble -> enrich -> encode per profile, on a realistic mix: ~300-byte
lines, 10 % JSON bodies, 2 % partial, 1 % multiline (Java) — target >= 200,000/s.
"""

from __future__ import annotations

import random
import time

import orjson

from logbridge.profiles import build
from logbridge.transforming import core_transformer
from vnbridge.inventory import MemoryInventory
from vnbridge.pods import pod_from_object

N = 100_000
BATCH = 5_000  # records per fetched batch, as the pipeline's max_records


def records(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    t = 1_714_564_800_000_000_000
    k8s = {
        "pod_name": "web-1",
        "namespace_name": "shop",
        "pod_id": "u-1",
        "container_name": "app",
        "docker_id": "d" * 64,
        "labels": {"app": "web"},
        "host": "eklet-0",
    }
    k8s_text = orjson.dumps(k8s).decode()
    i = 0
    while len(out) < n:
        t += 1000
        r = rng.random()
        if r < 0.10:
            text = orjson.dumps({"level": "info", "msg": "x" * 200, "order_id": i, "ok": True}).decode()
            parts = [(text, "F")]
        elif r < 0.12:
            parts = [("p" * 150, "P"), ("q" * 150, "F")]
        elif r < 0.13:
            parts = [
                ('Exception in thread "main" java.lang.IllegalStateException: boom', "F"),
                ("\tat com.example.Main.main(Main.java:7)", "F"),
            ]
        else:
            parts = [(f"GET /api/orders/{i} 200 {'y' * 260}", "F")]
        for text, tag in parts:
            out.append(
                # Tencent's documented default: the metadata as a JSON string
                orjson.dumps(
                    {
                        "@timestamp": t / 1e9,
                        "log": text if tag == "P" else text + "\n",
                        "stream": "stdout",
                        "time": f"2024-05-01T12:00:00.{t % 10**9:09d}Z",
                        **({"_p": "P"} if tag == "P" else {}),
                        "kubernetes": k8s_text,
                    }
                )
            )
        i += 1
    return out[:n]


def transform_bench_inventory() -> MemoryInventory:
    """The one pod the transform and hostile benches enrich from."""
    inv = MemoryInventory()
    inv.upsert(
        pod_from_object(
            {
                "metadata": {
                    "name": "web-1",
                    "namespace": "shop",
                    "uid": "u-1",
                    "labels": {"app": "web"},
                    "annotations": {"vnbridge.io/multiline": "java"},
                },
                "spec": {"nodeName": "eklet-0", "containers": [{"name": "app", "image": "nginx"}]},
                "status": {
                    "podIP": "127.10.0.2",
                    "containerStatuses": [
                        {
                            "name": "app",
                            "containerID": "containerd://" + "d" * 64,
                            "image": "nginx:1.27",
                            "imageID": "nginx@sha256:1",
                        }
                    ],
                },
            }
        )
    )
    return inv


def transform_bench() -> dict[str, float]:
    inv = transform_bench_inventory()
    data = records(N)
    results: dict[str, float] = {}
    for name, opts, target in (
        ("fluent-bit", {"Merge_Log": "On", "Replace_Dots": "On", "Logstash_Format": "On"}, 500_000),
        ("filebeat", {}, 400_000),
        ("vector", {}, 400_000),
    ):
        # as the pipeline drives it: a fetched batch at a time, document bytes out; the
        # median of seven runs (a run is ~0.2 CPU-s: a neighbour's burst spoils one run, not
        # the median)
        runs: list[float] = []
        for _ in range(7):
            core = core_transformer(profile=build(name, opts), lookup=inv)
            start = time.process_time()
            docs = 0
            for first in range(0, N, BATCH):
                batch = core.push_values("bench-0", data[first : first + BATCH], first)
                docs += len(batch.take_bodies())
            docs += len(core.flush_all().take_bodies())
            runs.append(time.process_time() - start)
        elapsed = sorted(runs)[len(runs) // 2]
        key = f"transform_{name.replace('-', '_')}_records_per_cpu_s"
        results[key] = round(N / elapsed)
        print(
            f"{name:11} {N} records -> {docs} documents in {elapsed:.2f} CPU-s: "
            f"{results[key]:,.0f} records/s/core"
            f" ({results[key] / target:.2f}x the {target:,}/s target)"
        )
    return results
