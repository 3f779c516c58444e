"""What sinks receive and return, how they retry, and which failures stop the service.

Why: the pipeline hands every sink the same ``Documents`` (columns of document
bytes, bulk action lines and message keys, as the core wrote them) and waits for a
list of permanent rejections; anything retriable is retried *inside* the sink with capped
exponential backoff and equal jitter (half the cap plus up to half) until it succeeds or
shutdown abandons it, so the committed offset never passes an unacknowledged record (Vector's rule: sinks
acknowledge only on delivery).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol, TypeVar

import vnbridge_core

from vnbridge.backoff import RetryPolicy

__all__ = ["Abandoned", "Documents", "Fatal", "Rejection", "RetryPolicy", "Sink", "retrying"]

R = TypeVar("R")


class Documents:
    """One cycle's documents, each serialised once by the core. For the Elasticsearch
    sink they are kept as the core wrote them, whole ``_bulk`` bodies (``action\\nbody\\n``
    per document, the profile's ``create`` or ``index`` with a deterministic ``_id``
    either way, so a replay never duplicates) with where each document's pair ends; for
    the sinks that read them one by one, as columns of bodies and Kafka keys (the pod
    uid). ``tokens(i)`` says which (source, offset) records document ``i`` consumed; it
    is looked up only when a sink rejects that document."""

    __slots__ = (
        "_ends",
        "_n",
        "_op",
        "_parts",
        "_segments",
        "_starts",
        "_with_actions",
        "_with_bodies",
        "_with_keys",
        "bodies",
        "keys",
    )

    def __init__(
        self, *, actions: bool = True, keys: bool = True, bodies: bool = True, op: str = "create"
    ) -> None:
        self.bodies: list[bytes] = []  # empty unless some sink reads bodies one by one
        self.keys: list[bytes] = []  # empty unless some sink produces to Kafka
        self._with_actions = actions
        self._with_keys = keys
        self._with_bodies = bodies
        self._op = op
        self._parts: list[tuple[int, TokenSource]] = []
        self._n = 0
        self._segments: list[bytes] = []  # bulk bodies, one per core batch, end to end
        self._starts: list[int] = []  # where each segment starts in that concatenation
        self._ends: list[int] = []  # where each document's action + body pair ends in it

    def __len__(self) -> int:
        return self._n

    def add(self, batch: vnbridge_core.Batch) -> None:
        """Append a core batch's documents; the batch stays (without its bodies) to answer
        ``tokens`` for a rejected document."""
        n = len(batch)
        if not n:
            return
        self._parts.append((self._n, batch))
        self._n += n
        if self._with_actions:
            base = self._ends[-1] if self._ends else 0
            body, ends = batch.bulk(self._op, True, base)
            self._segments.append(body)
            self._starts.append(base)
            self._ends += ends
        if self._with_bodies:
            self.bodies += batch.take_bodies()
        else:
            batch.release_bodies()
        if self._with_keys:
            self.keys += batch.keys()

    @classmethod
    def of(
        cls, *, bodies: list[bytes], actions: list[bytes], keys: list[bytes], tokens: TokenSource
    ) -> Documents:
        """Columns given directly (tests)."""
        docs = cls()
        docs.bodies, docs.keys = list(bodies), list(keys)
        docs._n = len(bodies)
        docs._parts = [(0, tokens)]
        if actions:
            pairs = [a + b"\n" + body + b"\n" for a, body in zip(actions, bodies, strict=True)]
            docs._segments, docs._starts = [b"".join(pairs)], [0]
            docs._ends = list(itertools.accumulate(map(len, pairs)))
        return docs

    @property
    def ends(self) -> list[int]:
        """Where each document's ``action\\nbody\\n`` ends in the concatenated bulk bodies."""
        return self._ends

    def bulk_body(self, which: Sequence[int] | range) -> bytes:
        """The NDJSON ``_bulk`` body for documents ``which``: one copy at most, none when
        they are exactly one core batch."""
        if isinstance(which, range) and which.step == 1:
            if not which:
                return b""
            return self._span(self._start(which.start), self._ends[which.stop - 1])
        return b"".join(self._span(self._start(i), self._ends[i]) for i in which)

    def _start(self, i: int) -> int:
        return self._ends[i - 1] if i else 0

    def _span(self, a: int, b: int) -> bytes:
        k = bisect.bisect_right(self._starts, a) - 1
        seg = self._segments[k]
        if a == self._starts[k] and b == a + len(seg):
            return seg
        views: list[memoryview] = []
        while a < b:
            start, seg = self._starts[k], self._segments[k]
            hi = min(b - start, len(seg))
            views.append(memoryview(seg)[a - start : hi])
            a, k = start + hi, k + 1
        return b"".join(views)

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
    uses_bodies: bool  # reads Documents.bodies one by one (the bulk bodies hold them otherwise)

    async def start(self) -> None: ...

    async def deliver(self, docs: Documents) -> list[Rejection]: ...

    async def close(self) -> None: ...


class Abandoned(Exception):
    """Shutdown gave up retrying; nothing was acknowledged, the records will be replayed."""


class Fatal(Exception):
    """A sink failure that retrying cannot mend: credentials refused after a rotation
    (401/403), a producer fenced by another replica with the same transactional id, a
    request the service will always refuse. Not retriable: the service stops with this
    one line, the open transaction is aborted, nothing is committed past what was
    delivered, and a restart (with the cause fixed) replays the rest."""


class Retriable(Exception):
    """A failure worth retrying (429, 5xx, connection); ``code`` is a bounded label."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


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
