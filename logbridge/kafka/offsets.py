"""Which Kafka offsets may be committed, and what a restart must not send twice.

Why: the committed offset must never pass a record that some sink has not
acknowledged, including fragments held back for reassembly (docs/architecture.md §6). A cycle
delivers everything it consumed except what the core still holds (a partial line,
an open stack trace), so the committable offset is the lowest held one, or one past
the last consumed: offsets are ranges, not a token per record. Records *above* a
held one may already be delivered: the commit carries a small checkpoint — ``mark``
(everything below is delivered unless listed) and the held offsets — in the offset
metadata, so after a crash the core's replay filter skips the replayed records that
were already delivered, and a ``read_committed`` reader of the Kafka sink sees
every record exactly once.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Checkpoint", "Token", "checkpoint"]

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


def checkpoint(next_offset: int, held: Sequence[int]) -> Checkpoint | None:
    """What to commit for a partition consumed up to ``next_offset`` (exclusive) once a
    cycle is delivered: everything consumed is delivered, dead-lettered or filtered
    except the sorted ``held`` offsets a pending partial line or stack trace keeps in
    the core. ``None`` when nothing was consumed yet."""
    if next_offset < 0:
        return None
    if not held:
        return Checkpoint(next_offset, next_offset)
    cp = Checkpoint(held[0], next_offset, tuple(held))
    k = len(held)
    while len(cp.metadata()) > MAX_METADATA and k > 0:
        # too many held fragments to describe: describe the first k; the mark drops to
        # the first one left out (what lies above may be re-sent after a crash: ES
        # dedups by _id, a Kafka sink reader could see it twice — very unlikely)
        k //= 2
        cp = Checkpoint(held[0], held[k], tuple(held[:k]))
    return cp
