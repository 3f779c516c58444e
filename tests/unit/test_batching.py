"""The core's Kafka record batches, read back with aiokafka's own batch reader."""

from __future__ import annotations

import vnbridge_core
from aiokafka.record.default_records import DefaultRecordBatch
from hypothesis import given, settings
from hypothesis import strategies as st

from logbridge.kafka.batching import CoreBatch


def _read(data: bytes) -> DefaultRecordBatch:
    batch = DefaultRecordBatch(bytearray(data))
    assert batch.validate_crc()
    return batch


def test_batches_read_back_with_producer_state_and_headers() -> None:
    keys = [b"uid-a", b"", b"uid-a"]
    values = [b'{"log":"one"}', b"two", b"three"]
    headers = [[("h", b"1")], [], [("x", b""), ("y", b"\xff")]]
    batches, too_large = vnbridge_core.kafka_batches(keys, values, 1, 1 << 20, 1_700_000_000_123, headers)
    assert too_large == []
    [(p, core)] = batches
    assert p == 0
    builder = CoreBatch(core, transactional=True)
    builder._set_producer_state(4242, 3, 17)
    data = builder._build()
    assert builder.size() == len(data) == core.size()
    batch = _read(data)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (4242, 3, 17)
    assert batch.is_transactional
    got = [(r.key, r.value, list(r.headers), r.offset, r.timestamp) for r in batch]
    assert got == [
        (b"uid-a", b'{"log":"one"}', [("h", b"1")], 0, 1_700_000_000_123),
        (None, b"two", [], 1, 1_700_000_000_123),
        (b"uid-a", b"three", [("x", b""), ("y", b"\xff")], 2, 1_700_000_000_123),
    ]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.binary(max_size=300), min_size=1, max_size=40),
    partitions=st.integers(1, 5),
    limit=st.integers(80, 2000),
)
def test_every_record_is_in_one_batch_within_the_limit_or_too_large(
    values: list[bytes], partitions: int, limit: int
) -> None:
    keys = [f"pod-{i % 7}".encode() for i in range(len(values))]
    batches, too_large = vnbridge_core.kafka_batches(keys, values, partitions, limit, 0)
    seen: list[bytes] = []
    for p, core in batches:
        assert 0 <= p < partitions
        data = core.build(1, 0, 0, True)
        assert len(data) <= limit
        seen += [r.value for r in _read(data)]
    expected = [v for i, v in enumerate(values) if i not in set(too_large)]
    assert sorted(seen) == sorted(expected)
    for i in too_large:  # too large alone: a batch of just this record exceeds the limit
        [(_, alone)], _ = vnbridge_core.kafka_batches([keys[i]], [values[i]], 1, 1 << 30, 0)
        assert alone.size() > limit
