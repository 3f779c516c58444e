"""Pure rules of discovery: virtual-node selection, target labels, sharding, file
publication, http_sd answers and auth (no services)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from discovery.publishing import FileSdWriter, TargetsView, write_atomically
from discovery.serving import DiscoveryMetrics, create_app
from discovery.settings import DiscoverySettings
from discovery.targeting import TargetRules, build_targets, sanitize_label_name, select_shard, shard_of
from vnbridge.exporters import NODE_PRESETS, ExporterRule, NodeSelector, TargetSettings, exporter_address
from vnbridge.httpkit import Auth
from vnbridge.pods import ContainerInfo, PodInfo
from vnbridge.tracking import ClusterState
from vnbridge.watching import Backoff

EKLET = ExporterRule(NodeSelector(NODE_PRESETS["tencent-eklet"]))
NODES = {
    "eklet-0": {"node.kubernetes.io/instance-type": "eklet"},
    "std-0": {"node.kubernetes.io/instance-type": "S5"},
}


def pod(
    name: str = "job-1", node: str = "eklet-0", phase: str = "Running", ip: str = "10.0.0.5", **kw: object
) -> PodInfo:
    return PodInfo(
        namespace="batch",
        name=name,
        node_name=node,
        phase=phase,
        pod_ip=ip,
        containers=(ContainerInfo("init-db"), ContainerInfo("main"), ContainerInfo("sidecar")),
        init_containers=frozenset({"init-db"}),
        **kw,  # type: ignore[arg-type]
    )


def test_only_running_virtual_pods_with_an_ip_become_targets() -> None:
    pods = [
        pod("a"),
        pod("b", node="std-0"),
        pod("c", phase="Succeeded"),
        pod("d", phase="Failed"),
        pod("e", phase="Pending"),
        pod("f", ip=""),
        pod("g", node="unknown-node"),
    ]
    groups = build_targets(pods, NODES, TargetRules(exporter=EKLET)).groups
    assert [g["labels"]["pod"] for g in groups] == ["a"]  # type: ignore[index]


def test_direct_target_labels_and_port_annotation() -> None:
    p = pod(
        annotations={"eks.tke.cloud.tencent.com/metrics-port": "9400"}, labels={"app.kubernetes.io/name": "x"}
    )
    [group] = build_targets([p], NODES, TargetRules(exporter=EKLET, pod_label_keys=("*",))).groups
    assert group == {
        "targets": ["10.0.0.5:9400"],
        "labels": {
            "app_kubernetes_io_name": "x",
            "namespace": "batch",
            "pod": "job-1",
            "container": "main",
            "node": "eklet-0",
            "instance": "10.0.0.5:9400",
            "__metrics_path__": "/metrics",
        },
    }


def test_bridged_target_uses_the_multi_target_pattern() -> None:
    rules = TargetRules(exporter=EKLET, bridge_address="mb:9101", static_labels={"job": "kubelet"})
    [group] = build_targets([pod()], NODES, rules).groups
    assert group["targets"] == ["mb:9101"]
    labels = group["labels"]
    assert isinstance(labels, dict)
    assert labels["__param_target"] == labels["instance"] == "10.0.0.5:9100"
    assert labels["__metrics_path__"] == "/probe"
    assert labels["job"] == "kubelet"


@pytest.mark.parametrize("bad", ["abc", "0", "70000", "-1"])
def test_bad_port_annotation_is_not_guessed(bad: str) -> None:
    assert exporter_address(pod(annotations={"eks.tke.cloud.tencent.com/metrics-port": bad}), 9100) is None


def test_ipv6_address_is_bracketed() -> None:
    assert exporter_address(pod(ip="fd00::5"), 9100) == "[fd00::5]:9100"


def test_pod_label_values_cannot_override_identity_labels() -> None:
    p = pod(labels={"namespace": "kube-system", "pod": "spoof", "instance": "x"})
    [group] = build_targets([p], NODES, TargetRules(exporter=EKLET, pod_label_keys=("*",))).groups
    labels = group["labels"]
    assert isinstance(labels, dict)
    assert (labels["namespace"], labels["pod"], labels["instance"]) == ("batch", "job-1", "10.0.0.5:9100")


@given(st.text(max_size=30))
def test_sanitised_label_names_are_valid(name: str) -> None:
    out = sanitize_label_name(name)
    assert len(out) == len(name) and all(c.isascii() and (c.isalnum() or c == "_") for c in out)


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40, unique=True), st.integers(1, 8))
def test_shards_partition_the_targets(names: list[str], shards: int) -> None:
    groups = [{"targets": ["x"], "labels": {"namespace": "ns", "pod": n}} for n in names]
    parts = [select_shard(groups, i, shards) for i in range(shards)]  # type: ignore[arg-type]
    assert sorted(n for p in parts for n in (g["labels"]["pod"] for g in p)) == sorted(names)  # type: ignore[index]
    assert all(shard_of("ns", n, shards) == shard_of("ns", n, shards) for n in names)


def test_selector_needs_every_label_and_empty_matches_nothing() -> None:
    sel = NodeSelector({"a": "1", "b": "2"})
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    assert not NodeSelector({}).matches({"a": "1"})


def test_settings_reject_custom_without_selector_and_bad_shard() -> None:
    with pytest.raises(ValueError, match="node_selector"):
        DiscoverySettings(targets=TargetSettings(node_preset="custom"))
    with pytest.raises(ValueError, match="shard"):
        DiscoverySettings(shard=2, shards=2)
    assert DiscoverySettings(targets=TargetSettings(node_preset="aws-fargate")).targets.selector_labels() == {
        "eks.amazonaws.com/compute-type": "fargate"
    }


def _state_with(*objs: dict[str, object]) -> ClusterState:
    state = ClusterState(kinds=("nodes", "pods"))
    state.list_nodes([{"metadata": {"name": n, "labels": lab}} for n, lab in NODES.items()])
    state.list_pods(list(objs))
    return state


def _pod_obj(name: str, phase: str = "Running") -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "batch", "uid": f"u-{name}"},
        "spec": {"nodeName": "eklet-0", "containers": [{"name": "main"}]},
        "status": {"phase": phase, "podIP": "10.1.1.1"},
    }


def test_nothing_is_published_before_a_complete_sync(tmp_path: Path) -> None:
    state = ClusterState(kinds=("nodes", "pods"))
    view = TargetsView(state=state, rules=TargetRules(exporter=EKLET))
    writer = FileSdWriter(path=tmp_path / "sd.json", view=view)
    state.list_pods([_pod_obj("a")])  # pods listed, nodes not yet
    assert not view.refresh() and not writer.publish()
    assert not (tmp_path / "sd.json").exists()
    state.list_nodes([{"metadata": {"name": "eklet-0", "labels": NODES["eklet-0"]}}])
    assert view.refresh() and writer.publish()
    assert [g["labels"]["pod"] for g in json.loads((tmp_path / "sd.json").read_text())] == ["a"]
    assert not writer.publish()  # unchanged: no rewrite
    state.pod_event("MODIFIED", _pod_obj("a", phase="Succeeded"))
    view.refresh()
    assert writer.publish() and json.loads((tmp_path / "sd.json").read_text()) == []


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.json"
    write_atomically(target, b"[1]")
    write_atomically(target, b"[2]")
    assert target.read_bytes() == b"[2]" and [p.name for p in target.parent.iterdir()] == ["f.json"]


def _client(state: ClusterState, auth: Auth | None = None) -> TestClient:
    view = TargetsView(state=state, rules=TargetRules(exporter=EKLET))
    metrics = DiscoveryMetrics(CollectorRegistry())
    metrics.watch(state, view)
    return TestClient(create_app(view=view, metrics=metrics, auth=auth or Auth()))


def test_http_sd_is_503_until_synced_then_the_whole_list() -> None:
    state = ClusterState(kinds=("nodes", "pods"))
    client = _client(state)
    assert client.get("/targets").status_code == 503
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    state.list_nodes([])
    state.list_pods([])
    resp = client.get("/targets")
    assert (resp.status_code, resp.headers["content-type"], resp.content) == (200, "application/json", b"[]")
    assert b"vnbridge_discovery_ready 1.0" in client.get("/metrics").content


def test_auth_bearer_and_basic() -> None:
    state = _state_with(_pod_obj("a"))
    bearer = _client(state, Auth(bearer_token="s3cret"))
    assert bearer.get("/targets").status_code == 401
    assert bearer.get("/targets", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert bearer.get("/targets", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert bearer.get("/metrics").status_code == 401
    assert bearer.get("/healthz").status_code == 200
    basic = _client(state, Auth(username="prom", password="pw"))
    token = base64.b64encode(b"prom:pw").decode()
    assert basic.get("/targets", headers={"Authorization": f"Basic {token}"}).status_code == 200
    assert basic.get("/targets", headers={"Authorization": "Basic !!!"}).status_code == 401


def test_relist_turns_missing_pods_into_tombstones() -> None:
    state = _state_with(_pod_obj("a"), _pod_obj("b"))
    state.list_pods([_pod_obj("b")])
    assert state.by_name("batch", "a") is not None and state.by_name("batch", "a")[1] is True  # type: ignore[index]
    assert [p.name for p in state.pods()] == ["b"]


def test_backoff_is_capped_with_jitter() -> None:
    b = Backoff(initial_s=0.1, max_s=1.0)
    delays = [b.next_delay() for _ in range(10)]
    assert all(0 < d <= 1.0 for d in delays) and delays[-1] >= 0.5
    b.reset()
    assert b.next_delay() <= 0.1


def test_pods_carry_their_node_and_namespace_objects() -> None:
    state = ClusterState()
    state.list_nodes(
        [
            {
                "metadata": {"name": "eklet-0", "uid": "n-1", "labels": NODES["eklet-0"]},
                "status": {"addresses": [{"type": "Hostname", "address": "eklet-0.local"}]},
            }
        ]
    )
    state.list_namespaces([{"metadata": {"name": "batch", "uid": "ns-1", "labels": {"team": "data"}}}])
    obj = _pod_obj("a")
    obj["status"] = {
        "phase": "Running",
        "initContainerStatuses": [{"name": "init", "containerID": "containerd://abc"}],
    }
    obj["spec"] = {
        "nodeName": "eklet-0",
        "initContainers": [{"name": "init"}],
        "containers": [{"name": "main"}],
    }
    state.list_pods([obj])
    hit = state.by_name("batch", "a")
    assert hit is not None
    pod = hit[0]
    assert pod.node_meta is not None and pod.node_meta.uid == "n-1"
    assert pod.node_meta.hostname == "eklet-0.local"
    assert pod.namespace_meta is not None and pod.namespace_meta.uid == "ns-1"
    assert pod.namespace_labels == {"team": "data"} and state.nodes["eklet-0"] == NODES["eklet-0"]
    init = pod.container("init")
    assert init is not None and init.container_id == "containerd://abc"  # init statuses are read too
    state.node_event("DELETED", {"metadata": {"name": "eklet-0"}})
    assert "eklet-0" not in state.nodes


def test_documented_query_parameters_are_published_and_others_refused() -> None:
    from discovery.targeting import TargetRules, build_targets
    from vnbridge.pods import PodInfo

    settings = TargetSettings(node_preset="tencent-eks", params={"collect[]": "ipvs"})
    rule = ExporterRule.from_settings(settings)
    pod = PodInfo(namespace="n", name="p", uid="u", node_name="eklet-0", pod_ip="10.0.0.5", phase="Running")
    nodes = {"eklet-0": {"node.kubernetes.io/instance-type": "eklet"}}
    for bridge in ("", "mb:9101"):
        [group] = build_targets([pod], nodes, TargetRules(exporter=rule, bridge_address=bridge)).groups
        assert group["labels"]["__param_collect[]"] == "ipvs"  # type: ignore[index]
    with pytest.raises(ValueError, match="not parameters huawei-cci documents"):
        TargetSettings(node_preset="huawei-cci", params={"collect[]": "ipvs"})


@pytest.mark.parametrize(
    ("exporter", "bridge", "want"), [("https", "http", None), ("http", "https", "https")]
)
def test_a_bridged_target_carries_metricsbridges_scheme_not_the_exporters(
    exporter: str, bridge: str, want: str | None
) -> None:
    """Prometheus scrapes metricsbridge; how metricsbridge reaches the sandbox (targets.scheme)
    is its own business (issue 35: the exporter's scheme was published for the bridge)."""
    rule = ExporterRule(NodeSelector(NODE_PRESETS["tencent-eklet"]), scheme=exporter)
    rules = TargetRules(exporter=rule, bridge_address="mb:9101", bridge_scheme=bridge)
    [group] = build_targets([pod()], NODES, rules).groups
    assert group["labels"].get("__scheme__") == want  # type: ignore[union-attr]
    assert group["targets"] == ["mb:9101"]
