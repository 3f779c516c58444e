"""Discovery benchmarks (issue 5): inventory memory at 10,000 pods, the midnight
burst (1,000 pods → visible in http_sd and file_sd), http_sd latency at 10,000
targets. Figures are printed and returned; nothing here asserts a time."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from kubernetes.client.exceptions import ApiException

ROOT = Path(__file__).resolve().parents[2]


def inventory_bench(n: int = 10_000) -> dict[str, float]:
    from tests.support.helpers import free_port

    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.inventory", str(n), str(free_port())],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"discovery   {n:,} pods: process RSS {r['rss_mb']:.0f} MB "
        f"(interpreter+libs {r['base_rss_mb']:.0f} MB; target <= 150 MB, {150 / r['rss_mb']:.2f}x headroom)"
    )
    print(
        f"discovery   http_sd with {r['targets']:,} targets ({r['bytes'] / 1e6:.1f} MB JSON): "
        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms (target <= 20 ms)"
    )
    return {
        "discovery_10k_pods_rss_mb": round(r["rss_mb"], 1),
        "discovery_http_sd_10k_p50_ms": round(r["p50_ms"], 2),
        "discovery_http_sd_10k_p99_ms": round(r["p99_ms"], 2),
    }


def burst_bench(env: dict[str, str], n: int = 1000) -> dict[str, float]:
    """Create n Running pods on a virtual node as fast as the API takes them; measure
    the time from each pod's status update to its appearance in http_sd and in the file."""
    from simulator.running import kube
    from tests.support.helpers import free_port

    v1 = kube(env["KUBECONFIG"])
    run = f"b{int(time.time()) % 1_000_000}"
    ns = f"bench-{run}"
    v1.create_namespace({"metadata": {"name": ns}})
    with contextlib.suppress(ApiException):  # already there from an earlier run
        v1.create_node(
            {"metadata": {"name": "eklet-bench", "labels": {"node.kubernetes.io/instance-type": "eklet"}}}
        )
    tmp = ROOT / ".bench" / run
    tmp.mkdir(parents=True)
    port = free_port()
    cfg = tmp / "discovery.yaml"
    sd_file = tmp / "sd.json"
    cfg.write_text(
        json.dumps(
            {
                "kube": {"kubeconfig": env["KUBECONFIG"]},
                "file_sd_path": str(sd_file),
                "http_sd": {"listen": f"127.0.0.1:{port}"},
                "debounce_s": 0.05,
            }
        )
    )
    try:
        return _burst(v1, ns, n, port, cfg, tmp, sd_file)
    finally:
        v1.delete_collection_namespaced_pod(ns, grace_period_seconds=0)  # no controller-manager here
        v1.delete_namespace(ns)


def _burst(v1: Any, ns: str, n: int, port: int, cfg: Path, tmp: Path, sd_file: Path) -> dict[str, float]:
    from tests.support.helpers import child, eventually

    seen_http: dict[str, float] = {}
    seen_file: dict[str, float] = {}
    ready: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client() as c:
            while not stop.is_set():
                now = time.monotonic()
                try:
                    for g in c.get(f"http://127.0.0.1:{port}/targets", timeout=5).json():
                        seen_http.setdefault(f"{g['labels']['namespace']}/{g['labels']['pod']}", now)
                except (httpx.HTTPError, ValueError):
                    pass
                try:
                    for g in json.loads(sd_file.read_text()):
                        seen_file.setdefault(f"{g['labels']['namespace']}/{g['labels']['pod']}", now)
                except (OSError, ValueError):
                    pass
                time.sleep(0.01)

    def make(i: int) -> None:
        name = f"cron-{i:04d}"
        v1.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name},
                "spec": {"nodeName": "eklet-bench", "containers": [{"name": "job", "image": "busybox"}]},
            },
        )
        v1.patch_namespaced_pod_status(
            name, ns, {"status": {"phase": "Running", "podIP": f"127.99.{i // 250}.{i % 250 + 1}"}}
        )
        ready[f"{ns}/{name}"] = time.monotonic()

    with child(["discovery", "run", "-c", str(cfg)], log=tmp / "discovery.log"):
        eventually(lambda: _ok(f"http://127.0.0.1:{port}/readyz"), timeout=30, what="discovery ready")
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(make, range(n)))
        created_s = time.monotonic() - t0
        eventually(
            lambda: len(ready) == n and all(k in seen_http and k in seen_file for k in ready),
            timeout=120,
            interval=0.1,
            what="burst visible",
        )
        stop.set()
        poller.join(5)
    lat_h = sorted(seen_http[k] - ready[k] for k in ready)
    lat_f = sorted(seen_file[k] - ready[k] for k in ready)
    p = lambda xs, q: xs[min(len(xs) - 1, int(len(xs) * q))]  # noqa: E731
    print(
        f"discovery   burst of {n} pods (API took them in {created_s:.1f} s): status→http_sd "
        f"p50 {p(lat_h, 0.5) * 1000:.0f} ms p99 {p(lat_h, 0.99) * 1000:.0f} ms; status→file_sd p50 "
        f"{p(lat_f, 0.5) * 1000:.0f} ms p99 {p(lat_f, 0.99) * 1000:.0f} ms (target p99 < 1000 ms)"
    )
    return {
        "discovery_burst_pods": n,
        "discovery_burst_api_seconds": round(created_s, 2),
        "discovery_burst_http_sd_p50_ms": round(p(lat_h, 0.5) * 1000, 1),
        "discovery_burst_http_sd_p99_ms": round(p(lat_h, 0.99) * 1000, 1),
        "discovery_burst_file_sd_p50_ms": round(p(lat_f, 0.5) * 1000, 1),
        "discovery_burst_file_sd_p99_ms": round(p(lat_f, 0.99) * 1000, 1),
    }


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def read_env() -> dict[str, Any]:
    from tests.integration.conftest import read_env as stack_env

    return stack_env()
