"""The decoded records aiokafka's fetcher hands over (no ConsumerRecord wrapper) carry
what the core reads: a batch built and read back with aiokafka's own record codecs,
pushed through the core, gives the same documents as ConsumerRecords would."""

from __future__ import annotations

from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord

from logbridge.fetching import use_decoded_records
from logbridge.profiles import build
from logbridge.transforming import core_transformer
from simulator.model import T0_NS, Cluster
from simulator.running import eks_record


def _decoded(values: list[tuple[bytes, bytes]]) -> list[Any]:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i, (key, value) in enumerate(values):
        builder.append(i, timestamp=None, key=key, value=value, headers=[("h", b"1")])
    records = MemoryRecords(bytes(builder.build()))
    return list(records.next_batch())


def test_the_fetcher_returns_decoded_records_and_the_core_reads_them() -> None:
    before = fetcher.PartitionRecords
    try:
        assert use_decoded_records() and use_decoded_records()  # idempotent
        assert fetcher.PartitionRecords is not before
        pods = [p for p in Cluster(seed=3).build().pods if p.virtual]
        values = [
            (p.uid.encode(), eks_record(p, T0_NS + i, "stdout", "F", f"line {i}")) for i, p in enumerate(pods)
        ]
        raw = _decoded(values)
        wrapped = [
            ConsumerRecord("t", 0, r.offset, r.timestamp, 0, r.key, r.value, None, 0, 0, tuple(r.headers))
            for r in raw
        ]
        assert fetcher.PartitionRecords._consumer_record(None, None, raw[0]) is raw[0]  # type: ignore[arg-type]
        docs = []
        for recs in (raw, wrapped):
            core = core_transformer(profile=build("fluent-bit", {}), lookup=None)
            docs.append(core.push_records("t-0", recs, 0.0).take_bodies())
        assert docs[0] == docs[1] and len(docs[0]) == len(values)
    finally:
        fetcher.PartitionRecords = before
