"""Kafka frames read and written without copying their record batches again and again.

Why: a Kafka→Kafka profile of ``logbridge run`` spent about an eighth of its CPU in
``memcpy`` inside aiokafka's connection. On the way in, asyncio's ``StreamReader``
appends every socket read to one ``bytearray`` and ``readexactly`` copies each frame
out of it twice (a slice, then ``bytes``). On the way out, every level of aiokafka's
protocol schema joins its children into new bytes — five joins from a record batch to
a produce request — then the header and the size prefix are prepended (two more), and
the selector transport copies what the socket did not take at once. Each copy of a
multi-megabyte frame is also fresh memory the kernel has to fault in.

Here, as ``fetching.py`` does for the fetcher, ``logbridge run`` swaps two pieces of
aiokafka's connection for equivalents that keep its protocol as it is:

* the connection's reader keeps socket reads as a list of chunks and joins exactly
  one frame at a time (one copy; none when a read holds exactly one frame);
* a produce request is encoded as a list of chunks in which each record batch is the
  core's own bytes object, and the frame is handed to the transport with
  ``writelines`` (uvloop writes the chunks with one vectored write).

Everything else — correlation ids, the in-flight queue, timeouts, SASL, TLS, every
other request — stays aiokafka's code. When the aiokafka in use lacks the expected
hooks, nothing is changed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
from typing import TYPE_CHECKING, Any

import aiokafka.conn as conn
import aiokafka.errors as errors
from aiokafka.protocol import types
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.protocol.struct import Struct
from aiokafka.util import wait_for

__all__ = ["ChunkReader", "encode_chunks", "use_chunked_frames"]

log = logging.getLogger("vnbridge.logbridge")

BIG = 16 * 1024  # a bytes field at least this long is written as its own chunk
_SIZE = struct.Struct(">i").pack


class ChunkReader(asyncio.StreamReader):
    """A ``StreamReader`` whose ``readexactly`` joins whole socket reads, the only read
    aiokafka's connection makes. Reading pauses when more than twice ``limit`` waits
    unread and nobody is waiting for it, as the base class does."""

    if TYPE_CHECKING:  # the base class's private state and helpers, which this class drives
        _eof: bool
        _exception: BaseException | None
        _limit: int
        _paused: bool
        _transport: asyncio.ReadTransport | None
        _waiter: asyncio.Future[None] | None

        def _wakeup_waiter(self) -> None: ...
        async def _wait_for_data(self, func_name: str) -> None: ...

    def __init__(self, limit: int = 2**16, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(limit, loop)
        self.adopt()

    def adopt(self) -> None:
        """Set up the chunk list (also for a plain ``StreamReader`` whose class was just
        switched to this one, before any data arrived)."""
        self._chunks: collections.deque[bytes] = collections.deque()
        self._pos = 0  # consumed bytes of the first chunk
        self._have = 0  # unread bytes in all chunks

    def feed_data(self, data: bytes) -> None:  # type: ignore[override]  # the transport gives bytes
        assert not self._eof, "feed_data after feed_eof"
        if not data:
            return
        self._chunks.append(data if type(data) is bytes else bytes(data))
        self._have += len(data)
        self._wakeup_waiter()
        if (
            self._transport is not None
            and not self._paused
            and self._waiter is None
            and self._have > 2 * self._limit
        ):
            try:
                self._transport.pause_reading()
            except NotImplementedError:
                self._transport = None
            else:
                self._paused = True

    def at_eof(self) -> bool:
        return bool(self._eof) and not self._have

    async def readexactly(self, n: int) -> bytes:
        if self._exception is not None:
            raise self._exception
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        while self._have < n:
            if self._eof:
                incomplete = self._take(self._have)
                raise asyncio.IncompleteReadError(incomplete, n)
            await self._wait_for_data("readexactly")  # resumes a paused transport
        data = self._take(n)
        if self._paused and self._have <= self._limit and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return data

    def _take(self, n: int) -> bytes:
        chunks = self._chunks
        if n == 0:
            return b""
        self._have -= n
        first = chunks[0]
        if self._pos == 0 and len(first) == n:
            chunks.popleft()
            return first
        parts: list[memoryview] = []
        while n:
            first = chunks[0]
            view = memoryview(first)[self._pos :]
            if len(view) <= n:
                parts.append(view)
                n -= len(view)
                chunks.popleft()
                self._pos = 0
            else:
                parts.append(view[:n])
                self._pos += n
                n = 0
        return b"".join(parts)


def encode_chunks(schema: Any, value: Any, out: list[bytes]) -> None:
    """``schema.encode(value)`` as a list of chunks whose concatenation is exactly those
    bytes; a large ``Bytes`` value is appended as it is, not copied. Only aiokafka's plain
    ``Schema`` and ``Array`` are walked; any other type encodes itself."""
    kind = type(schema)
    if kind is types.Schema:
        for field, item in zip(schema.fields, value, strict=True):
            encode_chunks(field, item, out)
    elif kind is types.Array and value is not None:
        out.append(types.Int32.encode(len(value)))
        for item in value:
            encode_chunks(schema.array_of, item, out)
    elif schema is types.Bytes and value is not None and len(value) >= BIG:
        out.append(types.Int32.encode(len(value)))
        out.append(bytes(value) if type(value) is not bytes else value)
    else:
        out.append(schema.encode(value))


_ORIGINAL_SEND = conn.AIOKafkaConnection.send


def _send(self: Any, request: Any, expect_response: bool = True) -> Any:
    """``AIOKafkaConnection.send`` for produce requests, written as chunks with one
    ``writelines`` (the same bytes, the same bookkeeping); any other request goes
    through aiokafka's own ``send``."""
    if not isinstance(request, ProduceRequest) or self._writer is None:
        return _ORIGINAL_SEND(self, request, expect_response)
    request_struct = request.prepare(self._versions)
    if type(request_struct).encode is not Struct.encode:  # a request that encodes itself its own way
        return _ORIGINAL_SEND(self, request, expect_response)
    correlation_id = self._next_correlation_id()
    header = request_struct.build_request_header(correlation_id=correlation_id, client_id=self._client_id)
    chunks: list[bytes] = [b"", header.encode()]
    schema = request_struct.SCHEMA
    encode_chunks(schema, [request_struct.__dict__[name] for name in schema.names], chunks)
    chunks[0] = _SIZE(sum(len(c) for c in chunks))
    try:
        self._writer.writelines(chunks)
    except OSError as err:
        self.close(reason=conn.CloseReason.CONNECTION_BROKEN)
        raise errors.KafkaConnectionError(f"Connection at {self._host}:{self._port} broken: {err}") from err
    if not expect_response:
        return self._writer.drain()
    fut = self._loop.create_future()
    self._requests.append((correlation_id, request_struct, fut))
    return wait_for(fut, self._request_timeout)


