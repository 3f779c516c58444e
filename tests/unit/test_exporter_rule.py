"""The one virtual-exporter rule: what discovery publishes is exactly what metricsbridge
allows, for any cluster; address conflicts resolve to the newest pod (no services)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.publishing import TargetsView
from discovery.settings import DiscoverySettings
from discovery.targeting import TargetRules, build_targets
from metricsbridge.probing import AllowList
from metricsbridge.settings import MetricsbridgeSettings
from vnbridge.configuring import load_settings
from vnbridge.exporters import NODE_PRESETS, ExporterRule, NodeSelector, virtual_exporters
from vnbridge.pods import ContainerInfo, PodInfo
from vnbridge.tracking import ClusterState

RULE = ExporterRule(NodeSelector(NODE_PRESETS["tencent-eklet"]))
NODE_LABELS = {
    "eklet-0": {"node.kubernetes.io/instance-type": "eklet"},
    "eklet-1": {"node.kubernetes.io/instance-type": "eklet", "zone": "b"},
    "std-0": {"node.kubernetes.io/instance-type": "S5"},
    "fargate-0": {"eks.amazonaws.com/compute-type": "fargate"},
}


def _pod_obj(i: int, node: str, phase: str, ip: str, port: str | None, created: int) -> dict[str, object]:
    ann = {"eks.tke.cloud.tencent.com/metrics-port": port} if port is not None else {}
    return {
        "metadata": {
            "name": f"p{i}",
            "namespace": "ns" if i % 2 else "other",
            "uid": f"u{i}",
            "annotations": ann,
            "creationTimestamp": f"2026-11-23T10:{created:02d}:00Z",
        },
        "spec": {"nodeName": node, "containers": [{"name": "main"}]},
        "status": {"phase": phase, "podIP": ip},
    }


PODS = st.lists(
    st.tuples(
        st.sampled_from([*NODE_LABELS, "missing-node"]),
        st.sampled_from(["Running", "Running", "Pending", "Succeeded", "Failed"]),
        st.sampled_from(["", "10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1"]),  # few IPs: conflicts happen
        st.sampled_from([None, "9100", "9400", "bad", "0"]),
        st.integers(0, 59),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(pods=PODS, bridged=st.booleans())
def test_metricsbridge_allows_exactly_the_addresses_discovery_publishes(
    pods: list[tuple[str, str, str, str | None, int]], bridged: bool
) -> None:
    state = ClusterState(kinds=("nodes", "pods"))
    state.list_nodes([{"metadata": {"name": n, "labels": lab}} for n, lab in NODE_LABELS.items()])
    state.list_pods([_pod_obj(i, *p) for i, p in enumerate(pods)])
    view = TargetsView(
        state=state, rules=TargetRules(exporter=RULE, bridge_address="mb:9101" if bridged else "")
    )
    view.refresh()
    published = {}
    for g in view.groups:
        labels = g["labels"]
        assert isinstance(labels, dict)
        published[labels["instance"]] = (labels["namespace"], labels["pod"])
    allow = AllowList(state=state, rule=RULE)
    candidates = {f"{ip}:{port}" for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3") for port in (9100, 9400)}
    candidates |= {"[fd00::1]:9100", "[fd00::1]:9400", "10.0.0.9:9100"}
    allowed = {}
    for address in candidates:
        found = allow.lookup(address)
        if found is not None:
            (pod,) = found.pods
            allowed[address] = (pod.namespace, pod.name)
    assert allowed == published
    assert allow.conflicts == view.conflicts


def _pod(name: str, created: str, ip: str = "10.0.0.1") -> PodInfo:
    return PodInfo(
        namespace="batch",
        name=name,
        node_name="eklet-0",
        phase="Running",
        pod_ip=ip,
        creation_timestamp=created,
        containers=(ContainerInfo("main"),),
    )


def test_two_running_pods_on_one_address_resolve_to_the_newest_in_any_order() -> None:
    old, new = _pod("stale", "2026-11-23T09:00:00Z"), _pod("fresh", "2026-11-23T10:00:00Z")
    other = _pod("alone", "2026-11-23T08:00:00Z", ip="10.0.0.2")
    for order in ([old, new, other], [new, other, old]):
        found = virtual_exporters(order, NODE_LABELS, RULE)
        assert found.by_address["10.0.0.1:9100"].name == "fresh"
        assert found.conflicts == 1 and len(found.by_address) == 2
    tie = virtual_exporters([_pod("b", "t"), _pod("a", "t")], NODE_LABELS, RULE)
    assert tie.by_address["10.0.0.1:9100"].name == "b"  # same age: the name decides, not the order
    built = build_targets([old, new], NODE_LABELS, TargetRules(exporter=RULE))
    assert [g["labels"]["pod"] for g in built.groups] == ["fresh"] and built.conflicts == 1  # type: ignore[index]


def test_one_targets_block_configures_both_services() -> None:
    block = {"targets": {"node_preset": "custom", "node_selector": {"vk": "yes"}, "port": 9200}}
    d = load_settings(DiscoverySettings, overrides=block)
    m = load_settings(MetricsbridgeSettings, overrides=block)
    assert ExporterRule.from_settings(d.targets) == ExporterRule.from_settings(m.targets)
    assert ExporterRule.from_settings(m.targets).selector == NodeSelector({"vk": "yes"})
