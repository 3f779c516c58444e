"""Each stack service is real: a client does real work against it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from elasticsearch import Elasticsearch
from kubernetes import client, config, watch

from tests.integration.conftest import Stack


def test_kafka_produce_and_consume(stack: Stack) -> None:
    topic = f"it-{uuid.uuid4().hex[:8]}"

    async def run() -> list[bytes]:
        prod = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)
        await prod.start()
        try:
            for i in range(10):
                await prod.send_and_wait(topic, f"record-{i}".encode(), key=b"k")
        finally:
            await prod.stop()
        cons = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"g-{topic}",
            enable_auto_commit=False,
        )
        await cons.start()
        got: list[bytes] = []
        try:
            deadline = time.monotonic() + 30
            while len(got) < 10 and time.monotonic() < deadline:
                batch = await cons.getmany(timeout_ms=1000)
                got += [m.value for msgs in batch.values() for m in msgs if m.value is not None]
        finally:
            await cons.stop()
        return got

    assert asyncio.run(run()) == [f"record-{i}".encode() for i in range(10)]


def test_elasticsearch_index_and_search(stack: Stack) -> None:
    root = httpx.get(stack.es_url, timeout=10)  # `curl $ES_URL` answers with the version
    assert root.status_code == 200 and root.json()["version"]["number"], root.text
    es = Elasticsearch(stack.es_url, request_timeout=30)
    index = f"it-{uuid.uuid4().hex[:8]}"
    es.index(
        index=index, id="1", document={"kubernetes": {"pod_name": "web-1"}, "log": "hello"}, refresh=True
    )
    hits = es.search(index=index, query={"term": {"kubernetes.pod_name.keyword": "web-1"}})["hits"]
    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_source"]["log"] == "hello"
    es.indices.delete(index=index)


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/sd":
            body = json.dumps(
                [{"targets": [f"127.0.0.1:{self.server.server_port}"], "labels": {"source": "http_sd"}}]
            ).encode()
            ctype = "application/json"
        else:
            body, ctype = b"# TYPE it_up gauge\nit_up 1\n", "text/plain; version=0.0.4"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def exporter() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_port
    srv.shutdown()


def test_prometheus_file_sd_and_http_sd_targets_up(stack: Stack, exporter: int, tmp_path: Path) -> None:
    sd_dir = stack.prom_config.parent / "file_sd"
    sd_dir.mkdir(exist_ok=True)
    (sd_dir / "it.json").write_text(
        json.dumps([{"targets": [f"127.0.0.1:{exporter}"], "labels": {"source": "file_sd"}}])
    )
    original = stack.prom_config.read_text()
    extra = (
        f"- job_name: it-file-sd\n  file_sd_configs: [{{files: ['{sd_dir}/*.json'], refresh_interval: 5s}}]\n"
        f"- job_name: it-http-sd\n  http_sd_configs: [{{url: 'http://127.0.0.1:{exporter}/sd', "
        f"refresh_interval: 5s}}]\n"
    )
    stack.prom_config.write_text(original + extra)
    try:
        assert httpx.post(f"{stack.prom_url}/-/reload", timeout=10).status_code == 200
        deadline = time.monotonic() + 60
        healthy: set[str] = set()
        while time.monotonic() < deadline and healthy != {"it-file-sd", "it-http-sd"}:
            active = httpx.get(f"{stack.prom_url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
            healthy = {
                t["labels"]["job"]
                for t in active
                if t["labels"]["job"].startswith("it-") and t["health"] == "up"
            }
            time.sleep(1)
        assert healthy == {"it-file-sd", "it-http-sd"}
    finally:
        stack.prom_config.write_text(original)
        (sd_dir / "it.json").unlink()
        httpx.post(f"{stack.prom_url}/-/reload", timeout=10)


def test_kube_apiserver_node_pod_status_and_watch(stack: Stack) -> None:
    api_client = config.new_client_from_config(config_file=str(stack.kubeconfig))
    v1 = client.CoreV1Api(api_client)
    name = f"it-{uuid.uuid4().hex[:6]}"
    v1.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=f"node-{name}")))
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace="default"),
        spec=client.V1PodSpec(
            node_name=f"node-{name}", containers=[client.V1Container(name="c", image="busybox")]
        ),
    )
    created = v1.create_namespaced_pod("default", pod)
    events: list[tuple[str, str]] = []

    def watcher() -> None:
        w = watch.Watch()
        for ev in w.stream(
            v1.list_namespaced_pod,
            "default",
            field_selector=f"metadata.name={name}",
            resource_version=created.metadata.resource_version,
            timeout_seconds=30,
        ):
            events.append((ev["type"], ev["object"].status.pod_ip or ""))
            if ev["object"].status.pod_ip:
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    v1.patch_namespaced_pod_status(
        name,
        "default",
        {"status": {"phase": "Running", "podIP": "127.1.0.9", "podIPs": [{"ip": "127.1.0.9"}]}},
    )
    t.join(timeout=40)
    assert ("MODIFIED", "127.1.0.9") in events
    v1.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    v1.delete_node(f"node-{name}")
