"""Bursts of pod events do not starve requests: the reflectors' events are applied on
the loop in bounded slices, in order, and a background target view serves its last
build while a new one is made off the loop (no services)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from discovery.publishing import TargetsView
from discovery.serving import DiscoveryMetrics, create_app
from discovery.targeting import GroupCache, TargetRules, build_targets
from vnbridge.exporters import NODE_PRESETS, ExporterRule, NodeSelector
from vnbridge.httpkit import Auth
from vnbridge.kube import Inbox
from vnbridge.tracking import ClusterState
from vnbridge.watching import _lines

EKLET = NODE_PRESETS["tencent-eklet"]


def _pod(name: str, phase: str = "Running") -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "batch", "uid": f"u-{name}"},
        "spec": {"nodeName": "eklet-0", "containers": [{"name": "main"}]},
        "status": {"phase": phase, "podIP": f"10.1.{len(name)}.{sum(map(ord, name)) % 250}"},
    }


def test_a_burst_is_applied_in_order_in_slices_with_the_loop_free_in_between() -> None:
    async def main() -> tuple[list[int], list[int]]:
        loop = asyncio.get_running_loop()
        inbox = Inbox(loop, slice_n=100)
        applied: list[int] = []
        between: list[int] = []  # how many were applied each time another callback got a turn

        def feeder() -> None:
            for i in range(1000):
                inbox.put(applied.append, i)

        thread = threading.Thread(target=feeder)
        thread.start()
        thread.join()
        while len(applied) < 1000:
            between.append(len(applied))
            await asyncio.sleep(0)
        return applied, between

    applied, between = asyncio.run(main())
    assert applied == list(range(1000))
    assert len(between) >= 9 and all(b - a <= 100 for a, b in itertools.pairwise(between))


def test_an_error_in_one_event_does_not_stall_the_rest() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        errors: list[object] = []
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx.get("exception")))
        inbox = Inbox(loop, slice_n=10)
        applied: list[int] = []

        def apply(i: int) -> None:
            if i in (5, 29):  # one inside a slice, one the very last event
                raise ValueError("a malformed object")
            applied.append(i)

        for i in range(30):
            inbox.put(apply, i)
        for _ in range(100):
            if len(applied) == 28 and len(errors) == 2:
                break
            await asyncio.sleep(0)
        assert len(errors) == 2 and all(isinstance(e, ValueError) for e in errors)
        return applied

    assert asyncio.run(main()) == [i for i in range(30) if i not in (5, 29)]


def _served(*names: str) -> tuple[ClusterState, TargetsView, TestClient]:
    """A synced state with these pods, a background view of it, and its http_sd app."""
    state = ClusterState(kinds=("nodes", "pods"))
    state.list_nodes([{"metadata": {"name": "eklet-0", "labels": EKLET}}])
    state.list_pods([_pod(n) for n in names])
    view = TargetsView(
        state=state, rules=TargetRules(exporter=ExporterRule(NodeSelector(EKLET))), background=True
    )
    return (
        state,
        view,
        TestClient(create_app(view=view, metrics=DiscoveryMetrics(CollectorRegistry()), auth=Auth())),
    )


def test_a_background_view_serves_its_last_build_and_builds_off_the_loop() -> None:
    state, view, client = _served("a")

    def pods() -> list[str]:
        return [g["labels"]["pod"] for g in json.loads(client.get("/targets").content)]

    assert pods() == ["a"]  # never built: the first answer builds inline, never a false []
    state.pod_event("ADDED", _pod("b"))
    assert pods() == ["a"]  # the last build, until the publisher rebuilds
    assert asyncio.run(view.refresh_off_loop())
    assert pods() == ["a", "b"]
    assert not asyncio.run(view.refresh_off_loop())  # nothing changed since


class _Stream:
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def stream(self, _amt: int) -> list[bytes]:
        return self._pieces


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30), st.data())
def test_watch_lines_are_the_same_however_the_stream_is_cut(lines: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert list(_lines(_Stream(pieces))) == [line for line in lines if line.strip()]


def test_a_rebuild_reuses_the_groups_of_unchanged_pods_and_equals_a_fresh_build() -> None:
    state = ClusterState(kinds=("nodes", "pods"))
    state.list_nodes([{"metadata": {"name": "eklet-0", "labels": EKLET}}])
    state.list_pods([_pod(n) for n in ("a", "bb", "ccc")])
    rules = TargetRules(exporter=ExporterRule(NodeSelector(EKLET)))
    cache: GroupCache = {}
    first = build_targets(state.pods(), state.nodes, rules, new_cache=cache)
    state.pod_event(
        "MODIFIED",
        {**_pod("bb"), "metadata": {"name": "bb", "namespace": "batch", "uid": "u-bb", "labels": {"x": "1"}}},
    )
    state.pod_event("DELETED", _pod("ccc"))
    again: GroupCache = {}
    second = build_targets(state.pods(), state.nodes, rules, cache=cache, new_cache=again)
    assert second == build_targets(state.pods(), state.nodes, rules)  # same as without the cache
    assert second.groups[0] is first.groups[0]  # "a" unchanged: its group reused
    assert set(again) == {("batch", "a"), ("batch", "bb")}  # the gone pod left the cache


def test_http_sd_answers_gzip_when_asked_and_plain_otherwise() -> None:
    import gzip as gz

    _, view, client = _served("a")
    plain = client.get("/targets", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and json.loads(plain.content)[0]["labels"]["pod"] == "a"
    packed = client.get("/targets", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.json() == json.loads(plain.content)
    assert gz.decompress(view.json_gzip()) == view.json()


def test_full_collections_wait_for_a_quiet_cluster_but_not_forever() -> None:
    from discovery.running import FULL_EVERY_S, QUIET_S, full_collection_due

    t = 10_000.0
    # not yet due, however quiet
    assert not full_collection_due(now=t, last_full=t - FULL_EVERY_S + 1, last_change=t - 3600)
    # due and quiet
    assert full_collection_due(now=t, last_full=t - FULL_EVERY_S, last_change=t - QUIET_S)
    # due but pods keep changing: it waits ...
    assert not full_collection_due(now=t, last_full=t - FULL_EVERY_S, last_change=t - 0.5)
    assert not full_collection_due(now=t, last_full=t - 2 * FULL_EVERY_S + 1, last_change=t)
    # ... for at most another FULL_EVERY_S
    assert full_collection_due(now=t, last_full=t - 2 * FULL_EVERY_S, last_change=t)