class _Protocol(conn.AIOKafkaProtocol):  # type: ignore[misc]
    """aiokafka's protocol, feeding a ``ChunkReader``: the connection made the reader
    just before, and reads from this same object."""

    def __init__(self, closed_fut: Any, reader: asyncio.StreamReader, *args: Any, **kwargs: Any) -> None:
        if type(reader) is asyncio.StreamReader:
            reader.__class__ = ChunkReader
            ChunkReader.adopt(reader)  # type: ignore[arg-type]  # its class is ChunkReader now
        super().__init__(closed_fut, reader, *args, **kwargs)


def use_chunked_frames() -> bool:
    """Swap in the chunked reader and the chunked produce request; True when applied."""
    if conn.AIOKafkaConnection.send is _send:
        return True
    hooks = ("_next_correlation_id", "send", "close")
    needed = all(callable(getattr(conn.AIOKafkaConnection, h, None)) for h in hooks)
    needed = needed and hasattr(conn, "CloseReason") and hasattr(conn, "AIOKafkaProtocol")
    needed = needed and isinstance(getattr(types, "Schema", None), type) and hasattr(types.Array, "encode")
    if not needed:
        log.warning("aiokafka's connection lacks the expected hooks: frames are copied as before")
        return False
    conn.AIOKafkaConnection.send = _send
    conn.AIOKafkaProtocol = _Protocol
    return True
