"""Build the streaming service from settings and run it until SIGTERM.

Why: ``logbridge run`` wires the pieces — consumer group, transactional producer,
sinks, inventory (the live Kubernetes watch from ``discovery``), metrics/health
server, tracing — and owns the shutdown contract: SIGTERM stops fetching, the
in-flight cycle is delivered and committed, and the process exits 0 within
``delivery.shutdown_timeout_s`` (giving up leaves the records to be replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import uvicorn
import vnbridge_core
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import TopicPartition

from logbridge.checking import check_elasticsearch, kafka_cause
from logbridge.clients import elasticsearch_client, kafka_kwargs
from logbridge.kafka.fetching import use_decoded_records
from logbridge.kafka.framing import use_chunked_frames
from logbridge.kafka.starting import parse_start, reset_policy
from logbridge.kafka.transactions import Transactions
from logbridge.observing import Health, Metrics, create_app
from logbridge.pipeline import Pipeline
from logbridge.profiles import build
from logbridge.settings import InventorySettings, LogbridgeSettings, run_problems
from logbridge.sinks.contract import Abandoned, Fatal, RetryPolicy, Sink
from logbridge.sinks.file import FileSink
from logbridge.sinks.kafka import KafkaSink
from logbridge.transforming import core_transformer
from vnbridge.clientsettings import WatchSettings
from vnbridge.httpkit import http_server
from vnbridge.inventory import Lookup
from vnbridge.logs import held_back
from vnbridge.podfiles import load_inventory
from vnbridge.tracking import ClusterState, watched_kinds

if TYPE_CHECKING:  # the Kubernetes and Elasticsearch clients load only when configured
    from vnbridge.kube import LiveWatch

__all__ = ["RunError", "c_extensions_loaded", "run", "start_inventory"]

log = logging.getLogger("vnbridge.logbridge")


class RunError(Exception):
    """A setup problem the user must fix (not retriable)."""


def c_extensions_loaded() -> bool:
    """aiokafka ships C record codecs; without them throughput drops several-fold."""
    try:
        from aiokafka.record import _crecords  # noqa: F401
    except ImportError:
        return False
    return True


def _setup_tracing(settings: LogbridgeSettings) -> None:
    if not settings.tracing.enabled:
        return
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if settings.tracing.otlp_endpoint:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError as exc:
            raise RunError("tracing.otlp_endpoint needs: pip install 'vnbridge[otlp]'") from exc
        exporter = OTLPSpanExporter(endpoint=settings.tracing.otlp_endpoint)
    else:
        exporter = ConsoleSpanExporter(out=sys.stderr)
    provider = TracerProvider(resource=Resource.create({"service.name": "vnbridge-logbridge"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


YOUNG_GC_EVERY_S = 1.0


async def quiet_gc() -> None:
    """Every fetched record is a short-lived container object; with the default
    thresholds the cyclic collector ran every 700 of them and took ~15% of the CPU of a
    Kafka→Kafka run, re-scanning the long-lived start-up objects each time. Those are
    frozen out of collection, and young collections run every 50,000 allocations
    (reference counting still frees records at once; only cycles wait). A quiet process
    (a sink outage: retries, few allocations) would rarely reach that count while its
    failed attempts leave cycles holding whole bulk bodies, so young objects are also
    collected every second. Runs until cancelled."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    gc.enable()  # `logbridge run` starts with it off: imports and set-up create no garbage cycles to speak of
    while True:
        await asyncio.sleep(YOUNG_GC_EVERY_S)
        gc.collect(1)


