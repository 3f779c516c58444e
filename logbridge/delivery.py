"""What sinks receive and return, how they retry, and the file sink.

Why: the pipeline hands every sink the same ``Item`` (the document serialised once,
its index, deterministic id, message key and source tokens) and waits for a list
of permanent rejections; anything retriable is retried *inside* the sink with capped
exponential backoff and full jitter until it succeeds or shutdown abandons it, so
the committed offset never passes an unacknowledged record (Vector's rule: sinks
acknowledge only on delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from logbridge.offsets import Token

__all__ = ["Abandoned", "FileSink", "Item", "Rejection", "RetryPolicy", "Sink", "retrying"]

R = TypeVar("R")


@dataclass(slots=True)
class Item:
    body: bytes  # the document, serialised once
    index: str
    doc_id: str
    key: bytes  # Kafka message key: the pod uid
    tokens: tuple[Token, ...]


class Rejection(NamedTuple):
    item: Item
    detail: str  # short and bounded, e.g. "mapper_parsing_exception"


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def deliver(self, items: list[Item]) -> list[Rejection]: ...

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

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self._fd = -1

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    async def deliver(self, items: list[Item]) -> list[Rejection]:
        if items:
            data = b"".join(i.body + b"\n" for i in items)
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
