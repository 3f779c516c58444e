"""Run a real Filebeat and keep what it sends: a loopback ``_bulk`` capture server and
the filebeat.yml of one option set.

Why: the differential test needs Filebeat's own documents, exactly as its
Elasticsearch output serialises them, without an Elasticsearch whose mappings or
ingest could change them. The capture server answers what the output asks before
it sends (``GET /`` with a 9.3.0 version, ``GET /_license``) and keeps every
``_bulk`` body, gunzipped, as (action, source) line pairs.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

VERSION = "9.3.0"
CONTAINERS = "/var/log/containers/"  # the logs_path matcher reads the container id this way only here


def on_node(argv: list[str], *, var_log: Path) -> list[str]:
    """``argv`` run with ``var_log`` mounted at /var/log, in a user + mount namespace of
    its own (no privilege needed, nothing on the machine touched): Filebeat's
    ``logs_path`` matcher takes the container id from the file name only under
    ``/var/log/containers/``, and the documents then carry the node's real paths."""
    script = 'mount --bind "$0" /var/log && exec "$@"'
    return ["unshare", "--map-root-user", "--mount", "sh", "-c", script, str(var_log), *argv]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pairs: list[tuple[bytes, bytes]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _reply(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/_license"):
            self._reply({"license": {"uid": "capture", "type": "basic", "status": "active"}})
        else:
            version = {"number": VERSION, "build_flavor": "default"}
            self._reply(
                {"name": "capture", "cluster_name": "capture", "cluster_uuid": "c", "version": version}
            )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = [x for x in body.split(b"\n") if x.strip()]  # Filebeat adds blank lines
        pairs = list(zip(lines[0::2], lines[1::2], strict=True))
        with self.server.lock:
            self.server.pairs.extend(pairs)
        items = [{next(iter(json.loads(a))): {"status": 201}} for a, _ in pairs]
        self._reply({"took": 1, "errors": False, "items": items})

    def log_message(self, *args: object) -> None:
        pass


class Capture:
    """What one Filebeat sent, as (action line, source line) pairs."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    def pairs(self) -> list[tuple[bytes, bytes]]:
        with self._server.lock:
            return list(self._server.pairs)


@contextmanager
def capture_server() -> Iterator[Capture]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Capture(server)
    finally:
        server.shutdown()
        server.server_close()


def filebeat_yml(
    *,
    name: str,
    node: str,
    kubeconfig: Path,
    output: str,
    kubernetes: dict[str, Any],
    input_options: dict[str, Any],
    processors: list[dict[str, Any]],
    output_options: dict[str, Any],
) -> str:
    """The reference DaemonSet config (filestream + container parser + the global
    add_kubernetes_metadata with the logs_path matcher), plus one option set."""
    config: dict[str, Any] = {
        "name": name,
        "filebeat.inputs": [
            {
                "type": "filestream",
                "id": "kubernetes-container-logs",
                "paths": [f"{CONTAINERS}*.log"],
                "parsers": [{"container": None}],
                "prospector": {
                    "scanner": {"symlinks": True, "check_interval": "200ms", "fingerprint.enabled": False}
                },
                "file_identity.native": None,
                **input_options,
            }
        ],
        "processors": [
            {
                "add_kubernetes_metadata": {
                    "kube_config": str(kubeconfig),
                    "node": node,
                    "matchers": [{"logs_path": {"logs_path": CONTAINERS}}],
                    **kubernetes,
                }
            },
            *processors,
        ],
        "queue.mem": {"events": 8192, "flush.min_events": 256, "flush.timeout": "100ms"},
        "setup.template.enabled": False,
        "setup.ilm.enabled": False,
        "output.elasticsearch": {"hosts": [output], **output_options},
        "logging.level": "info",
        "logging.to_stderr": True,
        "http.enabled": False,
    }
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
