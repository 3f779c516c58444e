"""A short ``make chaos`` in ``make test`` (issue 33): 20,000 records through two logbridge
replicas on the 3-broker Kafka while replicas are SIGKILLed every few seconds,
Elasticsearch is stopped and started again and the leader broker of a partition is
killed and restarted. Afterwards: exactly 20,000 documents, every offset committed, no
dead letter. No wall-clock bound is asserted here; ``make chaos`` measures it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import Plan, chaos
from tests.integration.conftest import Stack, stack_up


@pytest.fixture(scope="module")
def kafka_cluster(stack: Stack) -> None:
    stack_up("kafka-cluster", "the 3-broker Kafka")


def test_exactly_once_through_kills_an_elasticsearch_outage_and_a_broker_restart(
    kafka_cluster: None, tmp_path: Path
) -> None:
    plan = Plan(
        records=20_000,
        produce_s=40.0,
        kill_every=(3.0, 6.0),
        es_outage_at=6.0,
        es_outage_s=15.0,
        broker_kill_at=10.0,
        broker_down_s=8.0,
        fault_until=0.5,
        timeout_s=600.0,
    )
    out = chaos(plan, tmp_path, seed=7)
    assert out.kills >= 3 and out.es_outage_s >= 15 and out.broker_restarts == 1, out.log
    assert (out.documents, out.committed, out.dead_letters) == (20_000, 20_000, 0), out.log
