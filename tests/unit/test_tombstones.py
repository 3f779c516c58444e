"""Compact tombstones: a deleted pod reads back exactly as it was buried, follows its
node and namespace, expires in order, and tells logbridge what it forgets (no services)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vnbridge.inventory import MemoryInventory
from vnbridge.pods import ObjectMeta, pod_from_object
from vnbridge.tracking import ClusterState

_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
_labels = st.dictionaries(_text, _text, max_size=4)


@st.composite
def pod_objects(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(0, 10**6))
    job = draw(st.sampled_from(["report", "etl", "backup"])) + f"-{28_000_000 + n}"
    containers = [
        {"name": c, "image": draw(_text), "ports": [{"containerPort": draw(st.integers(1, 65535))}]}
        for c in draw(
            st.lists(st.sampled_from(["main", "side", "proxy"]), min_size=1, max_size=3, unique=True)
        )
    ]
    name = f"{job}-{draw(st.text('abcdefghij', min_size=5, max_size=5))}"
    namespace = draw(st.sampled_from(["batch", "shop", "team-1"]))
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",  # one pod per uid, as the API guarantees
            "labels": {**draw(_labels), "job-name": job},
            "annotations": draw(_labels),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job, "controller": True}],
            "creationTimestamp": "2026-11-23T00:00:00Z",
        },
        "spec": {"nodeName": draw(st.sampled_from(["eklet-0", "eklet-1", ""])), "containers": containers},
        "status": {
            "phase": draw(st.sampled_from(["Running", "Succeeded", "Failed"])),
            "podIP": f"10.0.{n % 256}.{n // 256 % 256}",
            "containerStatuses": [
                {
                    "name": c["name"],
                    "containerID": f"containerd://{n:064x}",
                    "restartCount": draw(st.integers(0, 3)),
                }
                for c in containers
            ],
        },
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(pod_objects(), min_size=1, max_size=20))
def test_a_tombstone_reads_back_as_the_pod_that_was_buried(objects: list[dict[str, object]]) -> None:
    node = ObjectMeta("eklet-0", labels={"zone": "z0"})
    inv = MemoryInventory(retention_s=60, clock=lambda: 0.0)
    buried = {}
    for obj in objects:
        pod = pod_from_object(obj, node=node if obj["spec"]["nodeName"] == "eklet-0" else None)  # type: ignore[index]
        inv.upsert(pod)
        inv.delete(pod.namespace, pod.name)
        buried[(pod.namespace, pod.name)] = pod
    assert inv.tombstones == len(buried) and len(inv) == 0
    for (ns, name), pod in buried.items():
        assert inv.by_name(ns, name) == (pod, True)
        assert inv.by_uid(pod.uid) == (pod, True)


def test_tombstones_follow_a_relabelled_node_without_being_thawed_and_say_which() -> None:
    state = ClusterState()
    state.list_nodes([{"metadata": {"name": "eklet-0", "labels": {"zone": "z0"}}}])
    state.list_namespaces([{"metadata": {"name": "batch", "labels": {"team": "a"}}}])
    pod = {
        "metadata": {"name": "p", "namespace": "batch", "uid": "u"},
        "spec": {"nodeName": "eklet-0", "containers": [{"name": "main"}]},
    }
    other = {
        **pod,
        "metadata": {"name": "q", "namespace": "batch", "uid": "v"},
        "spec": {"nodeName": "eklet-9"},
    }
    state.list_pods([pod, other])
    state.pod_event("DELETED", pod)
    state.pod_event("DELETED", other)
    told: list[tuple[str, str] | None] = []
    state.pod_listeners.append(told.append)
    state.node_event("MODIFIED", {"metadata": {"name": "eklet-0", "labels": {"zone": "z9"}}})
    assert told == [("batch", "p")]
    hit = state.by_name("batch", "p")
    assert hit is not None and hit[1] and hit[0].node_labels == {"zone": "z9"}
    assert hit[0].namespace_labels == {"team": "a"}
    state.node_event("DELETED", {"metadata": {"name": "eklet-0"}})
    hit = state.by_name("batch", "p")
    assert hit is not None and hit[0].node_labels == {"zone": "z9"}  # last known, kept


def test_expired_tombstones_are_told_to_the_pod_listeners_in_the_next_sweep() -> None:
    now = [0.0]
    state = ClusterState(retention_s=100, clock=lambda: now[0])
    state.list_pods([])
    told: list[tuple[str, str] | None] = []
    state.pod_listeners.append(told.append)

    def cycle(name: str) -> None:
        obj = {"metadata": {"name": name, "namespace": "batch", "uid": name}}
        state.pod_event("ADDED", obj)
        state.pod_event("DELETED", obj)

    cycle("a")
    now[0] = 50.0
    cycle("b")
    now[0] = 120.0
    assert state.by_name("batch", "a") is None  # expired on lookup: dropped now, told later
    told.clear()
    cycle("c")  # burying runs the sweep (sweep_every 60 s)
    assert ("batch", "a") in told and ("batch", "b") not in told
    assert state.inventory.tombstones == 2  # b and c


def test_retention_zero_keeps_no_tombstones() -> None:
    inv = MemoryInventory(retention_s=0)
    inv.upsert(pod_from_object({"metadata": {"name": "p", "namespace": "batch", "uid": "u"}}))
    inv.delete("batch", "p")
    assert inv.tombstones == 0 and inv.by_name("batch", "p") is None and inv.by_uid("u") is None


def test_a_reburied_name_expires_by_its_latest_burial() -> None:
    now = [0.0]
    inv = MemoryInventory(retention_s=100, clock=lambda: now[0], sweep_every_s=1e9)
    for uid, t in (("u1", 0.0), ("u2", 10.0), ("u3", 90.0)):
        now[0] = t
        name = "p" if uid != "u2" else "q"
        inv.upsert(pod_from_object({"metadata": {"name": name, "namespace": "batch", "uid": uid}}))
        inv.delete("batch", name)
    now[0] = 150.0
    assert inv.expire() == 1  # q (buried at 10); p was buried again at 90
    hit = inv.by_name("batch", "p")
    assert hit is not None and hit[0].uid == "u3" and inv.by_uid("u1") is None
