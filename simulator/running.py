"""Put the simulated cluster into the real services.

Why: tests and the demo need real objects in kube-apiserver, real records in Kafka,
real files in a ``var/log/containers`` tree and real HTTP exporters on the pods'
loopback IPs. Everything here is I/O; the values come from ``simulator.model``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


def evict_strangers(v1: Any, cluster: Cluster) -> list[str]:
    """Delete pods in the cluster's namespaces that this cluster does not define: left by
    an earlier run with another seed (the stack's etcd keeps them Running, and one of them
    may hold an IP a pod of this run gets). Returns their names."""
    ours = {(p.namespace, p.name) for p in cluster.pods}
    gone: list[str] = []
    for ns in sorted({p.namespace for p in cluster.pods}):
        for pod in v1.list_namespaced_pod(ns).items:  # a missing namespace lists nothing
            if (ns, pod.metadata.name) not in ours:
                _delete(v1, ns, pod.metadata.name)
                gone.append(pod.metadata.name)
    return gone


def _delete(v1: Any, namespace: str, name: str) -> None:
    try:
        v1.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except ApiException as exc:
        if exc.status != RESOURCE_NS_MISSING:
            raise


def finish_cronjobs(v1: Any, cluster: Cluster) -> list[SimPod]:
    """CronJob runs end: their pods are deleted at once (before their logs are processed)."""
    gone = [p for p in cluster.pods if p.cronjob]
    for p in gone:
        _delete(v1, p.namespace, p.name)
    return gone


def eks_record(
    pod: SimPod,
    ts_ns: int,
    stream: str,
    tag: str,
    text: str,
    *,
    metadata: str = "string",
    message_key: str = "log",
) -> bytes:
    """Tencent's super-node collector record (tests/fixtures/providers/README.md).

    Documented: the line in ``log`` (``message`` with the log-key-as-message annotation),
    the pod metadata in ``kubernetes`` as a JSON string by default (``metadata="object"``:
    the filebeat-metadata-format annotation), ``@timestamp`` as epoch seconds (LogConfig
    timestampKey / timestampFormat defaults). Inferred: the Fluent Bit kubernetes
    filter's keys inside the metadata, ``stream`` and the CRI ``time`` beside the line,
    the line's trailing newline, and ``_p: "P"`` on a fragment of a split line.
    """
    meta = {
        "pod_name": pod.name,
        "namespace_name": pod.namespace,
        "pod_id": pod.uid,
        "labels": pod.labels,
        "annotations": {"tke.cloud.tencent.com/pod-type": "eklet"},
        "host": pod.node,
        "container_name": pod.container,
        "docker_id": pod.container_id,
        "container_image": pod.image,
    }
    rec: dict[str, object] = {
        "@timestamp": ts_ns / 1e9,
        message_key: text if tag == "P" else text + "\n",
        "stream": stream,
        "time": format_rfc3339(ts_ns),
    }
    if tag == "P":
        rec["_p"] = "P"
    rec["kubernetes"] = orjson.dumps(meta).decode() if metadata == "string" else meta
    return orjson.dumps(rec)


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


# Tencent's own scrape config leaves these collectors out with collect[] (its doc's reading:
# the named collectors are dropped; node_exporter's own reading is the opposite) — inferred
SANDBOX_COLLECTORS = ("ipvs",)


def sandbox_metrics(
    pod: SimPod, tick: float, *, stamp_ms: int | None = None, leave_out: Iterable[str] = ()
) -> str:
    """Tencent-style sandbox exporter text (cloud.tencent.com/document/product/457/44173;
    imroc/tke-guide prometheus-scrape-config.md). Deployment pods: cAdvisor data as
    ``container_*`` with provider labels and the refresh's timestamp (data refreshed every
    cri-stats-interval, scraped with honor_timestamps), node_exporter renamed ``pod_*``,
    ``kubelet_volume_stats_*`` of the pod's claim and an ``ipvs`` collector that
    ``collect[]`` leaves out; CronJob pods: an older image with only VM-level ``node_*``
    series (both dialects exist in the field: inferred, the labels are not published)."""
    prov = (
        f'pod_name="{pod.name}",namespace="{pod.namespace}",node="{pod.node}",'
        f'unInstanceId="eks-{pod.uid[:8]}",workload_kind="{pod.owner_kind}",workload_name="{pod.owner_name}"'
    )
    ts = f" {stamp_ms}" if stamp_ms is not None else ""
    vm = "node" if pod.cronjob else "pod"
    lines: list[str] = []
    if not pod.cronjob:
        c = f'container="{pod.container}",image="{pod.image}",{prov}'
        lines += [
            "# TYPE container_cpu_usage_seconds_total counter",
            f'container_cpu_usage_seconds_total{{{c},cpu="total"}} {1.5 + tick * 0.25}{ts}',
            "# TYPE container_cpu_cfs_periods_total counter",
            f"container_cpu_cfs_periods_total{{{c}}} {100 + tick * 10:.0f}{ts}",
            "# TYPE container_cpu_cfs_throttled_periods_total counter",
            f"container_cpu_cfs_throttled_periods_total{{{c}}} {10 + tick:.0f}{ts}",
            "# TYPE container_memory_working_set_bytes gauge",
            f"container_memory_working_set_bytes{{{c}}} {52428800 + int(tick) * 4096}{ts}",
            "# TYPE container_memory_rss gauge",
            f"container_memory_rss{{{c}}} 41943040{ts}",
            "# TYPE container_memory_cache gauge",
            f"container_memory_cache{{{c}}} 8388608{ts}",
            "# TYPE container_memory_swap gauge",
            f"container_memory_swap{{{c}}} 0{ts}",
            "# TYPE container_sandbox_specific_thing gauge",
            f"container_sandbox_specific_thing{{{c}}} 1{ts}",
        ]
        claim = f'namespace="{pod.namespace}",persistentvolumeclaim="data-{pod.owner_name}"'
        volume: tuple[tuple[str, int], ...] = (
            ("capacity_bytes", 10737418240),
            ("available_bytes", 107374182),  # 1 % left: KubePersistentVolumeFillingUp fires
            ("used_bytes", 10630044058),
            ("inodes", 655360),
            ("inodes_free", 600000),
            ("inodes_used", 55360),
        )
        for vname, size in volume:
            lines += [
                f"# TYPE kubelet_volume_stats_{vname} gauge",
                f"kubelet_volume_stats_{vname}{{{claim}}} {size}{ts}",
            ]
        if "ipvs" not in set(leave_out):
            lines += ["# TYPE pod_ipvs_connections_total counter", f"pod_ipvs_connections_total{{{prov}}} 3"]
    lines.append(f"# TYPE {vm}_cpu_seconds_total counter")
    for mode, v in (("user", 1.0), ("system", 0.5), ("idle", 100.0), ("iowait", 0.1), ("steal", 0.0)):
        lines.append(f'{vm}_cpu_seconds_total{{cpu="0",mode="{mode}",{prov}}} {v + tick * 0.1}')
    for name, v in (
        ("MemTotal", 268435456),
        ("MemFree", 167772160),
        ("Inactive_file", 16777216),
        ("MemAvailable", 209715200),
        ("AnonPages", 62914560),
        ("Cached", 33554432),
        ("SwapTotal", 0),
        ("SwapFree", 0),
    ):
        lines += [f"# TYPE {vm}_memory_{name}_bytes gauge", f"{vm}_memory_{name}_bytes{{{prov}}} {v}"]
    for d in ("receive", "transmit"):
        for m in ("bytes", "packets", "drop", "errs"):
            lines.append(f"# TYPE {vm}_network_{d}_{m}_total counter")
            lines.append(f'{vm}_network_{d}_{m}_total{{device="eth0",{prov}}} {int(1024 * (tick + 1))}')
            lines.append(f'{vm}_network_{d}_{m}_total{{device="lo",{prov}}} 10')
    for src, v in (
        ("read_bytes", 4096),
        ("written_bytes", 8192),
        ("reads_completed", 4),
        ("writes_completed", 8),
    ):
        lines.append(f"# TYPE {vm}_disk_{src}_total counter")
        lines.append(f'{vm}_disk_{src}_total{{device="vda",{prov}}} {int(v * (tick + 1))}')
    return "\n".join(lines) + "\n"


def cadvisor_metrics(pods: Iterable[SimPod], tick: float, stamp_ms: int | None = None) -> str:
    """The kubelet /metrics/cadvisor stand-in for standard pods: a real kubelet's label
    set (blank `container`/`image`/`name` on pod-cgroup series) and its millisecond
    timestamp on every sample (tests/reference/kubelet/)."""
    fams: dict[str, list[str]] = {}
    stamp = int(time.time() * 1000) if stamp_ms is None else stamp_ms

    def add(name: str, labels: str, value: float) -> None:
        fams.setdefault(name, []).append(f"{name}{{{labels}}} {value} {stamp}")

    for p in pods:
        c = (
            f'container="{p.container}",id="/kubepods/pod{p.uid}/{p.container_id}",image="{p.image}",'
            f'name="{p.container_id}",namespace="{p.namespace}",pod="{p.name}"'
        )
        add("container_cpu_usage_seconds_total", c + ',cpu="total"', 1.5 + tick * 0.25)
        add("container_cpu_cfs_periods_total", c, 100 + int(tick * 10))
        add("container_cpu_cfs_throttled_periods_total", c, 10 + int(tick))
        add("container_memory_working_set_bytes", c, 52428800 + int(tick) * 4096)
        add("container_memory_rss", c, 41943040)
        add("container_memory_cache", c, 8388608)
        add("container_memory_swap", c, 0)
        for m in ("reads_bytes", "writes_bytes", "reads", "writes"):
            add(f"container_fs_{m}_total", c + ',device="/dev/vda"', int(4096 * (tick + 1)))
        net = (
            f'container="",id="/kubepods/pod{p.uid}",image="",interface="eth0",name="",'
            f'namespace="{p.namespace}",pod="{p.name}"'
        )
        for d in ("receive", "transmit"):
            for m in ("bytes", "packets", "packets_dropped", "errors"):
                add(f"container_network_{d}_{m}_total", net, int(1024 * (tick + 1)))
    out: list[str] = []
    for name, lines in fams.items():
        out.append(f"# TYPE {name} {'gauge' if 'memory' in name else 'counter'}")
        out.extend(lines)
    return "\n".join(out) + "\n"


def kube_state_metrics(pods: Iterable[SimPod]) -> str:
    """kube-state-metrics-shaped series for every live pod (the source of kube_pod_info)."""
    lines = ["# TYPE kube_pod_info gauge"]
    rest: list[str] = []
    namespaces: set[str] = set()
    for p in pods:
        namespaces.add(p.namespace)
        ident = f'namespace="{p.namespace}",pod="{p.name}",uid="{p.uid}"'
        lines.append(
            f'kube_pod_info{{{ident},node="{p.node}",host_ip="127.0.0.1",pod_ip="{p.ip}",'
            f'created_by_kind="{p.owner_kind}",created_by_name="{p.owner_name}",host_network="false",'
            f'priority_class=""}} 1'
        )
        for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
            rest.append(f'kube_pod_status_phase{{{ident},phase="{phase}"}} {int(phase == "Running")}')
        for kind, cpu, mem in (("requests", 0.25, 134217728), ("limits", 0.5, 268435456)):
            base = f'{ident},container="{p.container}",node="{p.node}"'
            rest.append(f'kube_pod_container_resource_{kind}{{{base},resource="cpu",unit="core"}} {cpu}')
            rest.append(f'kube_pod_container_resource_{kind}{{{base},resource="memory",unit="byte"}} {mem}')
    rest += [f'kube_namespace_status_phase{{namespace="{ns}",phase="Active"}} 1' for ns in sorted(namespaces)]
    return "\n".join(lines + rest) + "\n"


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
    """Sandbox exporters on each virtual pod's ``<podIP>:<port>``, one kubelet stand-in per
    standard node and a kube-state-metrics stand-in."""

    def kubelet_scrape_config(self, job_name: str, interval: str) -> str:
        """Prometheus job with the target labels kube-prometheus' kubelet ServiceMonitor gives."""
        groups = ", ".join(
            f"{{targets: ['127.0.0.1:{port}'], labels: {{job: kubelet, metrics_path: /metrics/cadvisor, "
            f"node: {node}, endpoint: https-metrics, service: kubelet}}}}"
            for node, port in sorted(self.kubelets.items())
        )
        return (
            f"- job_name: {job_name}\n  honor_labels: true\n  scrape_interval: {interval}\n"
            f"  metrics_path: /metrics/cadvisor\n  static_configs: [{groups}]\n"
        )

    def __init__(
        self,
        cluster: Cluster,
        *,
        sandbox_port: int = 9100,
        stats_interval_s: float = 1.0,
        paths: dict[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.port = sandbox_port
        # the sandbox refreshes its cAdvisor data this often (Tencent: cri-stats-interval,
        # 30 s by default) and stamps each refresh; tests use 1 s
        self.stats_interval_s = stats_interval_s
        self.paths = paths or {}  # pod name -> its exporter path (custom-metrics-url)
        # pod name -> collect[] of its last scrapes (bounded: a demo may run for hours)
        self.asked: dict[str, deque[list[str]]] = {}
        self.servers: list[ThreadingHTTPServer] = []
        self.started = time.monotonic()
        self.kubelets: dict[str, int] = {}  # standard node -> port of its kubelet stand-in
        self.ksm_port = 0

    @property
    def tick(self) -> float:
        """Seconds since start: counters grow with time, as real ones do."""
        return time.monotonic() - self.started

    def sandbox(self, pod: SimPod, path: str) -> str:
        """One scrape of ``pod``'s sandbox: its path only, collect[] recorded and applied."""
        url = urlsplit(path)
        if url.path != self.paths.get(pod.name, "/metrics"):
            return ""
        collect = parse_qs(url.query).get("collect[]", [])
        self.asked.setdefault(pod.name, deque(maxlen=100)).append(collect)
        # the data of the last refresh, stamped with its time
        now = time.time()
        refreshed = now - (now % self.stats_interval_s)
        tick = self.tick - (now - refreshed)
        return sandbox_metrics(pod, tick, stamp_ms=int(refreshed * 1000), leave_out=collect)

    def start(self) -> None:
        for pod in self.cluster.pods:
            if pod.virtual:
                self._serve((pod.ip, self.port), lambda path, p=pod: self.sandbox(p, path))
        for node in sorted({p.node for p in self.cluster.pods if not p.virtual}):
            on_node = [p for p in self.cluster.pods if p.node == node]
            srv = self._serve(
                ("127.0.0.1", 0),
                lambda path, ps=on_node: (
                    cadvisor_metrics(ps, self.tick) if path == "/metrics/cadvisor" else ""
                ),
            )
            self.kubelets[node] = srv.server_port
        ksm = self._serve(
            ("127.0.0.1", 0),
            lambda path: kube_state_metrics(self.cluster.pods) if path == "/metrics" else "",
        )
        self.ksm_port = ksm.server_port

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


def committed_offsets(bootstrap: str, group: str, topic: str | None = None) -> int:
    """The offsets ``group`` committed (on ``topic``, or on every topic), summed; 0 before
    its first commit. A Kafka that has just started creates its offsets topic on the
    first group lookup and answers "coordinator not available" meanwhile: asked again,
    bounded (15 s)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    async def go() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            for _ in range(30):
                try:
                    offsets = await admin.list_consumer_group_offsets(group)
                    break
                except GroupCoordinatorNotAvailableError:
                    await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"no group coordinator for {group} after 15 s")
        finally:
            await admin.close()
        return sum(om.offset for tp, om in offsets.items() if topic in (None, tp.topic) and om.offset > 0)

    return asyncio.run(go())
