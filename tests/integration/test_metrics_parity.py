"""metricsbridge on the real stack (issue 6): Prometheus scrapes standard pods through a
kubelet/cAdvisor stand-in and virtual pods through discovery + metricsbridge, with the
kube-prometheus cAdvisor recording rules loaded and kube-state-metrics-shaped series;
every Pod-dashboard panel query and every relevant rule must return, for a virtual pod,
series with the same label names as for a standard pod."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from simulator.model import Cluster, SimPod, log_lines
from simulator.running import Exporters, eks_record, kube, register
from tests.integration.conftest import Stack
from tests.support.helpers import ROOT, child, eventually, free_port, prom_query, prometheus_jobs, sd_job
from tests.support.kafkatools import create_topic, produce
from tests.support.kubelet_sample import cgroup_uid, real_kubelet, stamped

REF = Path(__file__).resolve().parents[1] / "reference" / "kube-prometheus"
RUN = f"{int(time.time()) % 1_000_000}"
PREFIX = f"it-m{RUN}-"


def _groups() -> list[dict[str, Any]]:
    doc = yaml.safe_load((REF / "recording-rules.yaml").read_text())
    groups = doc["spec"]["groups"] if "spec" in doc else doc["groups"]
    return [g for g in groups if g["name"].startswith("k8s.rules.container_")]


def _panel_queries() -> list[tuple[str, str]]:
    dash = json.loads((REF / "dashboard-compute-resources-pod.json").read_text())

    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))

    out = []
    for row in dash.get("rows", []):
        for p in walk(row.get("panels", [])):
            out += [(p.get("title", ""), t["expr"]) for t in p.get("targets", []) if t.get("expr")]
    for p in walk(dash.get("panels", [])):
        out += [(p.get("title", ""), t["expr"]) for t in p.get("targets", []) if t.get("expr")]
    return out


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("parity")
    cluster = Cluster(seed=31, prefix=PREFIX, ip_octet=50, web_replicas=2, cronjob_pods=2).build()
    register(kube(str(stack.kubeconfig)), cluster)
    exporters = Exporters(cluster)
    exporters.start()
    dport, mport = free_port(), free_port()
    (tmp / "discovery.yaml").write_text(
        json.dumps(
            {
                "kube": {"kubeconfig": str(stack.kubeconfig)},
                "metricsbridge_address": f"127.0.0.1:{mport}",
                "http_sd": {"listen": f"127.0.0.1:{dport}"},
            }
        )
    )
    (tmp / "metricsbridge.yaml").write_text(
        json.dumps(
            {
                "kube": {"kubeconfig": str(stack.kubeconfig)},
                "listen": f"127.0.0.1:{mport}",
                "default_timeout_s": 3,
            }
        )
    )
    lport = free_port()
    topic = f"parity-{RUN}"
    create_topic(stack.kafka_bootstrap, topic, 2)
    produce(
        stack.kafka_bootstrap,
        topic,
        [
            (p.uid.encode(), eks_record(p, ts, stream, tag, text))
            for p in cluster.pods
            if p.virtual
            for ts, stream, tag, text in log_lines(p)
        ]
        + [(b"k", b"not json at all")],
    )
    (tmp / "logbridge.yaml").write_text(
        json.dumps(
            {
                "profile": {
                    "name": "fluent-bit",
                    "options": {"Index": f"parity-{RUN}", "Replace_Dots": "On"},
                },
                "source": {"topics": [topic], "group_id": f"parity-{RUN}"},
                "kafka": {"bootstrap_servers": stack.kafka_bootstrap},
                "elasticsearch": {"hosts": [stack.es_url]},
                "inventory": {"source": "kube", "kube": {"kubeconfig": str(stack.kubeconfig)}},
                "sinks": {"elasticsearch": {"enabled": True}},
                "delivery": {"dead_letter_topic": f"parity-dlq-{RUN}", "transactional_id": f"parity-{RUN}"},
                "http": {"listen": f"127.0.0.1:{lport}"},
            }
        )
    )
    rules = stack.prom_config.parent / "rules" / f"it-parity-{RUN}.yaml"
    rules.parent.mkdir(exist_ok=True)
    rules.write_text(yaml.safe_dump({"groups": _groups()}))
    jobs = (
        sd_job("vnb-parity-virtual", dport, keep=f"{PREFIX}.*")
        + exporters.kubelet_scrape_config("vnb-parity-kubelet", "1s")
        + f"- job_name: kube-state-metrics\n  honor_labels: true\n  scrape_interval: 1s\n"
        f"  static_configs: [{{targets: ['127.0.0.1:{exporters.ksm_port}']}}]\n"
        f"- job_name: vnbridge-self\n  scrape_interval: 1s\n"
        f"  static_configs: [{{targets: ['127.0.0.1:{dport}', '127.0.0.1:{mport}', '127.0.0.1:{lport}']}}]\n"
    )
    try:
        with (
            child(["discovery", "run", "-c", str(tmp / "discovery.yaml")], log=tmp / "discovery.log"),
            child(["metricsbridge", "run", "-c", str(tmp / "metricsbridge.yaml")], log=tmp / "mb.log"),
            child(["logbridge", "run", "-c", str(tmp / "logbridge.yaml")], log=tmp / "lb.log"),
            prometheus_jobs(stack.prom_url, stack.prom_config, jobs),
        ):
            yield {"cluster": cluster, "mb": f"http://127.0.0.1:{mport}", "prom": stack.prom_url, "tmp": tmp}
    finally:
        rules.unlink(missing_ok=True)
        exporters.stop()


_query = prom_query


def _subst(expr: str, pod: SimPod) -> str:
    return (
        expr.replace("$namespace", pod.namespace)
        .replace("$pod", pod.name)
        .replace("$cluster", "")
        .replace("$__rate_interval", "1m")
    )


def _shape(prom: str, expr: str) -> set[frozenset[str]]:
    return {frozenset(r["metric"]) for r in _query(prom, expr)}


def _settle(probe: Any, want: set[frozenset[str]], timeout: float = 15) -> set[frozenset[str]]:
    got: set[frozenset[str]] = set()
    try:
        return eventually(lambda: (g := probe()) == want and g, timeout=timeout, interval=0.5)  # type: ignore[no-any-return]
    except AssertionError:
        got = probe()
    return got


def _pods(world: dict[str, Any]) -> tuple[SimPod, SimPod, SimPod]:
    pods = world["cluster"].pods
    standard = next(p for p in pods if not p.virtual)
    virtual = next(p for p in pods if p.virtual and not p.cronjob)
    old_image = next(p for p in pods if p.cronjob)
    return standard, virtual, old_image


def _ready(world: dict[str, Any]) -> None:
    """Every panel has data for the standard pod (rules evaluated, two scrapes for rates)."""
    standard, virtual, old = _pods(world)
    rec = "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m"
    eventually(
        lambda: (
            all(_query(world["prom"], f'{rec}{{pod="{p.name}"}}') for p in (virtual, old))
            and all(_query(world["prom"], _subst(expr, standard)) for _, expr in _panel_queries())
        ),
        timeout=120,
        interval=1,
        what="data in every panel for the standard pod and recorded series for the virtual pods",
    )


def test_every_pod_dashboard_panel_has_the_standard_shape_for_virtual_pods(world: dict[str, Any]) -> None:
    _ready(world)
    standard, virtual, old = _pods(world)
    checked = 0
    prom = world["prom"]
    for title, expr in _panel_queries():
        want = _shape(prom, _subst(expr, standard))
        assert want, f"panel {title!r} returns nothing for a standard pod: {expr}"
        pods = (virtual, old) if "cfs" not in expr else (virtual,)  # old images expose no CFS (README)
        for pod in pods:
            # a sample is a moment: allow a few scrapes for a series to (re)appear
            got = _settle(lambda pod=pod, e=expr: _shape(prom, _subst(e, pod)), want)
            assert got == want, f"panel {title!r} for {pod.name}: {expr}"
        checked += 1
    assert checked >= 30


def test_every_cadvisor_recording_rule_has_the_standard_shape(world: dict[str, Any]) -> None:
    _ready(world)
    standard, virtual, old = _pods(world)
    for group in _groups():
        for rule in group["rules"]:
            record = rule["record"]
            if (
                not re.search(r"container_(cpu|memory)", rule["expr"])
                or "kube_pod_container_resource" in rule["expr"]
            ):
                continue
            want = _shape(world["prom"], f'{record}{{pod="{standard.name}"}}')
            assert want, record
            for pod in (virtual, old):
                got = _settle(
                    lambda pod=pod, r=record: _shape(world["prom"], f'{r}{{pod="{pod.name}"}}'), want
                )
                assert got == want, (record, pod.name)


# What the kubelet job adds to a target's series at scrape time (the stand-in's job and
# discovery's targets alike); the rest of a stored series is what the target served.
_SCRAPE_LABELS = {"__name__", "job", "instance", "node", "metrics_path", "endpoint", "service"}


def test_a_virtual_pods_series_have_the_real_kubelets_shape(world: dict[str, Any], stack: Stack) -> None:
    """Not against our stand-in: against a real kubelet's /metrics/cadvisor
    (tests/reference/kubelet/) — label names, cpu="total", the cgroup id, image, name,
    the timestamp; served by metricsbridge and as Prometheus stores them."""
    real_container, _, _ = real_kubelet()
    _, virtual, _ = _pods(world)
    uid = kube(str(stack.kubeconfig)).read_namespaced_pod(virtual.name, virtual.namespace).metadata.uid
    text = httpx.get(f"{world['mb']}/probe", params={"target": f"{virtual.ip}:9100"}, timeout=10).text
    cpu = [s for s in stamped(text) if s.name == "container_cpu_usage_seconds_total"]
    assert cpu, text
    for s in cpu:
        assert set(s.labels) == set(real_container), s
        assert s.labels["cpu"] == "total" and s.ts and len(s.ts) == 13
        assert s.labels["id"].startswith("/kubepods") and cgroup_uid(s.labels["id"]) == uid
        assert (s.labels["image"], s.labels["name"]) == (virtual.image, virtual.container_id)
        assert s.labels["id"].endswith("/" + virtual.container_id)
    stored = eventually(
        lambda: _query(world["prom"], f'container_cpu_usage_seconds_total{{pod="{virtual.name}"}}'),
        timeout=60,
        interval=1,
        what="the virtual pod's CPU series in Prometheus",
    )
    nonblank = {k for k, v in real_container.items() if v}
    for r in stored:
        assert set(r["metric"]) - _SCRAPE_LABELS == nonblank, r["metric"]


def test_probe_refuses_anything_not_in_the_inventory(world: dict[str, Any]) -> None:
    standard, virtual, _ = _pods(world)
    mb = world["mb"]
    ok = httpx.get(f"{mb}/probe", params={"target": f"{virtual.ip}:9100"}, timeout=10)
    assert ok.status_code == 200 and "container_cpu_usage_seconds_total{" in ok.text
    assert 'cpu="total"' in ok.text and "unInstanceId" not in ok.text
    for target in (
        f"{standard.ip}:9100",
        "127.0.0.1:22",
        "169.254.169.254:80",
        f"{virtual.ip}:22",
        "",
        "x" * 200,
    ):
        assert httpx.get(f"{mb}/probe", params={"target": target}, timeout=10).status_code == 403, target


def test_sandbox_failure_is_a_failed_scrape(world: dict[str, Any], stack: Stack) -> None:
    silent = Cluster(seed=32, prefix=PREFIX, ip_octet=51, web_replicas=1, cronjob_pods=0).build()
    register(kube(str(stack.kubeconfig)), silent)  # registered, but no exporter listens
    pod = next(p for p in silent.pods if p.virtual)
    eventually(
        lambda: _query(world["prom"], f'up{{job="kubelet", pod="{pod.name}"}} == 0'),
        timeout=60,
        interval=1,
        what="up == 0 for a virtual pod whose sandbox does not answer",
    )


def _dashboard_queries() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((ROOT / "grafana").glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


def test_every_generated_dashboard_query_returns_data(world: dict[str, Any]) -> None:
    _ready(world)
    prom = world["prom"]
    assert len(_dashboard_queries()) >= 15
    for name, title, expr in _dashboard_queries():
        q = expr.replace("$__rate_interval", "1m")
        # one cluster, no cluster label: the cluster variable is empty, as Grafana fills it
        here = q.replace("$cluster", "")
        eventually(lambda q=here: _query(prom, q), timeout=60, interval=1, what=f"{name} / {title}: {expr}")
        if "vector(0)" not in q:  # and another cluster's view shows none of this one's series
            assert _query(prom, q.replace("$cluster", "elsewhere")) == [], (name, title)
