"""``make bench`` section: a day of 10,000 CronJobs through discovery and logbridge's inventory.

The simulated cluster (tests/support/cronjob_day.py) serves the API on loopback; the real
``vnbridge-discovery run`` and a child holding logbridge's inventory (the very
``start_inventory`` that ``logbridge run`` calls, with tombstones kept for the
simulated 24 h) watch it. While the day plays at ``accel`` x, this process polls
http_sd every 100 ms (timing each answer) and samples both processes' RSS.

Figures (goals from issue 14): peak and steady RSS of discovery and of the
logbridge inventory (≤ 400 MB at the nightly peak, tombstones included), http_sd
p99 at the peak (≤ 50 ms), Running → target p99 (≤ 1 s; timed for pods Running
long enough to be seen by a 100 ms poll), events/s sustained.

Run alone: ``python -m tests.bench_cronjob [day_seconds]`` (default 600).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from simulator.supervising import free_port, rss_mb
from tests.support.cronjob_day import Day, FakeApi, Mix, write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
PEAK = (86400.0 - 60.0, 86400.0 + 900.0)  # 23:59 .. 00:15 on day 1 (simulated)
STEADY = (6 * 3600.0, 23 * 3600.0)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def inventory_child(kubeconfig: str, retention_s: float) -> None:
    """Child process: logbridge's inventory, printing a JSON line of its state every 0.25 s."""
    from logbridge.running import start_inventory
    from logbridge.settings import InventorySettings
    from vnbridge.tracking import ClusterState

    settings = InventorySettings.model_validate(
        {
            "source": "kube",
            "kube": {"kubeconfig": kubeconfig},
            "watch_namespaces": True,
            "tombstone_retention_s": retention_s,
        }
    )

    async def main() -> None:
        lookup, _ = await start_inventory(settings)
        assert isinstance(lookup, ClusterState)
        while True:
            inv = lookup.inventory
            line = {"live": len(inv), "tombstones": inv.tombstones, "version": lookup.version}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            await asyncio.sleep(0.25)

    asyncio.run(main())


def poll_child(url: str) -> None:
    """Child process: GET http_sd every 100 ms; one JSON line per answer (its monotonic
    send/receive times — the clock is system-wide — status, and pods new since the last
    answer). Its own process, so the simulated API's work never delays a measurement."""
    known: set[str] = set()
    with httpx.Client(timeout=10.0) as client:
        while True:
            t0 = time.monotonic()
            try:
                resp = client.get(url)
                status = resp.status_code
            except httpx.HTTPError:
                status = 0
            t1 = time.monotonic()
            new: list[str] = []
            if status == 200:
                pods = {g["labels"]["pod"] for g in orjson.loads(resp.content)}
                new = sorted(pods - known)
                known = pods
            line = {"t0": t0, "t1": t1, "ms": (t1 - t0) * 1000, "status": status, "new": new}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))


