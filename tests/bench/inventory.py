"""Child process of the discovery benchmark: a 10,000-pod inventory and its http_sd.

Run as ``python -m tests.bench.inventory N PORT``; prints one JSON line of figures.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
from typing import Any

import httpx
import kubernetes.client  # noqa: F401 - loaded by the real process too, so counted in its RSS
import uvicorn
from prometheus_client import CollectorRegistry

import discovery.running  # noqa: F401
from discovery.publishing import TargetsView
from discovery.serving import DiscoveryMetrics, create_app
from discovery.targeting import TargetRules
from simulator.supervising import rss_mb
from vnbridge.exporters import ExporterRule, NodeSelector
from vnbridge.httpkit import Auth
from vnbridge.tracking import ClusterState

EKLET = {"node.kubernetes.io/instance-type": "eklet"}


def pod(i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"report-{i}-abcde",
            "namespace": f"team-{i % 40}",
            "uid": f"{i:08d}-aaaa-4bbb-8ccc-{i:012d}",
            "labels": {"app": "report", "job-name": f"report-{i}", "app.kubernetes.io/name": "report"},
            "annotations": {"tke.cloud.tencent.com/pod-type": "eklet"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": f"report-{i}",
                    "uid": "x",
                    "controller": True,
                }
            ],
            "creationTimestamp": "2024-05-01T00:00:00Z",
        },
        "spec": {
            "nodeName": f"eklet-{i % 50}",
            "containers": [{"name": "job", "image": "busybox:1.36", "resources": {"limits": {"cpu": "1"}}}],
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            "containerStatuses": [
                {
                    "name": "job",
                    "containerID": "containerd://" + "a" * 64,
                    "image": "docker.io/library/busybox:1.36",
                    "imageID": "docker.io/library/busybox@sha256:" + "b" * 64,
                    "restartCount": 0,
                }
            ],
        },
    }


def main() -> None:
    base = rss_mb()
    n, port = int(sys.argv[1]), int(sys.argv[2])
    state = ClusterState(kinds=("nodes", "pods"))
    state.list_nodes([{"metadata": {"name": f"eklet-{i}", "labels": EKLET}} for i in range(50)])
    state.list_pods([pod(i) for i in range(n)])
    gc.collect()
    rules = TargetRules(
        exporter=ExporterRule(NodeSelector(EKLET)),
        bridge_address="127.0.0.1:9101",
        static_labels={"job": "kubelet"},
    )
    view = TargetsView(state=state, rules=rules)
    view.refresh()
    rss = rss_mb()
    metrics = DiscoveryMetrics(CollectorRegistry())
    metrics.watch(state, view)
    app = create_app(view=view, metrics=metrics, auth=Auth())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    times: list[float] = []
    url = f"http://127.0.0.1:{port}/targets"
    with httpx.Client() as client:
        for _ in range(20):
            client.get(url)
        for _ in range(200):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
    server.should_exit = True
    thread.join(5)
    times.sort()
    figures = {
        "rss_mb": rss,
        "base_rss_mb": base,
        "targets": len(view.groups),
        "bytes": len(resp.content),
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[int(len(times) * 0.99)],
    }
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
