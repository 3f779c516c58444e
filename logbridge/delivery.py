"""What sinks receive and return, how they retry, and the file sink.

Why: the pipeline hands every sink the same ``Documents`` (columns of document
bytes, bulk action lines and message keys, as the core wrote them) and waits for a
list of permanent rejections; anything retriable is retried *inside* the sink with capped
exponential backoff and full jitter until it succeeds or shutdown abandons it, so
the committed offset never passes an unacknowledged record (Vector's rule: sinks
acknowledge only on delivery).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

import vnbridge_core

__all__ = ["Abandoned", "Documents", "FileSink", "Rejection", "RetryPolicy", "Sink", "retrying"]

R = TypeVar("R")


class Documents:
    """One cycle's documents as columns, each serialised once by the core: bodies, ES
    bulk action lines (the profile's ``create`` or ``index``, with a deterministic
    ``_id`` either way, so a replay never duplicates) and Kafka keys (the pod
    uid). ``tokens(i)`` says which (source, offset) records document ``i`` consumed;
    it is looked up only when a sink rejects that document."""

    __slots__ = ("_op", "_parts", "_with_actions", "_with_keys", "actions", "bodies", "keys")

    def __init__(self, *, actions: bool = True, keys: bool = True, op: str = "create") -> None:
        self.bodies: list[bytes] = []
        self.actions: list[bytes] = []  # empty unless some sink bulk-indexes
        self.keys: list[bytes] = []  # empty unless some sink produces to Kafka
        self._with_actions = actions
        self._with_keys = keys
        self._op = op
        self._parts: list[tuple[int, TokenSource]] = []

    def __len__(self) -> int:
        return len(self.bodies)

    def add(self, batch: vnbridge_core.Batch) -> None:
        """Append a core batch's columns; the batch stays (without its bodies) to answer
        ``tokens`` for a rejected document."""
        if len(batch):
            self._parts.append((len(self.bodies), batch))
            self.bodies += batch.take_bodies()
            if self._with_actions:
                self.actions += batch.actions(self._op, True)
            if self._with_keys:
                self.keys += batch.keys()

    @classmethod
    def of(
        cls, *, bodies: list[bytes], actions: list[bytes], keys: list[bytes], tokens: TokenSource
    ) -> Documents:
        """Columns given directly (tests)."""
        docs = cls()
        docs.bodies, docs.actions, docs.keys = list(bodies), list(actions), list(keys)
        docs._parts = [(0, tokens)]
        return docs

    def tokens(self, i: int) -> list[tuple[str, int]]:
        starts = [start for start, _ in self._parts]
        k = bisect.bisect_right(starts, i) - 1
        start, part = self._parts[k]
        return part.tokens(i - start)


class TokenSource(Protocol):
    def tokens(self, i: int) -> list[tuple[str, int]]: ...


class Rejection(NamedTuple):
    doc: int  # the document's position in the cycle's Documents
    detail: str  # short and bounded, e.g. "mapper_parsing_exception"


class Sink(Protocol):
    name: str
    uses_actions: bool  # reads Documents.actions (bulk action lines)
    uses_keys: bool  # reads Documents.keys (Kafka message keys)

    async def start(self) -> None: ...

    async def deliver(self, docs: Documents) -> list[Rejection]: ...

    async def close(self) -> None: ...


class Abandoned(Exception):
    """Shutdown gave up retrying; nothing was acknowledged, the records will be replayed."""


class Retriable(Exception):
    """A failure worth retrying (429, 5xx, connection); ``code`` is a bounded label."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float = 0.2
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        cap = min(self.max_s, self.initial_s * (2**attempt))
        return random.uniform(cap / 2, cap)


async def retrying(
    op: Callable[[], Awaitable[R]],
    *,
    policy: RetryPolicy,
    give_up: asyncio.Event,
    on_retry: Callable[[str], None],
) -> R:
    """Run ``op`` until it does not raise ``Retriable``; ``give_up`` set → ``Abandoned``."""
    attempt = 0
    while True:
        if give_up.is_set():
            raise Abandoned
        try:
            return await op()
        except Retriable as exc:
            on_retry(exc.code)
        delay = policy.delay(attempt)
        attempt += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(give_up.wait(), delay)


class FileSink:
    """JSON lines appended to a file, fsynced before acknowledging (for debugging)."""

    name = "file"
    uses_actions = False
    uses_keys = False

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self._fd = -1

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    async def deliver(self, docs: Documents) -> list[Rejection]:
        if len(docs):
            data = b"\n".join(docs.bodies) + b"\n"
            await asyncio.to_thread(self._write, data)
        return []

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    async def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
