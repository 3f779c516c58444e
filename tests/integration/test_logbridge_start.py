"""source.start and the backlog progress report, on the real Kafka.

A fresh consumer group starts where ``source.start`` says — earliest, latest or a point
in time — and commits that start with its first cycle, so a replica killed before any
record arrived resumes there. Working off a backlog logs records, lag and rate, and the
backlog metrics follow it down to zero.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.model import Cluster, SimPod
from tests.integration.conftest import Stack
from tests.integration.lbrun import RUN, Run, metric, records, seqs
from tests.support.helpers import child
from tests.support.kafkatools import produce, read_all

NO_INVENTORY = {"source": "none"}  # the records embed their pod's metadata


@pytest.fixture(scope="module")
def pods() -> list[SimPod]:
    c = Cluster(seed=23, prefix=f"it-t{RUN}-", ip_octet=42, web_replicas=1, cronjob_pods=2).build()
    return [p for p in c.pods if p.virtual]


@pytest.fixture()
def run(stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Run]:
    yield Run(stack, tmp_path, "st-" + request.node.name.removeprefix("test_")[:16].replace("_", "-"))


def _messages(path: Path) -> list[str]:
    """The messages of the service's JSON log lines."""
    lines = path.read_text().splitlines()
    return [str(json.loads(line)["message"]) for line in lines if line.startswith("{")]


def test_latest_skips_the_retained_backlog_and_a_restart_resumes_where_it_started(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    every, _ = records(pods, 500)
    produce(stack.kafka_bootstrap, run.topic, every[:300])  # retained before the first start
    cfg, _ = run.config(elasticsearch=False, inventory=NO_INVENTORY, source={"start": "latest"})
    log = run.tmp / "lb.log"
    with child(["logbridge", "run", "-c", str(cfg)], log=log) as proc:
        # nothing consumed, yet the start is committed: the group now has offsets
        run.wait_committed(300, what="the latest start committed")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    produce(stack.kafka_bootstrap, run.topic, every[300:])  # while no replica runs
    with child(["logbridge", "run", "-c", str(cfg)], log=log) as proc:
        run.wait_committed(500)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert sorted(seqs(read_all(stack.kafka_bootstrap, run.out))) == [f"seq={i:07d}" for i in range(300, 500)]
    starts = [m for m in _messages(log) if "has no committed offset" in m]
    assert len(starts) == 4 and all("source.start latest" in m for m in starts)  # the first run only


def test_a_time_ago_starts_at_the_first_record_at_or_after_it(
    run: Run, pods: list[SimPod], stack: Stack
) -> None:
    every, _ = records(pods, 500)
    now_ms = int(time.time() * 1000)
    produce(stack.kafka_bootstrap, run.topic, every[:300], timestamp_ms=now_ms - 2 * 3600_000)
    produce(stack.kafka_bootstrap, run.topic, every[300:], timestamp_ms=now_ms - 600_000)
    cfg, _ = run.config(elasticsearch=False, inventory=NO_INVENTORY)
    with child(["logbridge", "run", "-c", str(cfg), "--start", "-1h"], log=run.tmp / "lb.log") as proc:
        run.wait_committed(500)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert sorted(seqs(read_all(stack.kafka_bootstrap, run.out))) == [f"seq={i:07d}" for i in range(300, 500)]


def test_working_off_a_backlog_shows_records_lag_and_rate(run: Run, pods: list[SimPod], stack: Stack) -> None:
    n = 20_000
    every, _ = records(pods, n)
    produce(stack.kafka_bootstrap, run.topic, every)
    cfg, port = run.config(
        elasticsearch=False,
        inventory=NO_INVENTORY,
        source={"progress_every_s": 0.05},
        batch_max_records=500,
    )
    log = run.tmp / "lb.log"
    with child(["logbridge", "run", "-c", str(cfg)], log=log) as proc:
        run.wait_committed(n)
        assert metric(port, "vnbridge_logbridge_backlog_records") == 0
        assert metric(port, "vnbridge_logbridge_consume_rate") > 0
        assert metric(port, "vnbridge_logbridge_catchup_eta_seconds") == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    said = [m for m in _messages(log) if m.startswith(("catching", "caught"))]
    assert said[0].startswith("catching up: a backlog of ")
    assert any(" records done, lag " in m and " records/s" in m for m in said[1:-1]), said
    assert said[-1].startswith("caught up: ") and " records in " in said[-1], said