class _Child:
    """A child process whose JSON stdout lines are kept (the last one, and every one)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, keep_all: bool = False) -> None:
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        self.last: dict[str, Any] = {}
        self.lines: list[dict[str, Any]] = []
        self._keep_all = keep_all
        self.max_tombstones = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.last = json.loads(raw)
            except ValueError:
                continue
            if self._keep_all:
                self.lines.append(self.last)
            self.max_tombstones = max(self.max_tombstones, int(self.last.get("tombstones", 0)))

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode(errors="replace")[-2000:]


def run(
    day_s: float = 600.0, mix: Mix | None = None, *, window: tuple[float, float] | None = None
) -> dict[str, float]:
    """One simulated day (or ``window``, simulated seconds from midnight of day 0, at the
    acceleration a whole day in ``day_s`` would have)."""
    day = Day(mix=mix or Mix())
    day.accel = (day.sim_end_s - day.sim_start_s) / day_s
    if window is not None:
        day = Day(mix=day.mix, sim_start_s=window[0], sim_end_s=window[1], accel=day.accel)
    api = FakeApi(day)
    api.start()
    tmp = Path(tempfile.mkdtemp(prefix="vnbridge-cronjob-day-"))
    kubeconfig = write_kubeconfig(tmp / "kubeconfig", api.port)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    discovery = _Child(
        [
            str(bin_dir / "vnbridge-discovery"),
            "run",
            "-c",
            str(ROOT / "deploy/config/discovery.yaml"),
            "--kubeconfig",
            str(kubeconfig),
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env={**os.environ, "VNBRIDGE_DISCOVERY_METRICSBRIDGE_ADDRESS": ""},
    )
    retention = 86400.0 / day.accel  # 24 simulated hours
    inventory = _Child(
        [sys.executable, "-m", "tests.bench_cronjob", "inventory", str(kubeconfig), str(retention)]
    )
    player = threading.Thread(target=lambda: setattr(api, "wall_s", api.run_day(watchers=2)), daemon=True)
    player.start()
    url = f"http://127.0.0.1:{port}/targets"
    poller = _Child([sys.executable, "-m", "tests.bench_cronjob", "poll", url], keep_all=True)
    rss: dict[str, list[tuple[float, float]]] = {"discovery": [], "inventory": []}
    try:
        while player.is_alive():
            sim = api.sim_now
            rss["discovery"].append((sim, rss_mb(discovery.proc.pid)))
            rss["inventory"].append((sim, rss_mb(inventory.proc.pid)))
            if any(c.proc.poll() is not None for c in (discovery, inventory, poller)):
                raise RuntimeError("a process under test exited during the day")
            time.sleep(0.1)
        player.join()
        # the last pod events have been sent: wait (bounded) until both caught up
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if inventory.last.get("live") == 0 and httpx.get(url).content == b"[]":
                break
            time.sleep(0.2)
        caught_up = inventory.last.get("live") == 0
    finally:
        api.stop()
        err_d = discovery.stop()
        err_i = inventory.stop()
        poller.stop()
    seen: dict[str, float] = {}  # pod -> wall time first seen in http_sd
    peak_ms: list[float] = []
    all_ms: list[float] = []
    errors = 0
    answered = False
    for poll in poller.lines:
        if poll["status"] != 200:
            errors += answered  # before the first answer discovery is starting (503 / refused)
            continue
        answered = True
        all_ms.append(poll["ms"])
        if PEAK[0] <= day.sim_start_s + (poll["t0"] - api.t0) * day.accel <= PEAK[1]:
            peak_ms.append(poll["ms"])
        for pod in poll["new"]:
            seen.setdefault(pod, poll["t1"])
    if not seen or not caught_up or api.reconnects:
        raise RuntimeError(
            f"cronjob day invalid: seen={len(seen)} caught_up={caught_up} reconnects={api.reconnects}\n"
            f"discovery: {err_d}\ninventory: {err_i}"
        )
    delays: list[float] = []
    unseen_long = 0
    for pod, sent in day.running_at.items():
        span = day.ended_at.get(pod, sent + 1e9) - sent
        if pod in seen and seen[pod] >= sent - 0.2:
            delays.append(max(0.0, seen[pod] - sent))
        elif span > 1.2:  # Running for 12 polls and never published: counts as its span
            unseen_long += 1
            delays.append(span)
    wall = getattr(api, "wall_s", day_s)

    def peak_of(name: str) -> float:
        return max(r for _, r in rss[name])

    def steady_of(name: str) -> float:
        return _pct([r for s, r in rss[name] if STEADY[0] <= s <= STEADY[1]], 0.5)

    return {
        "cronjob_day_cronjobs": day.mix.cronjobs,
        "cronjob_day_pods": len(day.running_at),
        "cronjob_day_wall_s": round(wall, 1),
        "cronjob_day_accel": round(day.accel, 1),
        "cronjob_day_events_per_s": round(day.emitted / wall, 1),
        "cronjob_day_discovery_rss_peak_mb": round(peak_of("discovery"), 1),
        "cronjob_day_discovery_rss_steady_mb": round(steady_of("discovery"), 1),
        "cronjob_day_logbridge_inventory_rss_peak_mb": round(peak_of("inventory"), 1),
        "cronjob_day_logbridge_inventory_rss_steady_mb": round(steady_of("inventory"), 1),
        "cronjob_day_logbridge_tombstones_peak": inventory.max_tombstones,
        "cronjob_day_http_sd_p99_ms": round(_pct(peak_ms, 0.99), 1),
        "cronjob_day_http_sd_p99_all_ms": round(_pct(all_ms, 0.99), 1),
        "cronjob_day_running_to_target_p99_s": round(_pct(delays, 0.99), 3),
        "cronjob_day_running_to_target_max_s": round(max(delays, default=float("nan")), 3),
        "cronjob_day_running_to_target_timed": len(delays),
        "cronjob_day_targets_never_published": unseen_long,
        "cronjob_day_http_sd_errors": errors,
    }


GOALS = (  # key, goal, unit, lower is better (issue 14)
    ("cronjob_day_logbridge_inventory_rss_peak_mb", 400.0, "MB"),
    ("cronjob_day_discovery_rss_peak_mb", 400.0, "MB"),
    ("cronjob_day_http_sd_p99_ms", 50.0, "ms"),
    ("cronjob_day_running_to_target_p99_s", 1.0, "s"),
)


def cronjob_bench() -> dict[str, float]:
    """The ``make bench`` section; BENCH_CRONJOB_DAY_S sets the wall length of the day."""
    day_s = float(os.environ.get("BENCH_CRONJOB_DAY_S", "600"))
    print(f"cronjob day: 10,000 CronJobs, a simulated day in {day_s:.0f} s (discovery + logbridge inventory)")
    r = run(day_s)
    print(
        f"  {r['cronjob_day_pods']:,} pods, {r['cronjob_day_events_per_s']:,.0f} events/s sustained "
        f"for {r['cronjob_day_wall_s']:.0f} s, logbridge tombstones at the peak "
        f"{r['cronjob_day_logbridge_tombstones_peak']:,}"
    )
    for key, goal, unit in GOALS:
        verdict = "meets" if r[key] <= goal else "MISSES"
        print(f"  {key} = {r[key]} {unit} ({verdict} the goal <= {goal:g} {unit})")
    print(
        f"  steady RSS: discovery {r['cronjob_day_discovery_rss_steady_mb']} MB, logbridge inventory "
        f"{r['cronjob_day_logbridge_inventory_rss_steady_mb']} MB; Running->target worst "
        f"{r['cronjob_day_running_to_target_max_s']} s over {r['cronjob_day_running_to_target_timed']:,} pods"
    )
    return r


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "inventory":
        inventory_child(sys.argv[2], float(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "poll":
        poll_child(sys.argv[2])
        return
    day_s = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    print(json.dumps(run(day_s), indent=1))


if __name__ == "__main__":
    main()
