"""The Kafka sink places each document where Kafka's default partitioner would (the
Java client's murmur2 of the key, as aiokafka's ``DefaultPartitioner`` computes it):
checked on the record batches the core builds for the sink, read back with aiokafka's
own batch reader."""

from __future__ import annotations

import vnbridge_core
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatch
from hypothesis import given
from hypothesis import strategies as st


def _placed(keys: list[bytes], n: int) -> dict[int, list[int]]:
    """Partition index → document positions, in batch order (values carry positions)."""
    values = [str(i).encode() for i in range(len(keys))]
    batches, too_large = vnbridge_core.kafka_batches(keys, values, n, 1 << 20, 0)
    assert too_large == []
    out: dict[int, list[int]] = {}
    for p, batch in batches:
        records = DefaultRecordBatch(bytearray(batch.build(1, 0, 0, True)))
        out.setdefault(p, []).extend(int(r.value) for r in records)
    return out


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=50), st.integers(1, 12))
def test_keyed_documents_land_where_the_default_partitioner_puts_them(keys: list[bytes], n: int) -> None:
    parts = list(range(n))
    placed = _placed(keys, n)
    where = {i: p for p, idxs in placed.items() for i in idxs}
    assert sorted(where) == list(range(len(keys)))
    for i, key in enumerate(keys):
        assert where[i] == DefaultPartitioner()(key, parts, parts)
    for idxs in placed.values():
        assert idxs == sorted(idxs)  # a pod's lines keep their order


def test_keyless_documents_are_spread() -> None:
    placed = _placed([b""] * 8, 4)
    assert sorted(len(g) for g in placed.values()) == [2, 2, 2, 2]
