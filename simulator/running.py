"""Put the simulated cluster into the real services.

Why: tests and the demo need real objects in kube-apiserver, real records in Kafka,
real files in a ``var/log/containers`` tree and real HTTP exporters on the pods'
loopback IPs. Everything here is I/O; the values come from ``simulator.model``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from simulator.model import Cluster, SimPod, format_rfc3339, log_lines

RESOURCE_NS_MISSING = 404
CONFLICT = 409


def kube(kubeconfig: str) -> Any:
    """A CoreV1Api (typed Any: we pass plain dict manifests, which the client accepts)."""
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))  # type: ignore[no-untyped-call]


def register(v1: Any, cluster: Cluster) -> None:
    """Nodes, namespaces and Running pods with IPs and containerStatuses (idempotent)."""
    for node in cluster.nodes():
        try:
            v1.create_node(node)
        except ApiException as exc:
            if exc.status != CONFLICT:
                raise
    for ns in sorted({p.namespace for p in cluster.pods}):
        try:
            v1.create_namespace({"metadata": {"name": ns, "labels": {"team": ns}}})
        except ApiException as exc:
            if exc.status != CONFLICT:
                raise
    for pod in cluster.pods:
        try:
            v1.create_namespaced_pod(pod.namespace, pod.manifest())
        except ApiException as exc:
            if exc.status != CONFLICT:
                raise
        v1.patch_namespaced_pod_status(pod.name, pod.namespace, pod.status())


def finish_cronjobs(v1: Any, cluster: Cluster) -> list[SimPod]:
    """CronJob runs end: their pods are deleted at once (before their logs are processed)."""
    gone = [p for p in cluster.pods if p.cronjob]
    for p in gone:
        try:
            v1.delete_namespaced_pod(p.name, p.namespace, grace_period_seconds=0)
        except ApiException as exc:
            if exc.status != RESOURCE_NS_MISSING:
                raise
    return gone


def eks_record(pod: SimPod, ts_ns: int, stream: str, tag: str, text: str) -> bytes:
    """The Tencent EKS default record shape (DESIGN §3)."""
    return orjson.dumps(
        {
            "@timestamp": ts_ns / 1e9,
            "log": text,
            "stream": stream,
            "time": format_rfc3339(ts_ns),
            "_p": tag,
            "kubernetes": {
                "pod_name": pod.name,
                "namespace_name": pod.namespace,
                "pod_id": pod.uid,
                "labels": pod.labels,
                "annotations": {"tke.cloud.tencent.com/pod-type": "eklet"},
                "host": pod.node,
                "container_name": pod.container,
                "docker_id": pod.container_id,
                "container_image": pod.image,
            },
        }
    )


async def produce(bootstrap: str, topic: str, pods: Iterable[SimPod]) -> int:
    prod = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await prod.start()
    n = 0
    try:
        for pod in pods:
            for ts, stream, tag, text in log_lines(pod):
                await prod.send(topic, eks_record(pod, ts, stream, tag, text), key=pod.uid.encode())
                n += 1
        await prod.flush()
    finally:
        await prod.stop()
    return n


def produce_sync(bootstrap: str, topic: str, pods: Iterable[SimPod]) -> int:
    return asyncio.run(produce(bootstrap, topic, pods))


def write_cri_files(root: Path, pods: Iterable[SimPod]) -> list[Path]:
    """CRI log files for standard pods, named as kubelet names them."""
    out = []
    for pod in pods:
        path = (
            root / "var/log/containers" / f"{pod.name}_{pod.namespace}_{pod.container}-{pod.container_id}.log"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "".join(f"{format_rfc3339(ts)} {s} {tag} {text}\n" for ts, s, tag, text in log_lines(pod))
        )
        out.append(path)
    return out


def sandbox_metrics(pod: SimPod, tick: int) -> str:
    """Tencent-style sandbox exporter text: cAdvisor-like container_*, node_exporter
    renamed pod_*, provider labels."""
    prov = (
        f'pod_name="{pod.name}",namespace="{pod.namespace}",node="{pod.node}",'
        f'unInstanceId="eks-{pod.uid[:8]}",workload_kind="{pod.owner_kind}",workload_name="{pod.owner_name}"'
    )
    c = f'container="{pod.container}",image="{pod.image}",{prov}'
    lines = [
        "# TYPE container_cpu_usage_seconds_total counter",
        f'container_cpu_usage_seconds_total{{{c},cpu="total"}} {1.5 + tick * 0.25}',
        "# TYPE container_memory_working_set_bytes gauge",
        f"container_memory_working_set_bytes{{{c}}} {52428800 + tick * 4096}",
        "# TYPE pod_cpu_seconds_total counter",
    ]
    for mode, v in (("user", 1.0), ("system", 0.5), ("idle", 100.0), ("iowait", 0.1), ("steal", 0.0)):
        lines.append(f'pod_cpu_seconds_total{{cpu="0",mode="{mode}",{prov}}} {v + tick * 0.1}')
    lines += [
        "# TYPE pod_network_receive_bytes_total counter",
        f'pod_network_receive_bytes_total{{device="eth0",{prov}}} {1024 * (tick + 1)}',
        f'pod_network_receive_bytes_total{{device="lo",{prov}}} 10',
        "# TYPE pod_memory_MemAvailable_bytes gauge",
        f"pod_memory_MemAvailable_bytes{{{prov}}} 209715200",
    ]
    return "\n".join(lines) + "\n"


def cadvisor_metrics(pods: Iterable[SimPod], tick: int) -> str:
    """The kubelet /metrics/cadvisor stand-in for standard pods."""
    lines = ["# TYPE container_cpu_usage_seconds_total counter"]
    for p in pods:
        lines.append(
            f'container_cpu_usage_seconds_total{{container="{p.container}",cpu="total",'
            f'id="/kubepods/pod{p.uid}/{p.container_id}",image="{p.image}",name="{p.container_id}",'
            f'namespace="{p.namespace}",pod="{p.name}"}} {1.5 + tick * 0.25}'
        )
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.render(self.path).encode()  # type: ignore[attr-defined]
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Exporters:
    """Sandbox exporters on each virtual pod's ``<podIP>:<port>`` and a kubelet stand-in."""

    def __init__(self, cluster: Cluster, *, sandbox_port: int = 9100) -> None:
        self.cluster = cluster
        self.port = sandbox_port
        self.servers: list[ThreadingHTTPServer] = []
        self.tick = 0
        self.kubelet_port = 0

    def start(self) -> None:
        for pod in self.cluster.pods:
            if pod.virtual:
                self._serve(
                    (pod.ip, self.port),
                    lambda path, p=pod: sandbox_metrics(p, self.tick) if path == "/metrics" else "",
                )
        std = [p for p in self.cluster.pods if not p.virtual]
        srv = self._serve(
            ("127.0.0.1", 0),
            lambda path: cadvisor_metrics(std, self.tick) if path == "/metrics/cadvisor" else "",
        )
        self.kubelet_port = srv.server_port

    def _serve(self, addr: tuple[str, int], render: Any) -> ThreadingHTTPServer:
        srv = ThreadingHTTPServer(addr, _Handler)
        srv.render = render  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.servers.append(srv)
        return srv

    def stop(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
