"""The consume → transform → deliver → commit cycle of ``logbridge run``.

Why: this is where the delivery contract (DESIGN §6) is kept. A cycle consumes up
to a bounded number of records/bytes (the in-flight bound), transforms them, hands
the documents to every sink at once, writes dead letters, then commits the consumer
offsets *inside the same Kafka transaction* as the sink and dead-letter records.
While a sink is retrying nothing more is fetched and the partitions are paused, so
memory stays bounded; a failed transaction is aborted and the cycle re-delivered
(Elasticsearch dedups by _id). Offsets come from per-partition ledgers, so a
committed offset never passes a record some sink has not acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError, ProducerFenced
from aiokafka.structs import TopicPartition
from opentelemetry import trace

from logbridge.decoding import Context
from logbridge.delivery import Item, Rejection, Retriable, RetryPolicy, Sink, retrying
from logbridge.observing import Health, Metrics
from logbridge.offsets import Checkpoint, Ledger, ReplayFilter, Token
from logbridge.producing import (
    DeadLetterRecord,
    DeadLetterTooLarge,
    Transactions,
    dead_letter_from,
    dead_letter_record,
)
from logbridge.records import Reason
from logbridge.transforming import Output, Transformer

__all__ = ["Cycle", "Pipeline"]

log = logging.getLogger("vnbridge.logbridge")
tracer = trace.get_tracer("vnbridge.logbridge")


@dataclass(slots=True)
class Cycle:
    items: list[Item] = field(default_factory=list)
    dead: list[DeadLetterRecord] = field(default_factory=list)
    dead_tokens: list[Token] = field(default_factory=list)
    records: int = 0
    bytes: int = 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline) -> None:
        self._p = pipeline

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._p.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._p.on_assigned(assigned)


class Pipeline:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        txn: Transactions,
        sinks: list[Sink],
        transformer_factory: Any,
        dead_letter_topic: str,
        group_id: str,
        committed: Any,
        metrics: Metrics,
        health: Health,
        policy: RetryPolicy,
        give_up: asyncio.Event,
        max_records: int = 5000,
        max_bytes: int = 16 * 1024 * 1024,
        linger_s: float = 0.2,
        degraded_after_s: float = 5.0,
    ) -> None:
        self.consumer = consumer
        self.txn = txn
        self.sinks = sinks
        self._new_transformer = transformer_factory
        self.transformer: Transformer[Token] = transformer_factory()
        self.dlq_topic = dead_letter_topic
        self.group_id = group_id
        self._committed = committed  # async (partitions) -> {tp: (offset, metadata)}
        self.metrics = metrics
        self.health = health
        self.policy = policy
        self.give_up = give_up
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self.degraded_after_s = degraded_after_s
        self.ledgers: dict[TopicPartition, Ledger] = {}
        self.originals: dict[Token, tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = {}
        self.replay = ReplayFilter()
        self.cycle = Cycle()
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.listener = _Rebalance(self)
        self._last_commit: dict[TopicPartition, Checkpoint] = {}
        self._sources: Counter[str] = Counter()  # enrichment source per document, flushed per cycle

    # --- rebalancing (eager: everything is revoked, then assigned) -------------------
    async def on_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked))
        self.health.assigned = False
        await self.deliver_and_commit()
        self.transformer = self._new_transformer()
        self.ledgers.clear()
        self._last_commit = {}
        self.originals.clear()
        self.replay = ReplayFilter()

    async def on_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
        if assigned:
            for tp, (offset, metadata) in (await self._committed(list(assigned))).items():
                self.replay.set(tp.topic, tp.partition, Checkpoint.parse(offset, metadata))
        self.health.assigned = True

    # --- consuming ----------------------------------------------------------------------
    def _take(self, tp: TopicPartition, msgs: list[Any], now: float) -> None:
        ledger = self.ledgers.get(tp)
        if ledger is None:
            ledger = self.ledgers[tp] = Ledger()
        cyc = self.cycle
        push = self.transformer.push
        originals = self.originals
        self.metrics.records_in.labels(tp.topic).inc(len(msgs))
        taken = 0
        for m in msgs:
            value: bytes = m.value if m.value is not None else b""
            tok = Token(tp.topic, tp.partition, m.offset)
            ledger.add(m.offset)
            headers = list(m.headers or ())
            originals[tok] = (m.key, value, headers)
            taken += len(value)
            outs, dls = push(value, tok, Context(key=m.key, headers=tuple(headers)), now)
            for out in outs:
                self._route(out)
            for dl, t in dls:
                if self.replay.delivered((t,)):
                    self._skip((t,))
                    continue
                cyc.dead.append(dead_letter_from(dl, t, m.key, headers))
                cyc.dead_tokens.append(t)
                self.metrics.dead_lettered.labels(dl.reason.value).inc()
            self.replay.passed(tp.topic, tp.partition, m.offset)
        cyc.records += len(msgs)
        cyc.bytes += taken
        self.metrics.bytes_in.inc(taken)

    def _skip(self, tokens: tuple[Token, ...]) -> None:
        for t in tokens:
            self._done(t)
            self.originals.pop(t, None)
        self.metrics.filtered.labels("replayed_delivered").inc(len(tokens))

    def _route(self, out: Output[Token]) -> None:
        if self.replay.delivered(out.tokens):
            self._skip(out.tokens)
            return
        self._sources[out.source.value] += 1
        first = out.tokens[0]
        doc_id = out.doc_id or f"{first.topic}-{first.partition}-{first.offset}"
        self.cycle.items.append(Item(out.body, out.index, doc_id, out.pod_uid.encode(), out.tokens))

    def _done(self, t: Token) -> None:
        """The ledger may pass ``t``; its original stays until the commit went through,
        so a re-delivered cycle can still dead-letter the record as it was consumed."""
        ledger = self.ledgers.get(TopicPartition(t.topic, t.partition))
        if ledger is not None:
            ledger.done(t.offset)

    async def fill(self) -> None:
        """Consume until the cycle is full, lingered long enough, or we are stopping."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger_s
        while not self.stopping.is_set():
            remaining = deadline - loop.time()
            room = self.max_records - self.cycle.records
            if remaining <= 0 or room <= 0 or self.cycle.bytes >= self.max_bytes:
                break
            batch = await self.consumer.getmany(timeout_ms=max(1, int(remaining * 1000)), max_records=room)
            now = loop.time()
            for tp, msgs in batch.items():
                self._take(tp, msgs, now)
        for out in self.transformer.flush_idle(loop.time()):
            self._route(out)

    # --- delivering -------------------------------------------------------------------
    def _rejected_to_dlq(
        self, rejections: list[Rejection], sink: str, dead: list[DeadLetterRecord], tokens: list[Token]
    ) -> None:
        seen: set[Token] = set(tokens)
        for rej in rejections:
            for t in rej.item.tokens:
                if t in seen:
                    continue
                seen.add(t)
                key, value, headers = self.originals.get(t, (None, rej.item.body, []))
                dead.append(
                    dead_letter_record(
                        key=key,
                        value=value,
                        headers=headers,
                        reason=Reason.SINK_REJECTED.value,
                        detail=f"{sink}: {rej.detail}",
                        token=t,
                    )
                )
                tokens.append(t)

    def _checkpoints(self) -> dict[TopicPartition, Checkpoint]:
        out: dict[TopicPartition, Checkpoint] = {}
        for tp, ledger in self.ledgers.items():
            cp = ledger.checkpoint()
            if cp is not None:
                out[tp] = cp
        return out

    async def _watch_degraded(self) -> None:
        await asyncio.sleep(self.degraded_after_s)
        assigned = list(self.consumer.assignment())
        if assigned:
            self.consumer.pause(*assigned)
        self.health.degraded_reason = "a sink is not acknowledging; partitions paused"
        self.metrics.degraded.set(1)
        log.warning("delivery slower than %.0fs: partitions paused", self.degraded_after_s)

    async def _deliver_once(self, cyc: Cycle) -> int:
        """One attempt: every sink, then dead letters, then offsets, in one transaction.
        Returns how many records a sink rejected for good (now dead-lettered)."""
        await self.txn.begin()
        results = await asyncio.gather(*(s.deliver(cyc.items) for s in self.sinks))
        dead, dead_tokens = list(cyc.dead), list(cyc.dead_tokens)
        for sink, rejections in zip(self.sinks, results, strict=True):
            self._rejected_to_dlq(rejections, sink.name, dead, dead_tokens)
        if dead:
            too_large = await self.txn.send_many(self.dlq_topic, dead)
            if too_large:
                raise DeadLetterTooLarge(
                    f"{len(too_large)} dead letter(s) refused as too large by topic {self.dlq_topic}; "
                    "raise its max.message.bytes — nothing was committed"
                )
        settled = [*dead_tokens, *(t for it in cyc.items for t in it.tokens)]
        for t in settled:
            self._done(t)
        checkpoints = self._checkpoints()
        await self.txn.commit(checkpoints)
        self._last_commit = checkpoints
        for t in settled:
            self.originals.pop(t, None)
        return len(dead) - len(cyc.dead)

    async def deliver_and_commit(self) -> None:
        async with self.lock:
            cyc, self.cycle = self.cycle, Cycle()
            if not self.ledgers:
                return
            if (
                not cyc.records
                and not cyc.items
                and not cyc.dead
                and self._checkpoints() == self._last_commit
            ):
                return  # idle: nothing to deliver, nothing new to commit
            started = time.perf_counter()
            watchdog = asyncio.create_task(self._watch_degraded())

            async def attempt() -> int:
                try:
                    return await self._deliver_once(cyc)
                except ProducerFenced:
                    raise  # another replica owns our transactional.id: not retriable
                except KafkaError as exc:
                    await self.txn.abort()
                    log.warning("transaction aborted (%s); re-delivering the cycle", type(exc).__name__)
                    raise Retriable(type(exc).__name__[:40]) from exc

            try:
                with tracer.start_as_current_span("logbridge.cycle") as span:
                    span.set_attribute("vnbridge.records", cyc.records)
                    span.set_attribute("vnbridge.documents", len(cyc.items))
                    span.set_attribute("vnbridge.dead_letters", len(cyc.dead))
                    rejected = await retrying(
                        attempt,
                        policy=self.policy,
                        give_up=self.give_up,
                        on_retry=lambda code: self.metrics.aborts.labels(code).inc(),
                    )
            finally:
                watchdog.cancel()
                if self.health.degraded_reason:
                    self.consumer.resume(*self.consumer.assignment())
                    self.health.degraded_reason = ""
                    self.metrics.degraded.set(0)
            if rejected:
                self.metrics.dead_lettered.labels(Reason.SINK_REJECTED.value).inc(rejected)
            for sink in self.sinks:
                self.metrics.delivered.labels(sink.name).inc(len(cyc.items))
            for source, n in self._sources.items():
                self.metrics.inventory.labels(source).inc(n)
            self._sources.clear()
            self.metrics.commits.inc()
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
            self.metrics.batch_records.observe(cyc.records)
            self._lag()

    def _lag(self) -> None:
        pending = 0
        for tp, ledger in self.ledgers.items():
            hw = self.consumer.highwater(tp)
            if hw is not None and ledger.next_offset >= 0:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, hw - ledger.next_offset))
            pending += ledger.outstanding
        self.metrics.in_flight_bytes.set(sum(len(v[1]) for v in self.originals.values()) if pending else 0)

    async def run(self) -> None:
        self.health.started = True
        while not self.stopping.is_set():
            await self.fill()
            await self.deliver_and_commit()
        await self.deliver_and_commit()
