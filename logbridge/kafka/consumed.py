"""What logbridge holds of each assigned partition between fetch and commit.

Why: a dead letter needs its record's original key, value and headers, so the fetched
batches of a partition are kept until a commit passes them; and the pipeline needs to
know how far each partition was consumed (its ``next_offset``), which is what a cycle
commits less what the core still holds.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka.structs import TopicPartition

if TYPE_CHECKING:
    # what aiokafka's fetch gives per record: the core reads the same fields
    from vnbridge_core import KafkaRecord as Record

__all__ = ["Consumed", "Header"]

Header = tuple[str, bytes]


@dataclass(slots=True)
class Consumed:
    """One assigned partition: how far it was consumed and the fetched batches a dead
    letter may still need (its original key, value and headers)."""

    tp: TopicPartition
    source: str  # the core's name for it; default document ids are ``<source>-<offset>``
    next_offset: int = -1  # one past the highest consumed; -1 = nothing consumed yet
    retained: list[tuple[Sequence[Record], int]] = field(default_factory=list)  # (batch, value bytes)

    def original(self, offset: int) -> Record | None:
        for msgs, _ in reversed(self.retained):
            j = bisect.bisect_left(msgs, offset, key=lambda m: m.offset)
            if j < len(msgs) and msgs[j].offset == offset:
                return msgs[j]
        return None

    def release(self, below: int) -> None:
        """Forget fetched batches whose every record lies below ``below``."""
        self.retained = [r for r in self.retained if r[0][-1].offset >= below]

    @property
    def retained_bytes(self) -> int:
        return sum(n for _, n in self.retained)
