"""targets.labels kubernetes_sd: the label set Prometheus' kubernetes_sd (role pod) gives
(pod.go), one target per declared container port (no services; the real Prometheus
comparison is in tests/integration/test_discovery.py)."""

from __future__ import annotations

import pytest

from discovery.settings import DiscoverySettings
from discovery.targeting import TargetRules, build_targets, select_shard
from vnbridge.exporters import NODE_PRESETS, ExporterRule, NodeSelector, TargetSettings
from vnbridge.pods import pod_from_object

RULE = ExporterRule(NodeSelector(NODE_PRESETS["tencent-eklet"]))
NODES = {"eklet-0": {"node.kubernetes.io/instance-type": "eklet"}}
POD = {
    "metadata": {
        "name": "report-1-abcde",
        "namespace": "batch",
        "uid": "u-1",
        "labels": {"app.kubernetes.io/name": "report", "job-name": "report-1"},
        "annotations": {"example.com/team": "data", "empty": ""},
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "not-the-controller", "uid": "x"},
            {"apiVersion": "batch/v1", "kind": "Job", "name": "report-1", "uid": "j", "controller": True},
        ],
    },
    "spec": {
        "nodeName": "eklet-0",
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [
            {
                "name": "job",
                "image": "report:1",
                "ports": [
                    {"name": "metrics", "containerPort": 9100, "protocol": "TCP"},
                    {"containerPort": 53, "protocol": "UDP"},
                ],
            },
            {"name": "sidecar", "image": "envoy:1"},
        ],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.7",
        "hostIP": "192.168.0.1",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "job", "containerID": "containerd://abc"}],
    },
}


def test_one_group_per_container_port_with_the_pod_go_labels() -> None:
    pod = pod_from_object(POD)
    groups = build_targets([pod], NODES, TargetRules(exporter=RULE, labels="kubernetes_sd")).groups
    assert [g["targets"] for g in groups] == [["10.0.0.7:9100"], ["10.0.0.7:53"], ["10.0.0.7"], ["10.0.0.7"]]
    first = groups[0]["labels"]
    assert first == {
        "__meta_kubernetes_namespace": "batch",
        "__meta_kubernetes_pod_name": "report-1-abcde",
        "__meta_kubernetes_pod_ip": "10.0.0.7",
        "__meta_kubernetes_pod_ready": "false",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": "eklet-0",
        "__meta_kubernetes_pod_host_ip": "192.168.0.1",
        "__meta_kubernetes_pod_uid": "u-1",
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": "report",
        "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
        "__meta_kubernetes_pod_label_job_name": "report-1",
        "__meta_kubernetes_pod_labelpresent_job_name": "true",
        "__meta_kubernetes_pod_annotation_example_com_team": "data",
        "__meta_kubernetes_pod_annotationpresent_example_com_team": "true",
        "__meta_kubernetes_pod_annotationpresent_empty": "true",
        "__meta_kubernetes_pod_controller_kind": "Job",
        "__meta_kubernetes_pod_controller_name": "report-1",
        "__meta_kubernetes_pod_container_name": "job",
        "__meta_kubernetes_pod_container_id": "containerd://abc",
        "__meta_kubernetes_pod_container_image": "report:1",
        "__meta_kubernetes_pod_container_init": "false",
        "__meta_kubernetes_pod_container_port_number": "9100",
        "__meta_kubernetes_pod_container_port_name": "metrics",
        "__meta_kubernetes_pod_container_port_protocol": "TCP",
    }
    init = groups[3]["labels"]
    assert isinstance(init, dict)
    assert (
        init["__meta_kubernetes_pod_container_init"] == "true"
        and "__meta_kubernetes_pod_container_id" not in init
    )
    assert "__meta_kubernetes_pod_container_port_number" not in groups[2]["labels"]  # type: ignore[operator]
    # sharding reads the kubernetes_sd names: all four targets of one pod stay together
    assert sum(len(select_shard(groups, i, 3)) for i in range(3)) == 4
    assert any(len(select_shard(groups, i, 3)) == 4 for i in range(3))


def test_kubernetes_sd_with_a_metricsbridge_address_is_refused() -> None:
    with pytest.raises(ValueError, match="metricsbridge_address"):
        DiscoverySettings(targets=TargetSettings(labels="kubernetes_sd"), metricsbridge_address="mb:9101")
