"""Chunked frames (logbridge/kafka/framing.py): the same bytes as aiokafka's own code, fewer copies."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiokafka import conn
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.produce import ProduceRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from logbridge.kafka import framing
from logbridge.kafka.framing import BIG, ChunkReader, encode_chunks


class _Writer:
    def __init__(self) -> None:
        self.out: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.out.append(bytes(data))

    def writelines(self, chunks: list[bytes]) -> None:
        self.out.append(b"".join(chunks))

    def drain(self) -> None:
        return None


class _Conn:
    """The attributes ``AIOKafkaConnection.send`` reads, without a socket."""

    def __init__(self, max_version: int) -> None:
        self._writer = _Writer()
        self._versions = {0: (0, max_version), 3: (0, 1)}
        self._host, self._port = "127.0.0.1", 9092
        self._client_id = "logbridge-test"
        self._correlation_id = 0
        self._requests: list[Any] = []

    def _next_correlation_id(self) -> int:
        self._correlation_id += 1
        return self._correlation_id

    def close(self, reason: Any = None) -> None:  # pragma: no cover - only on a broken socket
        raise AssertionError("closed")


def _produce(topics: list[tuple[str, list[tuple[int, bytes | None]]]]) -> ProduceRequest:
    return ProduceRequest(transactional_id="txn-1", required_acks=-1, timeout=30000, topics=topics)  # type: ignore[arg-type]


# a large batch is drawn as a size and a seed: hypothesis need not draw every byte
large = st.builds(
    lambda n, seed: random.Random(seed).randbytes(n), st.integers(BIG, BIG + 300), st.integers(0, 99)
)
batch_bytes = st.one_of(st.binary(max_size=64), large, st.none())


@settings(max_examples=40, deadline=None)
@given(
    version=st.integers(3, 8),
    topics=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=20),
            st.lists(st.tuples(st.integers(0, 1000), batch_bytes), min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_a_produce_request_is_written_byte_for_byte_as_aiokafka_writes_it(
    version: int, topics: list[tuple[str, list[tuple[int, bytes]]]]
) -> None:
    ours, theirs = _Conn(version), _Conn(version)
    framing._send(ours, _produce(topics), expect_response=False)
    framing._ORIGINAL_SEND(theirs, _produce(topics), expect_response=False)
    assert ours._writer.out == theirs._writer.out
    assert len(ours._writer.out) == 1


def test_large_record_batches_are_chunks_of_their_own_not_copies() -> None:
    big = bytes(range(256)) * (BIG // 256 + 1)
    req = _produce([("out", [(0, big), (1, b"small")])]).prepare({0: (0, 8)})
    chunks: list[bytes] = []
    encode_chunks(req.SCHEMA, [req.__dict__[n] for n in req.SCHEMA.names], chunks)
    assert any(c is big for c in chunks)
    assert b"".join(chunks) == req.encode()


def test_other_requests_go_through_aiokafkas_own_send() -> None:
    ours, theirs = _Conn(8), _Conn(8)
    framing._send(ours, MetadataRequest(["a", "b"]), expect_response=False)  # type: ignore[no-untyped-call]
    framing._ORIGINAL_SEND(theirs, MetadataRequest(["a", "b"]), expect_response=False)  # type: ignore[no-untyped-call]
    assert ours._writer.out == theirs._writer.out


def test_use_chunked_frames_is_idempotent() -> None:
    assert framing.use_chunked_frames()
    assert framing.use_chunked_frames()
    assert conn.AIOKafkaConnection.send is framing._send


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.pauses = 0

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False


def _reader(limit: int = 64) -> tuple[ChunkReader, _Transport]:
    reader = ChunkReader(limit=limit)
    transport = _Transport()
    reader.set_transport(transport)
    return reader, transport


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(st.binary(max_size=300), min_size=1, max_size=12),
    seed=st.integers(0, 2**32),
)
def test_frames_read_back_whole_whatever_the_socket_reads(frames: list[bytes], seed: int) -> None:
    """Any cut of the stream into reads gives back every frame, in order, exactly."""
    stream = b"".join(len(f).to_bytes(4, "big") + f for f in frames)
    rng = random.Random(seed)

    async def go() -> list[bytes]:
        reader, _ = _reader()
        got: list[bytes] = []

        async def consume() -> None:
            for _ in frames:
                size = int.from_bytes(await reader.readexactly(4), "big")
                got.append(await reader.readexactly(size))

        task = asyncio.create_task(consume())
        pos = 0
        while pos < len(stream):
            n = rng.randint(1, 200)
            reader.feed_data(stream[pos : pos + n])
            pos += n
            if rng.random() < 0.5:
                await asyncio.sleep(0)
        await task
        assert not reader.at_eof()
        reader.feed_eof()
        assert reader.at_eof()
        return got

    assert asyncio.run(go()) == frames


def test_eof_mid_frame_raises_incomplete_read_with_what_came() -> None:
    async def go() -> None:
        reader, _ = _reader()
        reader.feed_data(b"abc")
        reader.feed_data(b"de")
        reader.feed_eof()
        with pytest.raises(asyncio.IncompleteReadError) as err:
            await reader.readexactly(10)
        assert err.value.partial == b"abcde"
        assert err.value.expected == 10

    asyncio.run(go())


def test_an_exception_set_on_the_reader_is_raised() -> None:
    async def go() -> None:
        reader, _ = _reader()
        reader.set_exception(ConnectionResetError("gone"))
        with pytest.raises(ConnectionResetError):
            await reader.readexactly(1)

    asyncio.run(go())


def test_reading_pauses_when_unread_data_piles_up_and_resumes_once_read() -> None:
    async def go() -> None:
        reader, transport = _reader(limit=10)
        reader.feed_data(b"x" * 15)
        assert not transport.paused
        reader.feed_data(b"y" * 15)  # 30 > 2 * limit, nobody waiting
        assert transport.paused
        assert await reader.readexactly(25) == b"x" * 15 + b"y" * 10
        assert not transport.paused  # 5 left <= limit
        assert await reader.readexactly(5) == b"y" * 5

    asyncio.run(go())


def test_a_read_of_exactly_one_socket_read_returns_that_object() -> None:
    async def go() -> None:
        reader, _ = _reader()
        data = b"z" * 100
        reader.feed_data(data)
        assert await reader.readexactly(100) is data
        assert await reader.readexactly(0) == b""

    asyncio.run(go())
