"""The simulated CronJob day the scale benchmark plays (tests/support/cronjob_day.py): every
pod goes ADDED → Running → Succeeded → DELETED, the schedules give the pods a day
the mix promises, and its API serves what the real reflector reads (loopback only)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kubernetes import config

from tests.support.cronjob_day import Day, FakeApi, Mix, write_kubeconfig
from vnbridge.tracking import ClusterState
from vnbridge.watching import Reflector


def test_a_day_runs_every_pod_through_its_lifecycle_in_order() -> None:
    mix = Mix(cronjobs=60, nodes=3, namespaces=5)
    day = Day(mix=mix, sim_start_s=0.0, sim_end_s=86400.0)
    phases: dict[str, list[str]] = {}
    last = 0.0
    for t in range(0, 90_000, 30):
        for etype, obj in day.due(float(t)):
            name = obj["metadata"]["name"]
            phase = obj["status"]["phase"] if etype != "DELETED" else "gone"
            phases.setdefault(name, []).append(f"{etype}:{phase}")
        last = t
    assert day.done and last >= 86400
    assert set(map(tuple, phases.values())) == {
        ("ADDED:Pending", "MODIFIED:Running", "MODIFIED:Succeeded", "DELETED:gone")
    }
    assert len(phases) == mix.pods_per_day()
    kinds = Counter(kind for kind, _, _ in mix.schedules(day._rng))
    assert kinds == {"every5": 6, "hourly": 24, "nightly": 30}


def test_the_fake_api_is_read_by_the_real_reflector(tmp_path: Path) -> None:
    day = Day(mix=Mix(cronjobs=20, nodes=2, namespaces=3), sim_start_s=0.0, sim_end_s=900.0, accel=1e6)
    api = FakeApi(day)
    api.start()
    client = config.new_client_from_config(config_file=str(write_kubeconfig(tmp_path / "kc", api.port)))
    state = ClusterState(kinds=("nodes", "namespaces", "pods"))
    lock = threading.Lock()

    def locked(fn: Callable[..., None]) -> Callable[..., None]:
        def call(*args: object) -> None:
            with lock:
                fn(*args)

        return call

    reflectors = []
    for kind in ("nodes", "namespaces", "pods"):
        on_list, on_event = state.handlers(kind)
        r = Reflector(api=client, path=f"/api/v1/{kind}", on_list=locked(on_list), on_event=locked(on_event))
        r.start()
        reflectors.append(r)
    try:
        api.run_day(watchers=1, tick_s=0.001)
        done = threading.Event()
        for _ in range(200):  # bounded: the last chunk is read within a few ms
            with lock:
                if len(state.inventory) == 0 and state.inventory.tombstones == len(day.running_at):
                    done.set()
                    break
            done.wait(0.02)
        assert done.is_set(), (len(state.inventory), state.inventory.tombstones, len(day.running_at))
        assert state.ready and set(state.node_meta) == {"eklet-0", "eklet-1"}
        assert api.reconnects == 0
    finally:
        api.stop()
        for r in reflectors:
            r.stop(timeout=2.0)
