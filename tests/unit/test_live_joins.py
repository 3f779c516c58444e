"""Live joins: a pod's node and namespace metadata is what the API says *now*,
whatever order the reflectors deliver lists and events in (no services)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vnbridge.pods import PodInfo
from vnbridge.tracking import ClusterState


def _pod(name: str, *, node: str = "eklet-0", ns: str = "batch") -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"u-{name}", "labels": {"app": name}},
        "spec": {"nodeName": node, "containers": [{"name": "main"}]},
        "status": {"phase": "Running", "podIP": "10.1.1.1"},
    }


def _obj(name: str, labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": name, "uid": f"u-{name}", "labels": labels}}


def _pod_of(state: ClusterState, name: str, ns: str = "batch") -> PodInfo:
    hit = state.by_name(ns, name)
    assert hit is not None
    return hit[0]


def test_pods_listed_before_their_nodes_and_namespaces_get_them_when_they_arrive() -> None:
    state = ClusterState()
    state.list_pods([_pod("a"), _pod("b", node="eklet-1")])
    assert _pod_of(state, "a").node_meta is None  # not known yet
    state.list_nodes([_obj("eklet-0", {"zone": "z0"}), _obj("eklet-1", {"zone": "z1"})])
    state.list_namespaces([_obj("batch", {"team": "data"})])
    a, b = _pod_of(state, "a"), _pod_of(state, "b")
    assert (a.node_labels, b.node_labels) == ({"zone": "z0"}, {"zone": "z1"})
    assert a.node_meta is not None and a.node_meta.name == "eklet-0"
    assert a.namespace_labels == {"team": "data"} and a.namespace_meta is not None


def test_a_relabelled_node_or_namespace_reaches_existing_pods_and_only_theirs() -> None:
    state = ClusterState()
    state.list_nodes([_obj("eklet-0", {"zone": "z0"}), _obj("eklet-1", {"zone": "z1"})])
    state.list_namespaces([_obj("batch", {"team": "data"}), _obj("shop", {"team": "web"})])
    state.list_pods([_pod("a"), _pod("b", node="eklet-1"), _pod("c", ns="shop")])
    told: list[tuple[str, str] | None] = []
    state.pod_listeners.append(told.append)
    state.node_event("MODIFIED", _obj("eklet-0", {"zone": "z9"}))
    assert _pod_of(state, "a").node_labels == {"zone": "z9"}
    assert _pod_of(state, "b").node_labels == {"zone": "z1"}
    assert _pod_of(state, "c", "shop").node_labels == {"zone": "z9"}
    state.namespace_event("MODIFIED", _obj("shop", {"team": "payments"}))
    assert _pod_of(state, "c", "shop").namespace_labels == {"team": "payments"}
    assert _pod_of(state, "a").namespace_labels == {"team": "data"}
    # logbridge is told exactly the pods (and tombstones) to render again
    assert told == [("batch", "a"), ("shop", "c"), ("shop", "c")]


def test_a_node_heartbeat_that_changes_nothing_a_document_carries_is_not_a_change() -> None:
    state = ClusterState()
    state.list_nodes([_obj("eklet-0", {"zone": "z0"})])
    state.list_pods([_pod("a")])
    version = state.version
    beat = _obj("eklet-0", {"zone": "z0"})
    beat["status"] = {"conditions": [{"type": "Ready", "lastHeartbeatTime": "2026-11-23T00:00:00Z"}]}
    state.node_event("MODIFIED", beat)
    assert state.version == version


def test_tombstones_follow_their_node_and_keep_metadata_when_the_node_is_gone() -> None:
    state = ClusterState()
    state.list_nodes([_obj("eklet-0", {"zone": "z0"})])
    state.list_pods([_pod("a")])
    state.pod_event("DELETED", _pod("a"))
    state.node_event("MODIFIED", _obj("eklet-0", {"zone": "z1"}))
    tomb = state.by_name("batch", "a")
    assert tomb is not None and tomb[1] and tomb[0].node_labels == {"zone": "z1"}
    state.node_event("DELETED", _obj("eklet-0", {}))
    tomb = state.by_name("batch", "a")
    assert tomb is not None and tomb[0].node_labels == {"zone": "z1"}  # last known, kept


NODE_NAMES = st.sampled_from(["eklet-0", "eklet-1"])
EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("node"), NODE_NAMES, st.sampled_from(["z0", "z1", "z2"])),
        st.tuples(st.just("ns"), st.sampled_from(["batch", "shop"]), st.sampled_from(["t0", "t1"])),
        st.tuples(st.just("pod"), st.sampled_from(["p0", "p1", "p2"]), NODE_NAMES),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(events=EVENTS, lists_first=st.permutations(["nodes", "namespaces", "pods"]))
def test_whatever_the_order_every_pod_carries_the_latest_node_and_namespace(
    events: list[tuple[str, str, str]], lists_first: list[str]
) -> None:
    state = ClusterState()
    nodes = {"eklet-0": "z0", "eklet-1": "z0"}
    namespaces = {"batch": "t0", "shop": "t0"}
    pods = {"p0": "eklet-0"}
    lists = {
        "nodes": lambda: state.list_nodes([_obj(n, {"zone": z}) for n, z in nodes.items()]),
        "namespaces": lambda: state.list_namespaces([_obj(n, {"team": t}) for n, t in namespaces.items()]),
        "pods": lambda: state.list_pods([_pod(p, node=n) for p, n in pods.items()]),
    }
    for kind in lists_first:
        lists[kind]()
    for kind, name, value in events:
        if kind == "node":
            nodes[name] = value
            state.node_event("MODIFIED", _obj(name, {"zone": value}))
        elif kind == "ns":
            namespaces[name] = value
            state.namespace_event("MODIFIED", _obj(name, {"team": value}))
        else:
            pods[name] = value
            state.pod_event("MODIFIED", _pod(name, node=value))
    for name, node in pods.items():
        got = _pod_of(state, name)
        assert got.node_labels == {"zone": nodes[node]} and got.node_meta is not None
        assert got.namespace_labels == {"team": namespaces["batch"]}
