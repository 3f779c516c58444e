"""Which Kafka offsets may be committed, and what a restart must not send twice.

Why: the committed offset must never pass a record that some sink has not
acknowledged, including fragments held back for reassembly (DESIGN §6). A
``Ledger`` per partition tracks every consumed offset until its one output (or
dead letter) is delivered everywhere; ``committable`` is the lowest outstanding
offset. Records *above* it may already be delivered while an older fragment is
held: the commit carries a small checkpoint — ``mark`` (everything below is
delivered unless listed) and the held offsets — in the offset metadata, so after
a crash the replayed records that were already delivered are skipped, and a
``read_committed`` reader of the Kafka sink sees every record exactly once.
Pure: no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Checkpoint", "Ledger", "ReplayFilter", "Token"]

MAX_METADATA = 3500  # brokers accept 4096 bytes by default (offset.metadata.max.bytes)


class Token(NamedTuple):
    """One consumed record: where it came from."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Commit offset plus what lies delivered above it. Encoded as ``vnb1:<mark>:<held,...>``
    with held offsets relative to ``offset``, base 36."""

    offset: int
    mark: int  # every offset in [offset, mark) not in ``held`` is delivered
    held: tuple[int, ...] = ()

    def metadata(self) -> str:
        if self.mark <= self.offset:
            return ""
        rel = ",".join(_b36(h - self.offset) for h in self.held)
        return f"vnb1:{_b36(self.mark - self.offset)}:{rel}"

    @classmethod
    def parse(cls, offset: int, metadata: str | None) -> Checkpoint:
        """The checkpoint of a committed (offset, metadata); foreign or bad metadata → none."""
        if not metadata or not metadata.startswith("vnb1:"):
            return cls(offset, offset)
        try:
            _, mark, held = metadata.split(":", 2)
            return cls(
                offset,
                offset + int(mark, 36),
                tuple(offset + int(h, 36) for h in held.split(",") if h),
            )
        except ValueError:
            return cls(offset, offset)


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass(slots=True)
class Ledger:
    """Outstanding offsets of one partition (consumed, not yet delivered everywhere)."""

    next_offset: int = -1  # one past the highest consumed offset; -1 = nothing consumed yet
    _pending: set[int] = field(default_factory=set)
    _heap: list[int] = field(default_factory=list)

    def add(self, offset: int) -> None:
        self._pending.add(offset)
        heapq.heappush(self._heap, offset)
        if offset + 1 > self.next_offset:
            self.next_offset = offset + 1

    def done(self, offset: int) -> None:
        self._pending.discard(offset)

    def _low(self) -> int | None:
        heap = self._heap
        while heap and heap[0] not in self._pending:
            heapq.heappop(heap)
        return heap[0] if heap else None

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def checkpoint(self) -> Checkpoint | None:
        """What to commit now, or None when nothing was consumed yet."""
        if self.next_offset < 0:
            return None
        low = self._low()
        if low is None:
            return Checkpoint(self.next_offset, self.next_offset)
        held = sorted(self._pending)
        cp = Checkpoint(low, self.next_offset, tuple(held))
        k = len(held)
        while len(cp.metadata()) > MAX_METADATA and k > 0:
            # too many held fragments to describe: describe the first k; the mark drops to
            # the first one left out (what lies above may be re-sent after a crash: ES
            # dedups by _id, a Kafka sink reader could see it twice — very unlikely)
            k //= 2
            cp = Checkpoint(low, held[k], tuple(held[:k]))
        return cp


class ReplayFilter:
    """After a restart: tells whether an output was already delivered before the crash."""

    def __init__(self) -> None:
        self._cps: dict[tuple[str, int], tuple[int, frozenset[int]]] = {}

    def set(self, topic: str, partition: int, cp: Checkpoint) -> None:
        if cp.mark > cp.offset:
            self._cps[(topic, partition)] = (cp.mark, frozenset(cp.held))
        else:
            self._cps.pop((topic, partition), None)

    def delivered(self, tokens: Iterable[Token]) -> bool:
        """True when every token lies below its partition's mark and was not held."""
        if not self._cps:
            return False
        seen = False
        for t in tokens:
            cp = self._cps.get((t.topic, t.partition))
            if cp is None or t.offset >= cp[0] or t.offset in cp[1]:
                return False
            seen = True
        return seen

    def passed(self, topic: str, partition: int, offset: int) -> None:
        """Forget a partition's checkpoint once consumption went past its mark."""
        cp = self._cps.get((topic, partition))
        if cp is not None and offset >= cp[0]:
            del self._cps[(topic, partition)]
