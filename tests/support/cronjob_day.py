"""A simulated cluster running 10,000 CronJobs for a day, served as a Kubernetes API.

Why: issue 14 asks how the inventory and discovery hold up at the seed's scale — a
day of CronJob pods (~400,000) with tombstones kept 24 h — at accelerated time. No
real API server on this machine writes 2,000+ pod changes a second through etcd, so
this module plays the API *below* the components under test: it serves list and
watch (chunked JSON lines, as kube-apiserver does) for pods, nodes and namespaces
on loopback, and the real ``vnbridge-discovery`` and logbridge's inventory watch it
through their normal Kubernetes client and kubeconfig.

The day: schedules spread like real clusters (``*/5`` on the five-minute marks,
hourly mostly at minute 0, nightly mostly at midnight, the rest spread), each run a
pod that is scheduled within 2 s, Running 3 to 15 s later, succeeds after 10 s to 10 min
(log-uniform) and is deleted 5 minutes later (ttlSecondsAfterFinished). The clock
runs ``accel`` times faster than wall time; the generator records when it emitted
each pod's Running event so a reader can time Running → published target.
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson

__all__ = ["Day", "FakeApi", "Mix", "write_kubeconfig"]

EKLET = {"node.kubernetes.io/instance-type": "eklet"}
TOKEN = "cronjob-day-token"
BOOKMARK = b'{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"1"}}}\n'


@dataclass(frozen=True)
class Mix:
    """How many CronJobs run on which schedule (fractions of ``cronjobs``)."""

    cronjobs: int = 10_000
    every_5_min: float = 0.10
    hourly: float = 0.40  # the rest is nightly
    nodes: int = 20
    namespaces: int = 200
    ttl_s: float = 300.0  # ttlSecondsAfterFinished

    def schedules(self, rng: random.Random) -> list[tuple[str, float, float]]:
        """(kind, period_s, offset_s) per CronJob."""
        out: list[tuple[str, float, float]] = []
        n5 = round(self.cronjobs * self.every_5_min)
        nh = round(self.cronjobs * self.hourly)
        for i in range(self.cronjobs):
            if i < n5:
                out.append(("every5", 300.0, 0.0))
            elif i < n5 + nh:
                minute = 0 if rng.random() < 0.5 else rng.randrange(60)
                out.append(("hourly", 3600.0, minute * 60.0))
            else:
                minute = 0 if rng.random() < 0.5 else rng.randrange(6 * 60)
                out.append(("nightly", 86400.0, minute * 60.0))
        return out

    def pods_per_day(self) -> int:
        n5 = round(self.cronjobs * self.every_5_min)
        nh = round(self.cronjobs * self.hourly)
        return n5 * 288 + nh * 24 + (self.cronjobs - n5 - nh)


@dataclass
class Day:
    """The event generator: ``sim_start_s`` .. ``sim_end_s`` of simulated time (seconds
    since midnight of day 0), ``accel`` simulated seconds per wall second."""

    mix: Mix = field(default_factory=Mix)
    sim_start_s: float = 600.0  # 00:10 on day 0: the nightly peak at 24:00 has a day of tombstones
    sim_end_s: float = 86400.0 + 1200.0  # 00:20 on day 1
    accel: float = 144.0
    seed: int = 14
    running_at: dict[str, float] = field(default_factory=dict)  # pod -> wall time its Running was sent
    ended_at: dict[str, float] = field(default_factory=dict)  # pod -> wall time it stopped Running
    emitted: int = field(default=0, init=False)  # events sent (each to every watcher)
    _rv: int = field(default=0, init=False)  # the resourceVersion of the last event

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        for i, (_, period, offset) in enumerate(self.mix.schedules(self._rng)):
            first = offset + period * math.ceil((self.sim_start_s - offset) / period)
            self._push(first, "fire", (i, period))

    def _push(self, at: float, what: str, data: Any) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), what, data))

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "metadata": {
                    "name": f"eklet-{i}",
                    "uid": f"node-{i}",
                    "labels": {
                        **EKLET,
                        "topology.kubernetes.io/zone": f"zone-{i % 3}",
                        "kubernetes.io/os": "linux",
                    },
                }
            }
            for i in range(self.mix.nodes)
        ]

    def namespaces(self) -> list[dict[str, Any]]:
        return [
            {"metadata": {"name": f"team-{i}", "uid": f"ns-{i}", "labels": {"team": f"t{i % 17}"}}}
            for i in range(self.mix.namespaces)
        ]

    def _pod(self, cj: int, minute: int, suffix: str, phase: str) -> dict[str, Any]:
        name = f"cj-{cj}"
        job = f"{name}-{minute}"
        self._rv += 1
        juid = f"{cj:08x}-{minute:04x}-4000-8000-{minute:012x}"
        pod: dict[str, Any] = {
            "metadata": {
                "name": f"{job}-{suffix}",
                "namespace": f"team-{cj % self.mix.namespaces}",
                "uid": f"{minute:08x}-{cj:04x}-4000-8000-{cj:012x}",
                "resourceVersion": str(self._rv),
                "labels": {
                    "app": name,
                    "batch.kubernetes.io/controller-uid": juid,
                    "batch.kubernetes.io/job-name": job,
                    "controller-uid": juid,
                    "job-name": job,
                },
                "annotations": {"eks.tke.cloud.tencent.com/metrics-port": "9100"},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job,
                        "uid": juid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
                "creationTimestamp": "2026-11-23T00:00:00Z",
            },
            "spec": {
                "nodeName": f"eklet-{cj % self.mix.nodes}",
                "restartPolicy": "OnFailure",
                "containers": [
                    {
                        "name": "main",
                        "image": f"registry.example.com/team-{cj % 50}/{name}:1.4.2",
                        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                    }
                ],
            },
            "status": {"phase": phase, "qosClass": "Guaranteed"},
        }
        if phase != "Pending":
            ip = (10 << 24) | (cj << 10 ^ minute) & 0xFFFFFF
            pod["status"].update(
                {
                    "podIP": f"{ip >> 24}.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}",
                    "hostIP": "169.254.0.1",
                    "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}],
                    "containerStatuses": [
                        {
                            "name": "main",
                            "containerID": f"containerd://{cj:032x}{minute:032x}",
                            "image": f"registry.example.com/team-{cj % 50}/{name}:1.4.2",
                            "imageID": f"registry.example.com/team-{cj % 50}/{name}@sha256:{cj:064x}",
                            "restartCount": 0,
                        }
                    ],
                }
            )
        return pod

    def due(self, sim_now: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (event type, object) due by ``sim_now``, in order; schedules what follows."""
        rng = self._rng
        while self._heap and self._heap[0][0] <= sim_now:
            at, _, what, data = heapq.heappop(self._heap)
            if what == "fire":
                cj, period = data
                if at + period < self.sim_end_s:
                    self._push(at + period, "fire", data)
                minute = int(at // 60)
                suffix = f"{rng.randrange(36**5):05x}"
                self._push(at + rng.uniform(0, 2), "pod", (cj, minute, suffix, "Pending"))
            elif what == "pod":
                cj, minute, suffix, phase = data
                obj = self._pod(cj, minute, suffix, phase)
                name = obj["metadata"]["name"]
                if phase == "Pending":
                    self._push(at + rng.uniform(3, 15), "pod", (cj, minute, suffix, "Running"))
                    yield "ADDED", obj
                    continue
                if phase == "Running":
                    life = math.exp(rng.uniform(math.log(10), math.log(600)))
                    self._push(at + life, "pod", (cj, minute, suffix, "Succeeded"))
                    self.running_at[name] = time.monotonic()
                elif phase == "Succeeded":
                    self.ended_at[name] = time.monotonic()
                    self._push(at + self.mix.ttl_s, "delete", obj)
                yield "MODIFIED", obj
            else:
                yield "DELETED", data

    @property
    def done(self) -> bool:
        return not self._heap


class FakeApi:
    """list + watch of pods / nodes / namespaces over HTTP on 127.0.0.1 (bearer token).
    Pod events come from ``Day``; nodes and namespaces are listed and never change."""

    def __init__(self, day: Day) -> None:
        self.day = day
        self._watchers: list[queue.SimpleQueue[bytes | None]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.sim_now = day.sim_start_s
        self.pods_watchers = 0
        self.t0 = 0.0  # wall (monotonic) time the day started: sim = start + (t - t0) * accel
        self.expected = 1 << 30  # pod watches the day waits for; more later are reconnects
        self.reconnects = 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._json(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
                    return
                url = urlparse(self.path)
                kind = url.path.rsplit("/", 1)[-1]
                query = parse_qs(url.query)
                if kind not in ("pods", "nodes", "namespaces"):
                    self._json(404, {"kind": "Status", "code": 404})
                    return
                if query.get("watch") != ["true"]:
                    items = {"nodes": api.day.nodes, "namespaces": api.day.namespaces}.get(kind, list)()
                    self._json(200, {"kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
                if kind == "pods":
                    with api._lock:
                        if api.pods_watchers >= api.expected and not api.day.done:
                            api.reconnects += 1
                        api._watchers.append(q)
                        api.pods_watchers += 1
                try:
                    while True:
                        try:
                            data = q.get(timeout=30.0)
                        except queue.Empty:
                            data = BOOKMARK
                        if data is None:
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
                finally:
                    with api._lock:
                        if q in api._watchers:
                            api._watchers.remove(q)

            def _json(self, status: int, doc: dict[str, Any]) -> None:
                body = orjson.dumps(doc)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="fake-api", daemon=True).start()

    def run_day(self, *, watchers: int, tick_s: float = 0.005) -> float:
        """Wait for ``watchers`` pod watches, then play the day; returns the wall seconds it took."""
        self.expected = watchers
        while self.pods_watchers < watchers:
            time.sleep(0.01)
        day = self.day
        t0 = self.t0 = time.monotonic()
        while not day.done:
            self.sim_now = day.sim_start_s + (time.monotonic() - t0) * day.accel
            lines = [orjson.dumps({"type": t, "object": o}) for t, o in day.due(self.sim_now)]
            if lines:
                data = b"\n".join(lines) + b"\n"
                day.emitted += len(lines)
                with self._lock:
                    for q in self._watchers:
                        q.put(data)
            time.sleep(tick_s)
        return time.monotonic() - t0

    def stop(self) -> None:
        with self._lock:
            for q in self._watchers:
                q.put(None)
        self.server.shutdown()


def write_kubeconfig(path: Path, port: int) -> Path:
    path.write_text(
        orjson.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sim", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "sim", "user": {"token": TOKEN}}],
                "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}}],
                "current-context": "sim",
            }
        ).decode()
    )
    return path
