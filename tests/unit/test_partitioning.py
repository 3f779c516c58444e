"""The Kafka sink places each document where Kafka's default partitioner would (the
Java client's murmur2 of the key, as aiokafka's ``DefaultPartitioner`` computes it),
now computed once per batch in the core."""

from __future__ import annotations

import vnbridge_core
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=50), st.integers(1, 12))
def test_keyed_documents_land_where_the_default_partitioner_puts_them(keys: list[bytes], n: int) -> None:
    parts = list(range(n))
    groups = vnbridge_core.partition_groups(keys, n)
    placed = {i: p for p, idxs in enumerate(groups) for i in idxs}
    assert sorted(placed) == list(range(len(keys)))
    for i, key in enumerate(keys):
        assert placed[i] == DefaultPartitioner()(key, parts, parts)
    for idxs in groups:
        assert idxs == sorted(idxs)  # a pod's lines keep their order


def test_keyless_documents_are_spread() -> None:
    groups = vnbridge_core.partition_groups([b""] * 8, 4)
    assert [len(g) for g in groups] == [2, 2, 2, 2]
