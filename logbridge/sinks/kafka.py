"""Why: the Kafka sink produces the documents to the output topic inside the cycle's
transaction (the one that also carries the dead letters and the consumer offsets), so a
read_committed reader sees each document once."""

from __future__ import annotations

from logbridge.kafka.transactions import Transactions
from logbridge.sinks.contract import Documents, Rejection

__all__ = ["KafkaSink"]


class KafkaSink:
    """Documents to a topic inside the cycle's transaction; key = pod uid."""

    name = "kafka"
    uses_actions = False
    uses_keys = True
    uses_bodies = True

    def __init__(self, *, txn: Transactions, topic: str) -> None:
        self._txn = txn
        self.topic = topic

    async def start(self) -> None:
        return None

    async def deliver(self, docs: Documents) -> list[Rejection]:
        """Send in the open transaction. A Kafka error propagates: the pipeline aborts
        the transaction and re-delivers the whole cycle (nothing half-committed)."""
        too_large = await self._txn.send_values(self.topic, docs.keys, docs.bodies)
        return [Rejection(i, "message_too_large") for i in too_large]

    async def close(self) -> None:
        return None
