"""The consume → transform → deliver → commit cycle of ``logbridge run``.

Why: this is where the delivery contract (docs/architecture.md §6) is kept. A cycle consumes up
to a bounded number of records/bytes (the in-flight bound), hands each fetched
partition batch to the core as it is (documents, dead letters and held offsets come
back as columns), hands the documents to every sink at once, writes dead letters,
then commits the consumer offsets *inside the same Kafka transaction* as the sink
and dead-letter records. While a sink is retrying nothing more is fetched and the
partitions are paused, so memory stays bounded; a failed transaction is aborted and
the cycle re-delivered (Elasticsearch dedups by _id). Offsets are ranges: what a
partition consumed, less what the core still holds, so a committed offset never
passes a record some sink has not acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import vnbridge_core
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    ProducerFenced,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.structs import TopicPartition
from opentelemetry import trace

from logbridge.kafka.consumed import Consumed
from logbridge.kafka.offsets import Checkpoint, Token, checkpoint
from logbridge.kafka.starting import Start, place_fresh
from logbridge.kafka.transactions import (
    DeadLetterRecord,
    DeadLetterTooLarge,
    Transactions,
    dead_letter_record,
)
from logbridge.observing import Health, Metrics
from logbridge.progress import Progress
from logbridge.records import Reason
from logbridge.sinks.contract import Documents, Fatal, Rejection, Retriable, RetryPolicy, Sink, retrying
from logbridge.transforming import SOURCES

__all__ = ["Cycle", "Pipeline"]

EARLIEST = Start("earliest")

if TYPE_CHECKING:
    from vnbridge_core import KafkaRecord as Record

log = logging.getLogger("vnbridge.logbridge")
# Kafka refusals that a retry cannot mend: the principal lacks an ACL
_DENIED = (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
tracer = trace.get_tracer("vnbridge.logbridge")


@dataclass(slots=True)
class Cycle:
    docs: Documents
    dead: list[DeadLetterRecord] = field(default_factory=list)
    dead_tokens: set[Token] = field(default_factory=set)
    records: int = 0
    bytes: int = 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline) -> None:
        self._p = pipeline

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._p.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._p.on_assigned(assigned)


# reads the group's committed (offset, metadata) for the partitions just assigned
CommittedReader = Callable[[Sequence[TopicPartition]], Awaitable[dict[TopicPartition, tuple[int, str]]]]


class Pipeline:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        txn: Transactions,
        sinks: list[Sink],
        transformer_factory: Callable[[], vnbridge_core.Transformer],
        dead_letter_topic: str,
        group_id: str,
        committed: CommittedReader,
        metrics: Metrics,
        health: Health,
        policy: RetryPolicy,
        give_up: asyncio.Event,
        max_records: int = 5000,
        max_bytes: int = 16 * 1024 * 1024,
        linger_s: float = 0.2,
        degraded_after_s: float = 5.0,
        bulk_action: str = "create",
        start: Start = EARLIEST,
        progress_every_s: float = 10.0,
    ) -> None:
        self.consumer = consumer
        self.txn = txn
        self.sinks = sinks
        self._new_transformer = transformer_factory
        self.core: vnbridge_core.Transformer = transformer_factory()
        self.dlq_topic = dead_letter_topic
        self.group_id = group_id
        self._committed = committed
        self.metrics = metrics
        self.health = health
        self.policy = policy
        self.give_up = give_up
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self.degraded_after_s = degraded_after_s
        self.parts: dict[str, Consumed] = {}
        self._actions = any(s.uses_actions for s in sinks)
        self._keys = any(s.uses_keys for s in sinks)
        self._bodies = any(s.uses_bodies for s in sinks)
        self._bulk_action = bulk_action
        self.cycle = self._new_cycle()
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.listener = _Rebalance(self)
        self._last_commit: dict[TopicPartition, Checkpoint] = {}
        self._sources: Counter[int] = Counter()  # enrichment source per document, flushed per cycle
        self._stale: set[tuple[str, str]] = set()  # pods the inventory changed since the last fill
        self._stale_all = False
        self.start = start
        self._placed = asyncio.Event()  # fill() fetches only once the assignment is placed
        self.progress = Progress(every_s=progress_every_s, backlog_over=max_records)
        self._consumed = 0  # records since start, for the progress report

    def _new_cycle(self) -> Cycle:
        return Cycle(
            Documents(actions=self._actions, keys=self._keys, bodies=self._bodies, op=self._bulk_action)
        )

    # --- the inventory changed: the core renders those pods' fragments again ---------
    def inventory_changed(self, pod: tuple[str, str] | None) -> None:
        """A pod changed, or (None) anything may have: lists, nodes, namespaces. Applied
        at the start of the next fill (the core is not touched from the watch)."""
        if pod is None:
            self._stale_all = True
        else:
            self._stale.add(pod)

    def _invalidate(self) -> None:
        stale, self._stale = self._stale, set()
        if self._stale_all:
            self._stale_all = False
            self.core.invalidate_all()
            return
        for namespace, name in stale:
            self.core.invalidate(namespace, name)

    # --- rebalancing (eager: everything is revoked, then assigned) -------------------
    @staticmethod
    def source_of(tp: TopicPartition) -> str:
        return f"{tp.topic}-{tp.partition}"

    async def on_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked))
        self._placed.clear()
        self.health.assigned = False
        self.metrics.assigned_partitions.set(0)
        await self.deliver_and_commit()
        self.core = self._new_transformer()  # held fragments are re-read from the commit
        self.parts.clear()
        self._last_commit = {}

    async def on_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
        try:
            await self._place(assigned)
        finally:
            self._placed.set()  # fetching goes on whatever happened here

    async def _place(self, assigned: Sequence[TopicPartition]) -> None:
        if assigned:
            committed = await self._committed(list(assigned))
            for tp, (offset, metadata) in committed.items():
                cp = Checkpoint.parse(offset, metadata)
                if cp.mark > cp.offset:
                    self.core.set_replay(self.source_of(tp), cp.mark, list(cp.held))
            await self._start_fresh([tp for tp in assigned if tp not in committed])
        self.metrics.assigned_partitions.set(len(assigned))
        self.health.assigned = True

    async def _start_fresh(self, fresh: Sequence[TopicPartition]) -> None:
        """Partitions the group never committed start where ``source.start`` says; that
        offset is committed with the next cycle, so a restart resumes there."""
        for tp, offset in sorted((await place_fresh(self.consumer, fresh, self.start)).items()):
            source = self.source_of(tp)
            part = self.parts.setdefault(source, Consumed(tp, source))
            part.next_offset = max(part.next_offset, offset)
            log.info(
                "partition %s/%d has no committed offset: starting at offset %d (source.start %s)",
                tp.topic,
                tp.partition,
                offset,
                self.start.describe(),
            )

    # --- consuming ----------------------------------------------------------------------
    def _take(self, tp: TopicPartition, msgs: Sequence[Record], now: float) -> None:
        source = self.source_of(tp)
        part = self.parts.get(source)
        if part is None:
            part = self.parts[source] = Consumed(tp, source)
        batch = self.core.push_records(source, msgs, now)
        part.next_offset = max(part.next_offset, msgs[-1].offset + 1)
        part.retained.append((msgs, batch.bytes_in))
        cyc = self.cycle
        cyc.records += len(msgs)
        self._consumed += len(msgs)
        cyc.bytes += batch.bytes_in
        self.metrics.records_in.labels(tp.topic).inc(len(msgs))
        self.metrics.bytes_in.inc(batch.bytes_in)
        self._add(batch)

    def _add(self, batch: vnbridge_core.Batch) -> None:
        """Documents into the cycle, dead letters with their originals."""
        cyc = self.cycle
        cyc.docs.add(batch)
        self._sources.update(batch.sources())
        if batch.replayed:
            self.metrics.filtered.labels("replayed_delivered").inc(batch.replayed)
        if batch.excluded:
            self.metrics.filtered.labels("excluded").inc(batch.excluded)
        if batch.truncated:
            self.metrics.truncated.inc(batch.truncated)
        for source, offset, reason, detail in batch.dead():
            self._dead_letter(source, offset, reason, detail, cyc.dead, cyc.dead_tokens)
            self.metrics.dead_lettered.labels(reason).inc()

    def _dead_letter(
        self,
        source: str,
        offset: int,
        reason: str,
        detail: str,
        dead: list[DeadLetterRecord],
        tokens: set[Token],
    ) -> None:
        part = self.parts[source]
        token = Token(part.tp.topic, part.tp.partition, offset)
        if token in tokens:
            return
        tokens.add(token)
        rec = part.original(offset)
        key, value, headers = (
            (None, b"", []) if rec is None else (rec.key, rec.value or b"", list(rec.headers or ()))
        )
        dead.append(
            dead_letter_record(
                key=key, value=value, headers=headers, reason=reason, detail=detail, token=token
            )
        )

    async def fill(self) -> None:
        """Consume until the cycle is full, lingered long enough, or we are stopping."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger_s
        if self._stale or self._stale_all:
            self._invalidate()
        while not self.stopping.is_set():
            remaining = deadline - loop.time()
            room = self.max_records - self.cycle.records
            if remaining <= 0 or room <= 0 or self.cycle.bytes >= self.max_bytes:
                break
            if not self._placed.is_set():  # a rebalance listener is still placing partitions
                try:
                    await asyncio.wait_for(self._placed.wait(), remaining)
                except TimeoutError:
                    break
                continue
            batch = await self.consumer.getmany(timeout_ms=max(1, int(remaining * 1000)), max_records=room)
            now = loop.time()
            for tp, msgs in batch.items():
                if msgs:
                    self._take(tp, msgs, now)
        if self.parts:
            self._add(self.core.flush_idle(loop.time()))

    # --- delivering -------------------------------------------------------------------
    def _rejected_to_dlq(
        self,
        docs: Documents,
        rejections: list[Rejection],
        sink: str,
        dead: list[DeadLetterRecord],
        tokens: set[Token],
    ) -> None:
        for rej in rejections:
            for source, offset in docs.tokens(rej.doc):
                self._dead_letter(
                    source, offset, Reason.SINK_REJECTED.value, f"{sink}: {rej.detail}", dead, tokens
                )

    def _checkpoints(self) -> dict[TopicPartition, Checkpoint]:
        out: dict[TopicPartition, Checkpoint] = {}
        for part in self.parts.values():
            cp = checkpoint(part.next_offset, self.core.held(part.source))
            if cp is not None:
                out[part.tp] = cp
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
        results = await asyncio.gather(*(s.deliver(cyc.docs) for s in self.sinks))
        dead, dead_tokens = list(cyc.dead), set(cyc.dead_tokens)
        for sink, rejections in zip(self.sinks, results, strict=True):
            self._rejected_to_dlq(cyc.docs, rejections, sink.name, dead, dead_tokens)
        if dead:
            too_large = await self.txn.send_many(self.dlq_topic, dead)
            if too_large:
                raise DeadLetterTooLarge(
                    f"{len(too_large)} dead letter(s) refused as too large by topic {self.dlq_topic}; "
                    "raise its max.message.bytes — nothing was committed"
                )
        checkpoints = self._checkpoints()
        await self.txn.commit(checkpoints)
        self._last_commit = checkpoints
        for part in self.parts.values():
            cp = checkpoints.get(part.tp)
            if cp is not None:
                part.release(cp.offset)
        return len(dead) - len(cyc.dead)

    async def deliver_and_commit(self) -> None:
        async with self.lock:
            cyc, self.cycle = self.cycle, self._new_cycle()
            if not self.parts:
                return
            if (
                not cyc.records
                and not len(cyc.docs)
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
                    raise Fatal(
                        "another process took over transactional_id "
                        f"{self.txn.transactional_id!r} (producer fenced); give each replica its own "
                        "delivery.transactional_id (the default: <group>-<hostname>)"
                    ) from None
                except _DENIED as exc:
                    raise Fatal(
                        f"kafka denied this principal ({type(exc).__name__}); grant it the ACLs in "
                        "docs/operations.md (read the source topics and group, write the sink and "
                        "dead-letter topics, the transactional id)"
                    ) from None
                except KafkaError as exc:
                    await self.txn.abort()
                    log.warning("transaction aborted (%s); re-delivering the cycle", type(exc).__name__)
                    raise Retriable(type(exc).__name__[:40]) from exc

            try:
                with tracer.start_as_current_span("logbridge.cycle") as span:
                    span.set_attribute("vnbridge.records", cyc.records)
                    span.set_attribute("vnbridge.documents", len(cyc.docs))
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
                self.metrics.delivered.labels(sink.name).inc(len(cyc.docs))
            for source, n in self._sources.items():
                self.metrics.inventory.labels(SOURCES[source].value).inc(n)
            self._sources.clear()
            self.metrics.commits.inc()
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
            self.metrics.batch_records.observe(cyc.records)
            self._lag()

    def _lag(self) -> None:
        total = 0
        for part in self.parts.values():
            hw = self.consumer.highwater(part.tp)
            if hw is not None and part.next_offset >= 0:
                lag = max(0, hw - part.next_offset)
                total += lag
                self.metrics.lag.labels(part.tp.topic, str(part.tp.partition)).set(lag)
        self.metrics.in_flight_bytes.set(sum(p.retained_bytes for p in self.parts.values()))
        report = self.progress.observe(records=self._consumed, lag=total, now=time.monotonic())
        self.metrics.backlog.set(report.lag)
        self.metrics.consume_rate.set(report.rate)
        self.metrics.catchup_eta.set(float("nan") if report.eta_s is None else report.eta_s)
        if report.message:
            log.info("%s", report.message)

    async def run(self) -> None:
        self.health.started = True
        while not self.stopping.is_set():
            await self.fill()
            await self.deliver_and_commit()
        await self.deliver_and_commit()
