"""Kafka and Elasticsearch helpers for the logbridge integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from simulator.running import committed_offsets


def create_topic(bootstrap: str, name: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    async def go() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        finally:
            await admin.close()

    asyncio.run(go())


def list_topics(bootstrap: str) -> set[str]:
    """Every topic but Kafka's internal ones."""

    async def go() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return {t for t in await admin.list_topics() if not t.startswith("__")}
        finally:
            await admin.close()

    return asyncio.run(go())


def delete_topics(bootstrap: str, names: Iterable[str]) -> None:
    """Delete topics (their partitions' logs go with them, so the stack's Kafka does not
    grow run after run and restarts in seconds)."""
    todo = sorted(names)

    async def go() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            for i in range(0, len(todo), 100):
                answer = await admin.delete_topics(todo[i : i + 100])
                failed = [(t, code) for t, code in answer.topic_error_codes if code not in (0, 3)]
                if failed:  # 3: already gone
                    raise RuntimeError(f"Kafka did not delete topics: {failed[:5]}")
        finally:
            await admin.close()

    if todo:
        asyncio.run(go())


def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    *,
    round_robin: int = 0,
    timestamp_ms: int | None = None,
) -> int:
    """Send every record (partition by key; ``round_robin=k``: record i to partition i % k,
    so each of k partitions gets records whatever the keys hash to; ``timestamp_ms``:
    the records' CreateTime, now by default)."""

    async def go() -> int:
        prod = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=20)
        await prod.start()
        n = 0
        try:
            batch = []
            for key, value in records:
                partition = n % round_robin if round_robin else None
                batch.append(
                    await prod.send(topic, value, key=key, partition=partition, timestamp_ms=timestamp_ms)
                )
                n += 1
                if len(batch) >= 5000:
                    await asyncio.gather(*batch)
                    batch = []
            await asyncio.gather(*batch)
        finally:
            await prod.stop()
        return n

    return asyncio.run(go())


def read_all(bootstrap: str, topic: str, *, committed_only: bool = True, timeout: float = 60) -> list[Any]:
    """Every record of ``topic`` up to its current end (read_committed by default)."""

    async def go() -> list[Any]:
        cons = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed" if committed_only else "read_uncommitted",
        )
        await cons.start()
        out: list[Any] = []
        try:
            metadata = await cons._client.fetch_all_metadata()
            parts = metadata.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            if not tps:
                return out
            cons.assign(tps)
            await cons.seek_to_beginning(*tps)
            ends = await cons.end_offsets(tps)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                done = True
                for tp in tps:
                    if await cons.position(tp) < ends[tp]:
                        done = False
                if done:
                    break
                batch = await cons.getmany(timeout_ms=500, max_records=10000)
                for msgs in batch.values():
                    out.extend(msgs)
        finally:
            await cons.stop()
        return out

    return asyncio.run(go())


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offsets on ``topic``, summed (the simulator's helper)."""
    return committed_offsets(bootstrap, group, topic)


def es_count(es_url: str, index: str, query: dict[str, Any] | None = None) -> int:
    """Documents in ``index`` (0 when it does not exist yet). An index the sink has just
    created answers 503 until its primary shard is allocated: asked again, bounded."""
    body = {"query": query} if query else None
    for _ in range(40):
        httpx.post(f"{es_url}/{index}/_refresh", timeout=30)
        resp = httpx.post(f"{es_url}/{index}/_count", json=body, timeout=30)
        if resp.status_code == 404:
            return 0
        if resp.status_code != 503:
            break
        httpx.get(f"{es_url}/_cluster/health/{index}", params={"wait_for_status": "yellow", "timeout": "1s"})
    resp.raise_for_status()
    return int(resp.json()["count"])


@contextmanager
def new_topics_deleted(bootstrap: str) -> Iterator[None]:
    """Every topic made inside the block is deleted when it ends (a kept stack must not
    grow bench after bench)."""
    before = list_topics(bootstrap)
    try:
        yield
    finally:
        delete_topics(bootstrap, list_topics(bootstrap) - before)
