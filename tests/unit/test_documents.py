"""A cycle's documents as the core wrote them: the bulk bodies the Elasticsearch sink
sends are exactly the action lines and bodies the core gives one by one."""

from __future__ import annotations

import random

import orjson
import pytest

from logbridge.profiles import build
from logbridge.sinks.contract import Documents
from logbridge.sinks.elastic import _chunks
from logbridge.transforming import core_transformer
from simulator.model import T0_NS, Cluster
from simulator.running import eks_record


def _batches(n_batches: int, per: int, *, op: str = "create") -> tuple[list[object], list[bytes]]:
    """Core batches of EKS records from interleaved pods, and the expected NDJSON pairs."""
    pods = [p for p in Cluster(seed=3).build().pods if p.virtual]
    core = core_transformer(profile=build("fluent-bit", {}), lookup=None)
    batches, pairs = [], []
    for b in range(n_batches):
        values = [
            eks_record(pods[i % len(pods)], T0_NS + i, "stdout", "F", f'line {b}-{i} é "q"')
            for i in range(per + b)  # batches of different sizes
        ]
        batch = core.push_values(f"t-{b}", values, 100 * b)
        actions = batch.actions(op, True)
        twin = core_transformer(profile=build("fluent-bit", {}), lookup=None)
        bodies = twin.push_values(f"t-{b}", values, 100 * b).take_bodies()
        # not only the core against itself: each pair is, on its own terms, the record's
        # document (its line, its pod) under the action naming its record
        for i, (a, body) in enumerate(zip(actions, bodies, strict=True)):
            action, doc = orjson.loads(a), orjson.loads(body)
            assert action[op]["_id"] == f"t-{b}-{100 * b + i}"
            assert doc["log"] == f'line {b}-{i} é "q"'
            assert doc["kubernetes"]["pod_name"] == pods[i % len(pods)].name
            pairs.append(a + b"\n" + body + b"\n")
        batches.append(batch)
    return batches, pairs


@pytest.mark.parametrize("op", ["create", "index"])
def test_bulk_bodies_are_the_action_lines_and_bodies_end_to_end(op: str) -> None:
    batches, pairs = _batches(4, 7, op=op)
    docs = Documents(actions=True, keys=False, bodies=False, op=op)
    for batch in batches:
        docs.add(batch)  # type: ignore[arg-type]
    assert len(docs) == len(pairs)
    assert docs.bodies == []  # no sink reads them one by one: only the bulk bodies hold them
    assert docs.bulk_body(range(len(docs))) == b"".join(pairs)
    rng = random.Random(7)
    for _ in range(50):  # any range (across batch boundaries) and any subset, as retries ask
        a = rng.randrange(len(pairs))
        b = rng.randrange(a, len(pairs)) + 1
        assert docs.bulk_body(range(a, b)) == b"".join(pairs[a:b])
        which = sorted(rng.sample(range(len(pairs)), rng.randint(1, 6)))
        assert docs.bulk_body(which) == b"".join(pairs[i] for i in which)
    assert docs.bulk_body(range(0)) == b""
    first = orjson.loads(docs.bulk_body([0]).split(b"\n")[0])
    assert list(first) == [op] and first[op]["_id"] == "t-0-0"


def test_the_sinks_that_read_bodies_one_by_one_still_get_them() -> None:
    batches, pairs = _batches(2, 5)
    docs = Documents(actions=True, keys=True, bodies=True)
    for batch in batches:
        docs.add(batch)  # type: ignore[arg-type]
    assert [p.split(b"\n")[1] for p in pairs] == docs.bodies
    assert len(docs.keys) == len(docs)
    assert docs.bulk_body(range(len(docs))) == b"".join(pairs)


def test_chunks_follow_the_bulk_bodies_byte_counts() -> None:
    batches, pairs = _batches(3, 9)
    docs = Documents(actions=True, keys=False, bodies=False)
    for batch in batches:
        docs.add(batch)  # type: ignore[arg-type]
    sizes = [len(p) for p in pairs]
    limit = max(sizes) * 3
    chunks = _chunks(docs, 4, limit)
    assert [i for c in chunks for i in c] == list(range(len(docs)))
    for c in chunks:
        assert len(c) <= 4
        assert sum(sizes[i] for i in c) <= limit
        assert len(docs.bulk_body(c)) == sum(sizes[i] for i in c)
    # a document larger than the byte limit goes alone
    assert _chunks(docs, 100, 1) == [range(i, i + 1) for i in range(len(docs))]
