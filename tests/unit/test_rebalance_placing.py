"""The pipeline fetches only once a rebalance listener has placed the assignment.

aiokafka calls the listener while its fetcher may already hold records; a record handed
over before the replay marks are set, or before a fresh partition is moved to its
``source.start``, would be delivered twice or from the wrong place (seen on a slow
SASL_SSL connection: every record delivered twice). Below the pipeline: a stand-in
consumer whose listener-time lookups wait until the test lets them go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from logbridge.kafka.starting import Start
from logbridge.observing import Health, Metrics
from logbridge.pipeline import Pipeline
from logbridge.profiles import build
from logbridge.transforming import core_transformer

TP = TopicPartition("t", 0)


class Consumer:
    """What Pipeline uses of AIOKafkaConsumer during assignment and fill."""

    def __init__(self) -> None:
        self.getmany_calls = 0
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.getmany_calls += 1
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    async def position(self, tp: TopicPartition) -> int:
        return 0

    async def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[TopicPartition, Any]:
        return dict.fromkeys(timestamps)

    async def end_offsets(self, parts: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(parts, 7)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


def _pipeline(consumer: Consumer, gate: asyncio.Event) -> Pipeline:
    async def committed(parts: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
        await gate.wait()  # the group coordinator is slow to answer
        return {}

    return Pipeline(
        consumer=consumer,  # type: ignore[arg-type]
        txn=None,  # type: ignore[arg-type]  # nothing is delivered here
        sinks=[],
        transformer_factory=lambda: core_transformer(
            profile=build("fluent-bit", {"Output": "plain"}), lookup=None, shape="cri"
        ),
        dead_letter_topic="dlq",
        group_id="g",
        committed=committed,
        metrics=Metrics(),
        health=Health(),
        policy=None,  # type: ignore[arg-type]
        give_up=asyncio.Event(),
        linger_s=0.02,
        start=Start("time", 1),
    )


def test_no_fetch_while_the_listener_places_the_assignment() -> None:
    async def go() -> None:
        consumer, gate = Consumer(), asyncio.Event()
        pipeline = _pipeline(consumer, gate)
        await pipeline.fill()  # before any assignment: nothing is fetched
        assert consumer.getmany_calls == 0
        placing = asyncio.create_task(pipeline.listener.on_partitions_assigned([TP]))
        for _ in range(3):
            await pipeline.fill()
        assert consumer.getmany_calls == 0 and not placing.done()
        gate.set()
        await placing
        assert consumer.seeks == [(TP, 7)]  # placed first: every record older than the start
        await pipeline.fill()
        assert consumer.getmany_calls > 0
        assert pipeline.parts["t-0"].next_offset == 7  # committed with the next cycle

    asyncio.run(go())


def test_a_failing_listener_still_lets_fetching_go_on() -> None:
    async def go() -> None:
        consumer, gate = Consumer(), asyncio.Event()
        pipeline = _pipeline(consumer, gate)

        async def broken(parts: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
            raise RuntimeError("coordinator went away")

        pipeline._committed = broken
        with pytest.raises(RuntimeError):  # aiokafka logs a listener's error and goes on
            await pipeline.on_assigned([TP])
        await pipeline.fill()
        assert consumer.getmany_calls > 0

    asyncio.run(go())
