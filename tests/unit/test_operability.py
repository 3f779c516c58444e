"""What an operator reads first: ``--version`` on every CLI, ``vnbridge_build_info`` and
``process_*`` on every service's /metrics, and readiness naming a refused watch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from discovery.publishing import TargetsView
from discovery.serving import DiscoveryMetrics
from discovery.serving import create_app as discovery_app
from discovery.targeting import TargetRules
from logbridge.observing import Health, Metrics
from logbridge.observing import create_app as logbridge_app
from metricsbridge.running import build_app
from metricsbridge.settings import MetricsbridgeSettings
from vnbridge import package_version
from vnbridge.configuring import load_settings
from vnbridge.exporters import NODE_PRESETS, ExporterRule, NodeSelector
from vnbridge.httpkit import Auth
from vnbridge.tracking import ClusterState


@pytest.mark.parametrize("module", ["logbridge", "discovery", "metricsbridge"])
def test_every_cli_prints_its_version(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip().endswith(package_version()) and "\n" not in out.strip()


def _discovery(state: ClusterState) -> TestClient:
    view = TargetsView(
        state=state, rules=TargetRules(exporter=ExporterRule(NodeSelector(NODE_PRESETS["aws-fargate"])))
    )
    metrics = DiscoveryMetrics(CollectorRegistry())
    metrics.watch(state, view)
    return TestClient(discovery_app(view=view, metrics=metrics, auth=Auth()))


def test_every_service_exports_build_info_and_process_metrics() -> None:
    health = Health()
    bodies = {
        "vnbridge-discovery": _discovery(ClusterState()).get("/metrics").text,
        "logbridge": TestClient(logbridge_app(metrics=Metrics(), health=health)).get("/metrics").text,
        "metricsbridge": TestClient(build_app(load_settings(MetricsbridgeSettings), ClusterState())[0])
        .get("/metrics")
        .text,
    }
    for component, text in bodies.items():
        assert f'vnbridge_build_info{{component="{component}",python_version=' in text, component
        assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text


def test_readiness_names_a_refused_watch_and_keeps_serving_the_last_list() -> None:
    state = ClusterState(kinds=("nodes", "pods"))
    state.list_nodes([])
    state.list_pods([])
    client = _discovery(state)
    assert client.get("/readyz").status_code == 200
    state.watch_status("pods", 403)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "pods (HTTP 403)" in ready.text
    assert client.get("/targets").status_code == 200  # the last good list stays published
    assert 'vnbridge_discovery_watch_refused{resource="pods"} 403.0' in client.get("/metrics").text
    state.watch_status("pods", 0)
    assert client.get("/readyz").status_code == 200


def test_log_lines_are_json_whatever_the_message_holds() -> None:
    import json
    import logging

    from vnbridge.logs import JsonFormatter

    fmt = JsonFormatter()
    record = logging.LogRecord(
        "vnbridge.x", logging.WARNING, __file__, 1, 'a "quoted" %s\nline', ("arg",), None
    )
    event = json.loads(fmt.format(record))
    assert event["message"] == 'a "quoted" arg\nline' and event["level"] == "WARNING"
    try:
        raise ValueError('bad "value"')
    except ValueError:
        import sys

        record = logging.LogRecord("vnbridge.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    event = json.loads(fmt.format(record))
    assert event["error"] == 'ValueError: bad "value"' and "traceback" not in event


def test_config_check_refuses_what_run_would_refuse(tmp_path: Path) -> None:
    cfg = tmp_path / "lb.yaml"
    cfg.write_text(
        "source: {topics: [x]}\ninventory: {source: none}\nsinks: {elasticsearch: {enabled: false}}\n"
    )
    out = subprocess.run(
        [str(Path(sys.executable).parent / "logbridge"), "config", "check", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "no sink enabled" in out.stderr and "Traceback" not in out.stderr


DEAD_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:3", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
API_FIX = "check the server address, its CA and that it is up"
FILE_SINK = "sinks: {file: {enabled: true, path: '/dev/null'}}\nhttp: {enabled: false}\n"
# (cli, settings file, environment, the cause the one line must name, and its fix); nothing listens on
# 127.0.0.1 ports 1-3
STARTUP_FAILURES = {
    "logbridge-kafka": (
        "logbridge",
        "kafka: {bootstrap_servers: '127.0.0.1:1'}\ninventory: {source: none}\n" + FILE_SINK,
        {},
        "cannot reach Kafka at 127.0.0.1:1 (Unable connect to",
        "check kafka.bootstrap_servers",
    ),
    "logbridge-elasticsearch": (
        "logbridge",
        "inventory: {source: none}\nsinks: {elasticsearch: {enabled: true}}\nhttp: {enabled: false}\n"
        "elasticsearch: {hosts: ['http://127.0.0.1:2']}\n",
        {},
        "elasticsearch http://127.0.0.1:2 (no auth): connection failed",
        "check elasticsearch.hosts",
    ),
    "logbridge-api": (
        "logbridge",
        "inventory: {source: kube, kube: {kubeconfig: KUBECONFIG}}\n" + FILE_SINK,
        {},
        "inventory.kube: kubernetes https://127.0.0.1:3: ConnectionRefusedError",
        API_FIX,
    ),
    "logbridge-kubeconfig": (
        "logbridge",
        "inventory: {source: kube, kube: {kubeconfig: /nonexistent/kubeconfig}}\n" + FILE_SINK,
        {},
        "inventory.kube.kubeconfig: /nonexistent/kubeconfig does not exist",
        "point each at a readable file",
    ),
    "logbridge-tls-file": (
        "logbridge",
        "kafka: {security_protocol: SSL, tls: {enabled: true, ca_file: /nonexistent/ca.pem}}\n" + FILE_SINK,
        {},
        "kafka.tls.ca_file: /nonexistent/ca.pem does not exist or is not a file",
        "point each at a readable file",
    ),
    "logbridge-env-name": (
        "logbridge",
        FILE_SINK,
        {"VNBRIDGE_LOGBRIDGE_SOURCE__TOPIC": "a"},
        "unknown environment variable(s) VNBRIDGE_LOGBRIDGE_SOURCE__TOPIC",
        "names are VNBRIDGE_LOGBRIDGE_<KEY>",
    ),
    "logbridge-env-value": (
        "logbridge",
        FILE_SINK,
        {"VNBRIDGE_LOGBRIDGE_DELIVERY__LINGER_MS": "soon"},
        "delivery.linger_ms",
        "should be a valid integer",
    ),
    "discovery-api": (
        "vnbridge-discovery",
        "kube: {kubeconfig: KUBECONFIG}\n",
        {},
        "ConnectionRefusedError",
        API_FIX,
    ),
    "discovery-tls-file": (
        "vnbridge-discovery",
        "http_sd: {tls: {enabled: true, cert_file: /nonexistent/tls.crt, key_file: /nonexistent/tls.key}}\n",
        {},
        "http_sd.tls.cert_file: /nonexistent/tls.crt does not exist",
        "point each at a readable file",
    ),
    "metricsbridge-api": (
        "metricsbridge",
        "kube: {kubeconfig: KUBECONFIG}\n",
        {},
        "ConnectionRefusedError",
        API_FIX,
    ),
    "metricsbridge-tls-file": (
        "metricsbridge",
        "listen_tls: {enabled: true, cert_file: /nonexistent/tls.crt, key_file: /nonexistent/tls.key}\n",
        {},
        "listen_tls.cert_file: /nonexistent/tls.crt does not exist",
        "point each at a readable file",
    ),
}


@pytest.mark.parametrize("case", list(STARTUP_FAILURES))
def test_every_start_up_failure_is_one_line_with_cause_and_fix_and_exit_2(case: str, tmp_path: Path) -> None:
    cli, settings, env, says, fix = STARTUP_FAILURES[case]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(DEAD_KUBECONFIG)
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(settings.replace("KUBECONFIG", str(kubeconfig)))
    out = subprocess.run(
        [str(Path(sys.executable).parent / cli), "run", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith(f"{cli}: ") and says in lines[0] and fix in lines[0], lines[0]


def test_a_start_flag_that_means_nothing_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(FILE_SINK + "inventory: {source: none}\n")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "logbridge"), "run", "-c", str(cfg), "--start", "yesterday"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "source.start: Value error" in lines[0], out.stderr
    assert "duration ago (-30m, -2h, -1d)" in lines[0]
