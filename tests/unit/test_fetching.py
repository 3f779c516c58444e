"""The decoded records aiokafka's fetcher hands over (no ConsumerRecord wrapper) carry
what the core reads: a batch built and read back with aiokafka's own record codecs,
pushed through the core, gives the same documents as ConsumerRecords would."""

from __future__ import annotations

from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord, TopicPartition

from logbridge.kafka.fetching import use_decoded_records
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
    before, before_getall = fetcher.PartitionRecords, fetcher.FetchResult.getall
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
        fetcher.PartitionRecords, fetcher.FetchResult.getall = before, before_getall


def _batch(
    base: int, n: int, *, producer: int = -1, control: bytes | None = None, first_value: int = 0
) -> bytes:
    """A v2 batch at base offset ``base`` (an abort/commit control batch when ``control``)."""
    import struct

    from aiokafka.record.util import calc_crc32c

    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=int(producer >= 0),
        producer_id=producer,
        producer_epoch=0 if producer >= 0 else -1,
        base_sequence=0 if producer >= 0 else -1,
        batch_size=1 << 20,
    )
    if control is not None:
        builder.append(0, timestamp=None, key=control, value=b"\x00\x00\x00\x00\x00\x00", headers=[])
    else:
        for i in range(n):
            builder.append(i, timestamp=None, key=b"k", value=f"v{first_value + i}".encode(), headers=[])
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base)
    if control is not None:
        attrs = struct.unpack_from(">h", data, 21)[0] | 0x20
        struct.pack_into(">h", data, 21, attrs)
        struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


class _State:
    paused = False

    def __init__(self, position: int) -> None:
        self.position = position

    def consumed_to(self, position: int) -> None:
        self.position = position


class _Assignment:
    active = True

    def __init__(self, state: _State) -> None:
        self.state = state

    def state_value(self, tp: Any) -> _State:
        return self.state


def _drain(
    records_cls: Any, data: bytes, *, fetch_offset: int, take: int | None, committed: bool
) -> list[Any]:
    """Offsets per getall call and the position after it, as the consumer sees them."""
    records = records_cls(
        TopicPartition("t", 0), MemoryRecords(data), [(7, 5)], fetch_offset, None, None, True, int(committed)
    )
    state = _State(fetch_offset)
    result = fetcher.FetchResult(
        TopicPartition("t", 0), assignment=_Assignment(state), partition_records=records, backoff=0
    )
    seen = []
    while result.has_more():
        got = result.getall(take)
        seen.append(([r.offset for r in got], [r.value for r in got], state.position))
    return seen


def test_batch_at_a_time_fetching_matches_aiokafka_record_for_record() -> None:
    """Same records, same positions after every getall as aiokafka's own fetcher, over
    a fetch position inside the first batch, an aborted transaction, its abort marker
    and a batch after it, for several ``max_records`` (splitting batches or not)."""
    abort = b"\x00\x00\x00\x00"  # version 0, type 0 (abort)
    data = (
        _batch(0, 5)
        + _batch(5, 5, producer=7, first_value=5)
        + _batch(10, 1, producer=7, control=abort)
        + _batch(11, 5, first_value=11)
    )
    original, original_getall = fetcher.PartitionRecords, fetcher.FetchResult.getall
    cases = [(take, committed) for take in (None, 1, 3, 4, 100) for committed in (True, False)]
    want = {c: _drain(original, data, fetch_offset=2, take=c[0], committed=c[1]) for c in cases}
    try:
        assert use_decoded_records()
        for c in cases:
            got = _drain(fetcher.PartitionRecords, data, fetch_offset=2, take=c[0], committed=c[1])
            assert got == want[c], c
        offsets = [o for batch, _, _ in want[(None, True)] for o in batch]
        assert offsets == [2, 3, 4, 11, 12, 13, 14, 15]  # the aborted transaction is skipped
        assert want[(None, True)][-1][2] == 16
    finally:
        fetcher.PartitionRecords, fetcher.FetchResult.getall = original, original_getall
