"""The node-endpoint presets on the real stack (issue 32): AWS Fargate (the kubelet's
cAdvisor through the API server's node proxy), Alibaba ECI (cAdvisor with
``nodeName=<node>``) and Azure ACI (virtual-kubelet's /metrics/resource, mapped to the
cAdvisor names). A virtual-kubelet stand-in serves HTTPS in a network namespace of its
own — the real kube-apiserver refuses to proxy to loopback — and the node's status points
the API server at it; discovery, metricsbridge and Prometheus run as in production."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from simulator.kubelet import netns, self_signed
from simulator.model import Cluster
from simulator.running import Exporters, kube, register
from simulator.supervising import spawned
from tests.integration.conftest import Stack
from tests.support.helpers import child, eventually, free_port, prom_query, prometheus_jobs

RUN = f"{int(time.time()) % 1_000_000}"
PREFIX = f"it-n{RUN}-"
NODE = f"vk-{RUN}"
PRESETS = ("aws-fargate", "alibaba-eci", "azure-aci")
CADVISOR_LABELS = {"container", "cpu", "id", "image", "name", "namespace", "pod"}
REF = Path(__file__).resolve().parents[1] / "reference" / "kube-prometheus"


def _container_rules() -> list[dict[str, Any]]:
    """kube-prometheus' recording rules over cAdvisor CPU and working-set series."""
    doc = yaml.safe_load((REF / "recording-rules.yaml").read_text())
    groups = doc["spec"]["groups"] if "spec" in doc else doc["groups"]
    return [
        r
        for g in groups
        if g["name"].startswith("k8s.rules.container_")
        for r in g["rules"]
        if re.search(r"container_(cpu_usage_seconds_total|memory_working_set_bytes)", r["expr"])
    ]


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail(
            "the node-proxy presets' test needs root and iproute2 (a network namespace)", pytrace=False
        )
    tmp = tmp_path_factory.mktemp("nodes")
    cluster = Cluster(seed=61, prefix=PREFIX, ip_octet=61, web_replicas=2, cronjob_pods=0).build()
    cluster.pods = [dataclasses.replace(p, node=NODE) for p in cluster.pods if p.virtual]
    v1 = kube(str(stack.kubeconfig))
    labels = {
        "eks.amazonaws.com/compute-type": "fargate",
        "type": "virtual-kubelet",
        "kubernetes.io/hostname": NODE,
    }
    with netns(f"vnb-{RUN}", 7) as (_, address):
        try:
            v1.create_node({"metadata": {"name": NODE, "labels": labels}})
        except ApiException as exc:
            assert exc.status == 409
        # where the API server's node proxy connects: the node's InternalIP and kubelet port
        v1.patch_node_status(
            NODE,
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": address}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                }
            },
        )
        register(v1, cluster)
        pods = [
            {
                "namespace": p.namespace,
                "name": p.name,
                "uid": p.uid,
                "container": p.container,
                "container_id": p.container_id,
                "image": p.image,
            }
            for p in cluster.pods
        ]
        # the kubelet also reports a pod the inventory does not know: never served
        pods.append({**pods[0], "name": "not-in-the-inventory", "uid": "x"})
        (tmp / "pods.json").write_text(json.dumps(pods))
        cert, key = self_signed(tmp, address)
        asked = tmp / "asked.log"
        asked.touch()
        kubelet = [sys.executable, "-m", "simulator.kubelet", "--listen", f"{address}:10250"]
        kubelet += [
            "--pods",
            str(tmp / "pods.json"),
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--log",
            str(asked),
        ]
        ports: dict[str, tuple[int, int]] = {}
        for preset in PRESETS:
            d, m = free_port(), free_port()
            ports[preset] = (d, m)
            common = {"kube": {"kubeconfig": str(stack.kubeconfig)}, "targets": {"node_preset": preset}}
            (tmp / f"{preset}-d.yaml").write_text(
                json.dumps(
                    {
                        **common,
                        "metricsbridge_address": f"127.0.0.1:{m}",
                        "static_labels": {"job": "kubelet", "metrics_path": "/metrics/cadvisor"},
                        "http_sd": {"listen": f"127.0.0.1:{d}"},
                    }
                )
            )
            (tmp / f"{preset}-m.yaml").write_text(
                json.dumps({**common, "listen": f"127.0.0.1:{m}", "default_timeout_s": 5})
            )
        ksm = Exporters(cluster)  # kube-state-metrics' kube_pod_info, which the rules join on
        ksm.start()
        jobs = "- job_name: vnb-node-ksm\n  honor_labels: true\n  scrape_interval: 2s\n"
        jobs += f"  static_configs: [{{targets: ['127.0.0.1:{ksm.ksm_port}']}}]\n"
        jobs += "".join(
            f"- job_name: vnb-node-{preset}\n  honor_labels: true\n  scrape_interval: 2s\n"
            f"  http_sd_configs: [{{url: 'http://127.0.0.1:{d}/targets', refresh_interval: 1s}}]\n"
            f"  relabel_configs: [{{source_labels: [node], regex: '{NODE}', action: keep}},"
            f" {{target_label: vnb_preset, replacement: {preset}}}]\n"
            for preset, (d, _) in ports.items()
        )
        with (
            spawned(["ip", "netns", "exec", f"vnb-{RUN}", *kubelet], log=tmp / "kubelet.log"),
            child(["discovery", "run", "-c", str(tmp / "aws-fargate-d.yaml")], log=tmp / "f-d.log"),
            child(["metricsbridge", "run", "-c", str(tmp / "aws-fargate-m.yaml")], log=tmp / "f-m.log"),
            child(["discovery", "run", "-c", str(tmp / "alibaba-eci-d.yaml")], log=tmp / "e-d.log"),
            child(["metricsbridge", "run", "-c", str(tmp / "alibaba-eci-m.yaml")], log=tmp / "e-m.log"),
            child(["discovery", "run", "-c", str(tmp / "azure-aci-d.yaml")], log=tmp / "a-d.log"),
            child(["metricsbridge", "run", "-c", str(tmp / "azure-aci-m.yaml")], log=tmp / "a-m.log"),
            prometheus_jobs(stack.prom_url, stack.prom_config, jobs),
            contextlib.closing(_Stopper(ksm)),
        ):
            yield {
                "ksm": ksm,
                "cluster": cluster,
                "prom": stack.prom_url,
                "asked": asked,
                "mb": {p: f"http://127.0.0.1:{m}" for p, (_, m) in ports.items()},
                "sd": {p: f"http://127.0.0.1:{d}" for p, (d, _) in ports.items()},
            }