async def start_inventory(inv: InventorySettings) -> tuple[Lookup | None, LiveWatch | None]:
    """The pod metadata ``run`` enriches from: the live watch (waited for, bounded), files,
    or nothing. The cronjob-day benchmark starts exactly this."""
    if inv.source == "none":
        return None, None
    if inv.source == "files":
        if inv.pods_path is None:
            raise RunError("inventory.source files needs inventory.pods_path")
        return load_inventory(inv.pods_path, retention_s=inv.tombstone_retention_s), None
    from vnbridge.checking import answering_api
    from vnbridge.kube import KubeConfigError, LiveWatch

    try:
        api = await answering_api(inv.kube)
    except KubeConfigError as exc:
        raise RunError(f"inventory.kube: {exc}") from None
    state = ClusterState(retention_s=inv.tombstone_retention_s, kinds=watched_kinds(inv.watch_namespaces))
    watch = LiveWatch(api=api, state=state, watch=WatchSettings(namespaces=inv.watch_namespaces))
    watch.start(asyncio.get_running_loop())
    if not await watch.wait_ready(inv.sync_timeout_s):
        log.warning("no complete pod list after %.0fs; enriching from what arrives", inv.sync_timeout_s)
    return state, watch


def _sinks(
    settings: LogbridgeSettings, txn: Transactions, policy: RetryPolicy, give_up: asyncio.Event, m: Metrics
) -> list[Sink]:
    out: list[Sink] = []
    cfg = settings.sinks
    if cfg.elasticsearch.enabled:
        from logbridge.sinks.elastic import ElasticsearchSink

        out.append(
            ElasticsearchSink(
                client=elasticsearch_client(settings.elasticsearch),
                policy=policy,
                give_up=give_up,
                on_retry=lambda code: m.sink_retries.labels("elasticsearch", code).inc(),
                max_docs=cfg.elasticsearch.batch_docs,
                max_bytes=cfg.elasticsearch.batch_bytes,
                concurrency=cfg.elasticsearch.concurrency,
            )
        )
    if cfg.kafka.enabled:
        out.append(KafkaSink(txn=txn, topic=cfg.kafka.topic))
    if cfg.file.enabled:
        out.append(FileSink(path=cfg.file.path))
    return out


