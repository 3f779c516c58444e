"""Each provider's sandbox metrics where and as the provider serves them (issue 32), on the
real stack: kube-apiserver, discovery, metricsbridge and a real Prometheus.

Tencent (tencent-eks): ``<podIP>:9100/metrics`` with the cAdvisor data stamped at each
refresh (scraped with honor_timestamps), ``collect[]`` passed on to the sandbox, the
path annotation, ``kube-system/eks-config`` defaults and ``kubelet_volume_stats_*`` that
kube-prometheus' volume alert reads. Huawei (huawei-cci): ``<podIP>:19100``, the opt-out
annotation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes.client.exceptions import ApiException

from simulator.model import Cluster, SimPod
from simulator.running import Exporters, kube, register
from tests.integration.conftest import Stack
from tests.support.helpers import child, eventually, free_port, prom_query, prometheus_jobs, sd_job

RUN = f"{int(time.time()) % 1_000_000}"
PREFIX = f"it-p{RUN}-"
STATS_S = 5.0  # the sandbox's refresh (cri-stats-interval); its samples carry that time
CUSTOM_PATH = "/custom-metrics"
# kubernetes-mixin alerts/storage_alerts.libsonnet, KubePersistentVolumeFillingUp (critical)
VOLUME_ALERT = (
    '(kubelet_volume_stats_available_bytes{job="kubelet", namespace="NS", metrics_path="/metrics"}'
    ' / kubelet_volume_stats_capacity_bytes{job="kubelet", namespace="NS", metrics_path="/metrics"}) < 0.03'
    ' and kubelet_volume_stats_used_bytes{job="kubelet", namespace="NS", metrics_path="/metrics"} > 0'
)


def _services(tmp: Path, stack: Stack, name: str, preset: str, extra_mb: dict[str, Any]) -> tuple[int, int]:
    dport, mport = free_port(), free_port()
    kubeconfig = {"kubeconfig": str(stack.kubeconfig)}
    (tmp / f"{name}-discovery.yaml").write_text(
        json.dumps(
            {
                "kube": kubeconfig,
                "targets": {"node_preset": preset},
                "metricsbridge_address": f"127.0.0.1:{mport}",
                "http_sd": {"listen": f"127.0.0.1:{dport}"},
            }
        )
    )
    (tmp / f"{name}-metricsbridge.yaml").write_text(
        json.dumps(
            {
                "kube": kubeconfig,
                "targets": {"node_preset": preset},
                "listen": f"127.0.0.1:{mport}",
                "default_timeout_s": 3,
                **extra_mb,
            }
        )
    )
    return dport, mport


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("providers")
    cluster = Cluster(seed=41, prefix=PREFIX, ip_octet=53, web_replicas=3, cronjob_pods=0).build()
    v1 = kube(str(stack.kubeconfig))
    register(v1, cluster)
    virtual = [p for p in cluster.pods if p.virtual]
    custom, opted_out = virtual[1], virtual[2]
    v1.patch_namespaced_pod(
        custom.name,
        custom.namespace,
        {"metadata": {"annotations": {"eks.tke.cloud.tencent.com/custom-metrics-url": CUSTOM_PATH}}},
    )
    v1.patch_namespaced_pod(
        opted_out.name,
        opted_out.namespace,
        {"metadata": {"annotations": {"monitoring.cci.io/enable-pod-metrics": "false"}}},
    )
    tencent = Exporters(cluster, stats_interval_s=STATS_S, paths={custom.name: CUSTOM_PATH})
    huawei = Exporters(cluster, sandbox_port=19100, stats_interval_s=STATS_S)
    tencent.start()
    huawei.start()
    t_sd, _ = _services(tmp, stack, "tencent", "tencent-eks", {"pass_vm_metrics": True})
    h_sd, h_mb = _services(tmp, stack, "huawei", "huawei-cci", {})
    jobs = (
        # Tencent's own scrape job keeps honor_timestamps and leaves ipvs out with collect[]
        sd_job(
            "vnb-providers-tencent",
            t_sd,
            keep=f"{PREFIX}.*",
            extra="  honor_timestamps: true\n  params: {'collect[]': [ipvs]}\n",
        )
        + sd_job("vnb-providers-huawei", h_sd, keep=f"{PREFIX}.*")
    )
    try:
        with (
            child(["discovery", "run", "-c", str(tmp / "tencent-discovery.yaml")], log=tmp / "t-sd.log"),
            child(
                ["metricsbridge", "run", "-c", str(tmp / "tencent-metricsbridge.yaml")], log=tmp / "t-mb.log"
            ),
            child(["discovery", "run", "-c", str(tmp / "huawei-discovery.yaml")], log=tmp / "h-sd.log"),
            child(
                ["metricsbridge", "run", "-c", str(tmp / "huawei-metricsbridge.yaml")], log=tmp / "h-mb.log"
            ),
            prometheus_jobs(stack.prom_url, stack.prom_config, jobs),
        ):
            yield {
                "cluster": cluster,
                "v1": v1,
                "virtual": virtual,
                "custom": custom,
                "opted_out": opted_out,
                "tencent": tencent,
                "prom": stack.prom_url,
                "t_sd": f"http://127.0.0.1:{t_sd}",
                "h_sd": f"http://127.0.0.1:{h_sd}",
                "h_mb": f"http://127.0.0.1:{h_mb}",
            }
    finally:
        tencent.stop()
        huawei.stop()


_query = prom_query


def _instances(sd: str) -> dict[str, str]:
    """pod → instance of every published target of this module's namespaces."""
    try:
        resp = httpx.get(f"{sd}/targets", timeout=10)
    except httpx.TransportError:
        return {}  # still starting
    if resp.status_code != 200:
        return {}
    return {
        g["labels"]["pod"]: g["labels"]["instance"]
        for g in resp.json()
        if g["labels"]["namespace"].startswith(PREFIX)
    }