class _Stopper:
    def __init__(self, exporters: Exporters) -> None:
        self._e = exporters

    def close(self) -> None:
        self._e.stop()


_query = prom_query


@pytest.mark.parametrize("preset", PRESETS)
def test_one_target_per_virtual_node(world: dict[str, Any], preset: str) -> None:
    def ours() -> list[dict[str, Any]]:
        try:
            resp = httpx.get(f"{world['sd'][preset]}/targets", timeout=10)
        except httpx.TransportError:
            return []  # still starting
        return [g for g in resp.json() if g["labels"].get("node") == NODE] if resp.status_code == 200 else []

    [group] = eventually(ours, timeout=30, interval=0.5, what=f"{preset}: the node's target")
    assert group["labels"]["__param_target"] == NODE and group["labels"]["instance"] == NODE


@pytest.mark.parametrize("preset", PRESETS)
def test_prometheus_gets_the_cadvisor_shape_through_the_node_proxy(
    world: dict[str, Any], preset: str
) -> None:
    pod = world["cluster"].pods[0]
    expr = (
        f'container_cpu_usage_seconds_total{{job="kubelet", vnb_preset="{preset}", '
        f'namespace="{pod.namespace}", pod="{pod.name}"}}'
    )
    [series] = eventually(lambda: _query(world["prom"], expr), timeout=90, interval=1, what=expr)
    got = series["metric"]
    assert set(got) >= CADVISOR_LABELS, got
    assert (got["cpu"], got["namespace"], got["container"]) == ("total", pod.namespace, pod.container)
    # (ACI's ids are built from the API server's pod uid, the stand-in kubelet's from its own)
    assert got["image"] == pod.image and got["id"].startswith("/kubepods/pod")
    assert got["id"].endswith(f"/{pod.container_id}") and got["name"] == pod.container_id
    # the node's own cgroup and pods the inventory does not run there are not served
    assert _query(world["prom"], f'container_cpu_usage_seconds_total{{vnb_preset="{preset}", id="/"}}') == []
    stranger = f'container_cpu_usage_seconds_total{{vnb_preset="{preset}", pod="not-in-the-inventory"}}'
    assert _query(world["prom"], stranger) == []


def test_eci_asks_the_kubelet_with_its_node_name(world: dict[str, Any]) -> None:
    eventually(
        lambda: f"/metrics/cadvisor?nodeName={NODE}" in world["asked"].read_text(),
        timeout=60,
        interval=0.5,
        what="the kubelet stand-in asked for /metrics/cadvisor?nodeName=<node>",
    )
    eventually(  # ACI's endpoint, same node
        lambda: "/metrics/resource" in world["asked"].read_text(), timeout=60, interval=0.5
    )


def test_a_node_that_is_not_virtual_or_unknown_is_refused(world: dict[str, Any]) -> None:
    for target in ("std-node-0", "no-such-node", "", "../../api/v1/secrets"):
        resp = httpx.get(f"{world['mb']['aws-fargate']}/probe", params={"target": target}, timeout=10)
        assert resp.status_code == 403, target


@pytest.mark.parametrize("preset", PRESETS)
def test_kube_prometheus_cpu_and_memory_rules_cover_the_pod(world: dict[str, Any], preset: str) -> None:
    """Each recording rule's expression, scoped to one preset's series, returns the pod
    with the labels the rule records for a standard pod (the kubelet stand-in's cAdvisor
    is the standard shape; ACI's is mapped to it)."""
    pod = world["cluster"].pods[0]
    rules = _container_rules()
    assert len(rules) >= 2
    for rule in rules:
        expr = rule["expr"].replace('job="kubelet"', f'job="kubelet", vnb_preset="{preset}"')
        scoped = (
            f'({expr}) and on(namespace, pod) kube_pod_info{{namespace="{pod.namespace}", pod="{pod.name}"}}'
        )
        got = eventually(
            lambda e=scoped: _query(world["prom"], e),
            timeout=90,
            interval=1,
            what=f"{preset}: {rule['record']}",
        )
        for r in got:
            assert {"namespace", "pod"} <= set(r["metric"]), (rule["record"], r["metric"])
            assert r["metric"]["pod"] == pod.name
