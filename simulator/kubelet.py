"""A virtual-kubelet stand-in: the node endpoint AWS Fargate, Alibaba ECI and Azure ACI
serve their pods' metrics on, reached the way vnbridge reaches it, through the real
kube-apiserver's node proxy.

Why: the API server refuses to proxy to loopback addresses, so the stand-in runs in a
network namespace of its own (``netns()``, a veth pair on 198.18.0.0/15, the benchmarking
range, only on this machine) and serves HTTPS as a kubelet does. It answers
``/metrics/cadvisor`` (cAdvisor's label set, with timestamps, as a real kubelet's) and
``/metrics/resource`` (virtual-kubelet/azure-aci's resource metrics:
pkg/metrics/collectors/kubelet_resource_metrics.go) for the pods in a JSON file.

    python -m simulator.kubelet --listen 198.18.7.2:10250 --pods pods.json --cert c.pem --key k.pem
"""

from __future__ import annotations

import argparse
import contextlib
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["cadvisor_text", "netns", "resource_text", "self_signed"]


def cadvisor_text(pods: list[dict[str, Any]], tick: float, stamp_ms: int) -> str:
    """The kubelet's /metrics/cadvisor for ``pods`` (namespace, name, uid, container,
    container_id, image), every sample stamped, plus the node's own cgroup series."""
    fams: dict[str, list[str]] = {}

    def add(name: str, labels: str, value: float) -> None:
        fams.setdefault(name, []).append(f"{name}{{{labels}}} {value} {stamp_ms}")

    add("container_cpu_usage_seconds_total", 'cpu="total",id="/"', 100 + tick)  # the node: no pod
    for p in pods:
        c = (
            f'container="{p["container"]}",id="/kubepods/pod{p["uid"]}/{p["container_id"]}",'
            f'image="{p["image"]}",name="{p["container_id"]}",namespace="{p["namespace"]}",pod="{p["name"]}"'
        )
        add("container_cpu_usage_seconds_total", c + ',cpu="total"', 1.5 + tick * 0.25)
        add("container_memory_working_set_bytes", c, 52428800 + int(tick) * 4096)
        add("container_memory_rss", c, 41943040)
        net = (
            f'container="",id="/kubepods/pod{p["uid"]}",image="",interface="eth0",name="",'
            f'namespace="{p["namespace"]}",pod="{p["name"]}"'
        )
        add("container_network_receive_bytes_total", net, int(1024 * (tick + 1)))
    out: list[str] = []
    for name, lines in fams.items():
        out.append(f"# TYPE {name} {'gauge' if 'memory' in name else 'counter'}")
        out.extend(lines)
    return "\n".join(out) + "\n"


def resource_text(pods: list[dict[str, Any]], tick: float, stamp_ms: int) -> str:
    """virtual-kubelet/azure-aci's /metrics/resource for ``pods``."""
    lines = [
        "# TYPE node_cpu_usage_seconds_total counter",
        f"node_cpu_usage_seconds_total {100 + tick} {stamp_ms}",
        "# TYPE container_cpu_usage_seconds_total counter",
    ]
    ident = [f'container="{p["container"]}",namespace="{p["namespace"]}",pod="{p["name"]}"' for p in pods]
    lines += [f"container_cpu_usage_seconds_total{{{i}}} {1.5 + tick * 0.25} {stamp_ms}" for i in ident]
    lines.append("# TYPE container_memory_working_set_bytes gauge")
    lines += [
        f"container_memory_working_set_bytes{{{i}}} {52428800 + int(tick) * 4096} {stamp_ms}" for i in ident
    ]
    lines.append("# TYPE pod_cpu_usage_seconds_total counter")
    for p in pods:
        pod = f'namespace="{p["namespace"]}",pod="{p["name"]}"'
        lines.append(f"pod_cpu_usage_seconds_total{{{pod}}} {1.5 + tick * 0.25} {stamp_ms}")
    lines += ["# TYPE scrape_error gauge", "scrape_error 0"]
    return "\n".join(lines) + "\n"


def self_signed(directory: Path, cn: str) -> tuple[Path, Path]:
    """A throwaway certificate, as a kubelet's self-signed serving certificate is."""
    cert, key = directory / "kubelet.crt", directory / "kubelet.key"
    if not cert.exists():
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-subj", f"/CN={cn}", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
    return cert, key


@contextlib.contextmanager
def netns(name: str, octet: int) -> Iterator[tuple[str, str]]:
    """A network namespace joined to this one by a veth pair: (host side address, the
    namespace's address), 198.18.<octet>.1 and .2. Removed on exit."""
    host, inner = f"198.18.{octet}.1", f"198.18.{octet}.2"
    a, b = f"vnb{octet}a", f"vnb{octet}b"

    def ip(*args: str, check: bool = True) -> None:
        subprocess.run(["ip", *args], check=check, capture_output=True)

    ip("netns", "del", name, check=False)
    ip("link", "del", a, check=False)
    ip("netns", "add", name)
    try:
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        ip("link", "set", b, "netns", name)
        ip("addr", "add", f"{host}/30", "dev", a)
        ip("link", "set", a, "up")
        ip("-n", name, "addr", "add", f"{inner}/30", "dev", b)
        ip("-n", name, "link", "set", b, "up")
        ip("-n", name, "link", "set", "lo", "up")
        yield host, inner
    finally:
        ip("link", "del", a, check=False)
        ip("netns", "del", name, check=False)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        path = urlsplit(self.path).path
        now = time.time()
        stamp = int(now * 1000)
        tick = now - server.started
        pods = json.loads(Path(server.pods_file).read_text())
        body = {
            "/metrics/cadvisor": lambda: cadvisor_text(pods, tick, stamp),
            "/metrics/resource": lambda: resource_text(pods, tick, stamp),
        }.get(path, lambda: "")().encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with Path(server.log).open("a") as log:
            log.write(self.path + "\n")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="host:port")
    ap.add_argument("--pods", required=True, help="JSON list of the pods on this node")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True, help="every request path is appended here")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    srv: Any = ThreadingHTTPServer((host, int(port)), _Handler)
    srv.pods_file, srv.started, srv.log = args.pods, time.time(), args.log
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"kubelet stand-in on https://{args.listen}", file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