async def run(settings: LogbridgeSettings, *, registry_metrics: Metrics | None = None) -> None:
    if problems := run_problems(settings):
        raise RunError("; ".join(problems))
    _setup_tracing(settings)
    metrics = registry_metrics or Metrics()
    c_ext = c_extensions_loaded()
    metrics.c_extensions.set(int(c_ext))
    if not c_ext:
        log.warning("aiokafka C extensions are not loaded: expect several times lower throughput")
    health = Health()
    give_up = asyncio.Event()
    d = settings.delivery
    policy = RetryPolicy(initial_s=d.retry_initial_s, max_s=d.retry_max_s)
    kafka = kafka_kwargs(settings.kafka)
    group = settings.source.group_id
    lookup, watch = await start_inventory(settings.inventory)
    profile = build(settings.profile.name, settings.profile.options)
    for line in settings.profile.unsupported:
        log.warning("profile.config_file %s: %s", settings.profile.config_file, line)
    assembly = settings.core_assembly()

    def transformer() -> vnbridge_core.Transformer:
        return core_transformer(profile=profile, lookup=lookup, **assembly)

    txn = Transactions(
        kafka=kafka, transactional_id=d.transactional_id or f"{group}-{socket.gethostname()}", group_id=group
    )
    sinks = _sinks(settings, txn, policy, give_up, metrics)
    admin = AIOKafkaAdminClient(**kafka)
    start = parse_start(settings.source.start, now_s=time.time())  # resolved once per run
    use_decoded_records()  # the core reads offset/key/value/headers: no ConsumerRecord per record
    use_chunked_frames()  # frames read and produce requests written without copying batches again
    consumer = AIOKafkaConsumer(
        **kafka,
        check_crcs=settings.source.check_crcs,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset=reset_policy(start),  # fresh partitions, or a committed offset out of range
        isolation_level="read_committed",
        max_poll_interval_ms=d.max_poll_interval_s * 1000,
        max_partition_fetch_bytes=min(d.batch_max_bytes, 4 * 1024 * 1024),
        fetch_max_bytes=d.batch_max_bytes,
    )

    async def committed(parts: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
        offsets = await admin.list_consumer_group_offsets(group, partitions=list(parts))
        return {tp: (om.offset, om.metadata or "") for tp, om in offsets.items() if om.offset >= 0}

    pipeline = Pipeline(
        consumer=consumer,
        txn=txn,
        sinks=sinks,
        transformer_factory=transformer,
        dead_letter_topic=d.dead_letter_topic,
        group_id=group,
        committed=committed,
        metrics=metrics,
        health=health,
        policy=policy,
        give_up=give_up,
        max_records=d.batch_max_records,
        max_bytes=d.batch_max_bytes,
        linger_s=d.linger_ms / 1000,
        degraded_after_s=d.degraded_after_s,
        bulk_action=profile.bulk_action,
        start=start,
        progress_every_s=settings.source.progress_every_s,
    )
    if isinstance(lookup, ClusterState):
        from vnbridge.kube import WatchCollector  # loaded with the live watch

        # live joins: a changed pod (node, namespace) is rendered again on its next record
        lookup.pod_listeners.append(pipeline.inventory_changed)
        health.inventory = lookup.not_ready
        metrics.registry.register(WatchCollector(lookup, "vnbridge_logbridge"))
    loop = asyncio.get_running_loop()
    collecting = asyncio.create_task(quiet_gc())

    def on_signal() -> None:
        log.info("stopping: draining the current cycle")
        health.stopping = True
        pipeline.stopping.set()
        loop.call_later(d.shutdown_timeout_s, give_up.set)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    server = _http_server(settings, metrics, health)
    serving = asyncio.create_task(server.serve()) if server else None
    started: list[Any] = []
    try:
        await _reach_elasticsearch(settings)
        with kafka_cause(silence=True) as causes:
            try:
                for part in (admin, txn, *sinks):
                    await part.start()
                    started.append(part)
                consumer.subscribe(settings.source.topics, listener=pipeline.listener)
                await consumer.start()
            except KafkaConnectionError as exc:
                cause = " ".join((causes[-1] if causes else str(exc)).split())
                raise RunError(
                    f"cannot reach Kafka at {settings.kafka.bootstrap_servers} ({cause}); check "
                    "kafka.bootstrap_servers, kafka.security_protocol / tls / sasl and that the brokers "
                    "are up"
                ) from None
        log.info("consuming %s as group %s into %s", settings.source.topics, group, [s.name for s in sinks])
        await pipeline.run()
    except Abandoned:
        log.warning("shutdown timeout: undelivered records stay uncommitted and will be replayed")
    except Fatal:
        health.stopping = True  # readiness false at once; the open transaction is aborted below
        raise
    finally:
        collecting.cancel()
        with contextlib.suppress(Exception):
            await txn.abort()
        await consumer.stop()
        for part in reversed(started):
            with contextlib.suppress(Exception):
                await part.close()
        if watch is not None:
            watch.stop()
        if server is not None and serving is not None:
            server.should_exit = True
            await serving


def dump_tasks() -> None:
    """SIGUSR1: every asyncio task and where it waits, to the log (Fluent Bit's SIGCONT
    dump, for a replica that seems stuck)."""
    for task in asyncio.all_tasks():
        chain: list[str] = []
        aw: Any = task.get_coro()
        while aw is not None and len(chain) < 24:  # the await chain, outermost first
            frame = getattr(aw, "cr_frame", None) or getattr(aw, "gi_frame", None)
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            aw = getattr(aw, "cr_await", None) or getattr(aw, "gi_yieldfrom", None)
        log.warning("task %s: %s", task.get_name(), " -> ".join(chain) or "(running)")


async def _reach_elasticsearch(settings: LogbridgeSettings) -> None:
    """An Elasticsearch sink that cannot be reached, or refuses the credentials, at start
    is a setup problem: one line with the cause and the fix (exit 2), not a silent retry
    loop. Later outages are retried with the partitions paused."""
    if not settings.sinks.elasticsearch.enabled:
        return
    with held_back("elastic_transport"):  # its per-node warnings would say the same line again
        found = await check_elasticsearch(settings.elasticsearch)
    if not (found.ok or found.usable):
        raise RunError(f"{found.endpoint}: {found.detail}")


def _http_server(settings: LogbridgeSettings, metrics: Metrics, health: Health) -> uvicorn.Server | None:
    if not settings.http.enabled:
        return None
    server = http_server(
        create_app(metrics=metrics, health=health), listen=settings.http.listen, tls=settings.http.tls
    )
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # ours
    return server