def _pod_series(world: dict[str, Any], expr: str, pod: SimPod) -> list[dict[str, Any]]:
    return eventually(
        lambda: _query(
            world["prom"], expr.replace("POD", pod.name).replace("NS", pod.namespace).replace("IP", pod.ip)
        ),
        timeout=60,
        interval=1,
        what=f"{expr} for {pod.name}",
    )


def test_sample_timestamps_survive_into_prometheus(world: dict[str, Any]) -> None:
    pod = world["virtual"][0]
    [got] = _pod_series(
        world,
        'timestamp(container_memory_working_set_bytes{instance="IP:9100", namespace="NS", pod="POD"})',
        pod,
    )
    stamped = float(got["value"][1])
    # the sandbox stamps each refresh (every STATS_S); a scrape time would fall anywhere
    assert stamped % STATS_S == 0, stamped
    assert time.time() - stamped < 60


def test_collect_parameters_reach_the_sandbox(world: dict[str, Any]) -> None:
    pod = world["virtual"][0]
    eventually(
        lambda: ["ipvs"] in world["tencent"].asked.get(pod.name, []),
        timeout=60,
        interval=0.5,
        what="the sandbox asked with collect[]=ipvs",
    )
    # pod_* pass through (pass_vm_metrics) but the collector left out is not there
    _pod_series(world, 'pod_cpu_seconds_total{job="kubelet", namespace="NS", pod="POD"}', pod)
    assert _query(world["prom"], f'pod_ipvs_connections_total{{namespace="{pod.namespace}"}}') == []


def test_the_volume_alert_fires_for_a_virtual_pods_claim(world: dict[str, Any]) -> None:
    pod = world["virtual"][0]
    fired = eventually(
        lambda: _query(world["prom"], VOLUME_ALERT.replace("NS", pod.namespace)),
        timeout=60,
        interval=1,
        what="KubePersistentVolumeFillingUp's expression for the virtual pod's claim",
    )
    claims = {r["metric"]["persistentvolumeclaim"] for r in fired}
    assert f"data-{pod.owner_name}" in claims
    for r in fired:
        assert r["metric"]["namespace"] == pod.namespace


def test_the_path_annotation_is_where_the_pod_is_scraped(world: dict[str, Any]) -> None:
    custom = world["custom"]
    _pod_series(world, 'container_memory_working_set_bytes{job="kubelet", namespace="NS", pod="POD"}', custom)
    [up] = _pod_series(world, 'up{job="kubelet", namespace="NS", pod="POD", instance="IP:9100"}', custom)
    assert up["value"][1] == "1"


def test_cluster_wide_defaults_from_eks_config(world: dict[str, Any]) -> None:
    v1, pod = world["v1"], world["virtual"][0]
    eventually(lambda: _instances(world["t_sd"]).get(pod.name) == f"{pod.ip}:9100", timeout=30, interval=0.5)
    cm = {
        "metadata": {"name": "eks-config", "namespace": "kube-system"},
        "data": {"pod.annotations": "eks.tke.cloud.tencent.com/metrics-port: '9110'\n"},
    }
    try:
        v1.create_namespaced_config_map("kube-system", cm)
    except ApiException as exc:
        if exc.status != 409:
            raise
        v1.replace_namespaced_config_map("eks-config", "kube-system", cm)
    try:
        eventually(
            lambda: _instances(world["t_sd"]).get(pod.name) == f"{pod.ip}:9110",
            timeout=30,
            interval=0.5,
            what="the cluster-wide metrics-port default applied",
        )
    finally:
        v1.delete_namespaced_config_map("eks-config", "kube-system")
    eventually(lambda: _instances(world["t_sd"]).get(pod.name) == f"{pod.ip}:9100", timeout=30, interval=0.5)


def test_huawei_pods_are_scraped_on_19100_unless_they_opt_out(world: dict[str, Any]) -> None:
    pod, out = world["virtual"][0], world["opted_out"]
    got = eventually(lambda: _instances(world["h_sd"]), timeout=30, interval=0.5)
    assert got.get(pod.name) == f"{pod.ip}:19100"
    assert out.name not in got
    _pod_series(
        world,
        'container_cpu_usage_seconds_total{job="kubelet", instance="IP:19100", namespace="NS", pod="POD"}',
        pod,
    )
    refused = httpx.get(f"{world['h_mb']}/probe", params={"target": f"{out.ip}:19100"}, timeout=10)
    assert refused.status_code == 403
