"""Record batches built by the core, handed to aiokafka's producer as they are.

Why: aiokafka's ``send_batch`` takes a ``BatchBuilder`` that is filled one Python
``append`` per record and CRC-ed in a table walk; logbridge's documents are already
columns of bytes, so the core cuts them into one v2 record batch per partition and
writes its header (producer id, epoch, base sequence, CRC-32C) when the producer's
sender sets that state. Everything else — sequence numbers, the transaction, retries,
acks — stays aiokafka's own; this adapter only answers the builder calls it makes
(``_set_producer_state``, ``_build``, ``size``, ``record_count``, ``closed``).
"""

from __future__ import annotations

from typing import Any

import vnbridge_core
from aiokafka.producer.message_accumulator import BatchBuilder

__all__ = ["CoreBatch"]


class CoreBatch(BatchBuilder):  # type: ignore[misc]
    """A closed batch whose records the core holds; built once, on the sender's demand."""

    def __init__(self, batch: vnbridge_core.KafkaBatch, *, transactional: bool) -> None:
        # BatchBuilder.__init__ would allocate aiokafka's own builder: not needed
        self._core = batch
        self._transactional = transactional
        self._state = (-1, -1, 0)
        self._buffer: bytes | None = None

    def append(self, *, timestamp: Any, key: Any, value: Any, headers: Any = ()) -> None:
        return None  # closed: the core filled it

    def close(self) -> None:
        return None

    def _set_producer_state(self, producer_id: int, producer_epoch: int, base_sequence: int) -> None:
        self._state = (producer_id, producer_epoch, base_sequence)

    def _build(self) -> bytes:
        if self._buffer is None:
            pid, epoch, seq = self._state
            self._buffer = self._core.build(pid, epoch, seq, self._transactional)
        return self._buffer

    def size(self) -> int:
        return self._core.size()  # the built bytes are exactly this long

    def record_count(self) -> int:
        return self._core.record_count()

    def closed(self) -> bool:
        return True
