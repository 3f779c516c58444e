"""The transactional producer shared by the Kafka sink and the dead-letter topic.

Why: consume-transform-produce is exactly-once only when the produced records and
the consumer offsets commit in one Kafka transaction; a ``read_committed`` reader
then never sees a record twice. Dead letters ride in the same transaction, so a
record is never both dead-lettered and replayed. If a write fails, the transaction
is not committed and progress stops: nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import vnbridge_core
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.structs import TopicPartition

from logbridge.kafka.batching import CoreBatch
from logbridge.kafka.consumed import Header
from logbridge.kafka.offsets import Checkpoint, Token

__all__ = [
    "BatchRefused",
    "DeadLetterRecord",
    "DeadLetterTooLarge",
    "TooLarge",
    "Transactions",
    "dead_letter_record",
]

log = logging.getLogger("vnbridge.logbridge")

MAX_DEAD_LETTER_VALUE = 900 * 1024  # under the broker's default 1 MiB message.max.bytes
DeadLetterRecord = tuple[bytes | None, bytes, list[Header]]


class TooLarge(Exception):
    """A topic refused records as too large: progress stops rather than drop a record
    (not retriable; a restart reads the topic's limits again)."""


class DeadLetterTooLarge(TooLarge):
    """The dead-letter topic refused a dead letter as too large."""


class BatchRefused(TooLarge):
    """A topic refused a batch sized within the limit read at start: its
    max.message.bytes was lowered while running."""


DEFAULT_MAX_MESSAGE_BYTES = 1048588  # the broker's message.max.bytes default


def dead_letter_record(
    *, key: bytes | None, value: bytes, headers: Iterable[Header], reason: str, detail: str, token: Token
) -> DeadLetterRecord:
    """Original key, value and headers plus why and where from (docs/architecture.md §6). A value
    beyond ``MAX_DEAD_LETTER_VALUE`` is cut, and ``vnbridge.truncated`` says its size."""
    extra: list[Header] = []
    if len(value) > MAX_DEAD_LETTER_VALUE:
        extra.append(("vnbridge.truncated", str(len(value)).encode()))
        value = value[:MAX_DEAD_LETTER_VALUE]
    extra += [
        ("vnbridge.reason", reason.encode()),
        ("vnbridge.detail", detail[:200].encode("utf-8", "replace")),
        ("vnbridge.source.topic", token.topic.encode()),
        ("vnbridge.source.partition", str(token.partition).encode()),
        ("vnbridge.source.offset", str(token.offset).encode()),
    ]
    return key, value, [*headers, *extra]


class Transactions:
    """One transactional, idempotent producer; ``begin`` / ``send`` / ``commit`` per cycle."""

    def __init__(
        self,
        *,
        kafka: dict[str, Any],
        transactional_id: str,
        group_id: str,
        max_request_size: int = 4 * 1024 * 1024,
    ) -> None:
        self._kafka = kafka
        self.transactional_id = transactional_id
        self._max_request = max_request_size - 1024  # room for the produce request's header
        self._limits: dict[str, int] = {}
        self.producer = AIOKafkaProducer(
            **kafka,
            transactional_id=transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=max_request_size,  # the sink cuts batches at the topic's limit
            max_request_size=max_request_size,
            compression_type=None,
        )
        self._group = group_id
        self._open = False

    async def start(self) -> None:
        await self.producer.start()

    async def begin(self) -> None:
        if not self._open:
            await self.producer.begin_transaction()
            self._open = True

    async def send_many(self, topic: str, records: list[DeadLetterRecord]) -> list[int]:
        """Dead letters, through the same limit-aware batches as the sink's documents;
        returns the indexes of those too large for ``topic``."""
        return await self.send_values(
            topic, [k or b"" for k, _, _ in records], [v for _, v, _ in records], [h for _, _, h in records]
        )

    async def record_limit(self, topic: str) -> int:
        """The largest record batch ``topic`` accepts (its max.message.bytes), read once.
        Batches are cut to it: a refused batch would break the idempotent producer's
        sequence numbers, so no batch is ever sent that the broker can refuse."""
        limit = self._limits.get(topic)
        if limit is None:
            limit = min(await self._describe_limit(topic), self._max_request)
            self._limits[topic] = limit
        return limit

    async def _describe_limit(self, topic: str) -> int:
        admin = AIOKafkaAdminClient(**self._kafka)
        try:
            await admin.start()
            answers = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})]
            )
        except KafkaError as exc:
            log.warning(
                "could not read max.message.bytes of %s (%s): assuming the broker default", topic, exc
            )
            return DEFAULT_MAX_MESSAGE_BYTES
        finally:
            await admin.close()
        for answer in answers:
            for error, _msg, _type, name, entries in answer.resources:
                if error == 0 and name == topic:
                    for entry in entries:
                        if entry[0] == "max.message.bytes" and entry[1]:
                            return int(entry[1])
        return DEFAULT_MAX_MESSAGE_BYTES

    async def send_values(
        self,
        topic: str,
        keys: Sequence[bytes],
        values: Sequence[bytes],
        headers: Sequence[list[Header]] | None = None,
    ) -> list[int]:
        """Records as the core's record batches, one or more per target partition, each
        cut at the topic's record-batch limit, sent in the open transaction (no Python
        call per record). Returns the indexes of records too large on their own."""
        await self.begin()
        producer = self.producer
        limit = await self.record_limit(topic)
        partitions = sorted(await producer.partitions_for(topic))
        # Kafka's default partitioner (murmur2 of the pod uid) and the batch bytes, in
        # the core; batches are cut at the topic's limit, counted exactly
        batches, too_large = vnbridge_core.kafka_batches(
            keys, values, len(partitions), limit, int(time.time() * 1000), list(headers) if headers else None
        )
        sent: list[asyncio.Future[Any]] = []
        for p, batch in batches:
            builder = CoreBatch(batch, transactional=True)
            sent.append(await producer.send_batch(builder, topic, partition=partitions[p]))
        results = await asyncio.gather(*sent, return_exceptions=True)
        for res in results:
            if isinstance(res, MessageSizeTooLargeError):
                raise BatchRefused(
                    f"topic {topic} refused a record batch within the max.message.bytes read at start "
                    f"({limit}); was it lowered? restart logbridge to read it again"
                )
            if isinstance(res, BaseException):
                raise res
        return too_large

    async def commit(self, offsets: dict[TopicPartition, Checkpoint]) -> None:
        """Commit the transaction with the consumer offsets (checkpoint in the metadata)."""
        await self.begin()
        if offsets:
            await self.producer.send_offsets_to_transaction(
                {tp: (cp.offset, cp.metadata()) for tp, cp in offsets.items()}, self._group
            )
        await self.producer.commit_transaction()
        self._open = False

    async def abort(self) -> None:
        if self._open:
            with contextlib.suppress(KafkaError):
                await self.producer.abort_transaction()
            self._open = False

    async def close(self) -> None:
        await self.producer.stop()
