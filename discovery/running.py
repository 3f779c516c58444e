"""Wire the live watch, the cluster state and the publishers into one running service.

Why: ``vnbridge-discovery run`` is the live watch (the shared kernel's) plus target
publishing: file_sd on change, http_sd on request, both from one ``TargetsView``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import time

from kubernetes import client
from prometheus_client import CollectorRegistry

from discovery.publishing import Debouncer, FileSdWriter, TargetsView
from discovery.serving import DiscoveryMetrics, create_app
from discovery.settings import DiscoverySettings
from discovery.targeting import TargetRules
from vnbridge.checking import answering_api
from vnbridge.exporters import ExporterRule
from vnbridge.httpkit import Auth, http_server
from vnbridge.kube import LiveWatch
from vnbridge.tracking import ClusterState, watched_kinds

__all__ = ["rules_from", "run"]

log = logging.getLogger("vnbridge.discovery")


def rules_from(settings: DiscoverySettings) -> TargetRules:
    return TargetRules(
        exporter=ExporterRule.from_settings(settings.targets),
        labels=settings.targets.labels,
        bridge_address=settings.metricsbridge_address,
        bridge_path=settings.metricsbridge_path,
        bridge_scheme=settings.metricsbridge_scheme,
        static_labels=dict(settings.static_labels) if settings.metricsbridge_address else {},
        pod_label_keys=tuple(settings.pod_labels),
        api_server=settings.api_server_address,
    )


async def run(settings: DiscoverySettings, *, api: client.ApiClient | None = None) -> None:
    """Run until SIGTERM/SIGINT: watch, publish file_sd and serve http_sd."""
    loop = asyncio.get_running_loop()
    # the reflector threads parse JSON and the target build runs in a worker thread: the
    # loop (http_sd requests) gets the GIL back every millisecond instead of every five
    sys.setswitchinterval(0.001)
    state = ClusterState(
        retention_s=settings.tombstone_retention_s,
        kinds=watched_kinds(settings.watch.namespaces, settings.targets.endpoint().cluster_defaults),
    )
    view = TargetsView(state=state, rules=rules_from(settings), background=True)
    metrics = DiscoveryMetrics(CollectorRegistry())
    metrics.watch(state, view)
    writer = (
        FileSdWriter(path=settings.file_sd_path, view=view, shard=settings.shard, shards=settings.shards)
        if settings.file_sd_path
        else None
    )

    publishing: asyncio.Task[None] | None = None

    async def publish() -> None:
        await view.refresh_off_loop()
        if writer is not None and writer.publish():
            metrics.file_writes.inc()

    def start_publish() -> None:
        nonlocal publishing
        if publishing is not None and not publishing.done():
            debouncer.poke()  # one build at a time; the changes meanwhile get the next one
            return
        publishing = loop.create_task(publish())
        publishing.add_done_callback(_report)

    debouncer = Debouncer(loop=loop, delay_s=settings.debounce_s, action=start_publish)
    state.listeners.append(debouncer.poke)
    watch = LiveWatch(
        api=api or await answering_api(settings.kube),
        state=state,
        watch=settings.watch,
        on_error=metrics.error_hook,
    )
    watch.start(loop)
    freezing = loop.create_task(_keep_collections_short(watch, state))
    log.info("discovery started: virtual nodes %s", settings.targets.selector_labels())
    try:
        if settings.http_sd.enabled:
            await _serve(settings, view, metrics)
        else:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        freezing.cancel()
        debouncer.cancel()
        watch.stop()


FULL_EVERY_S = 600.0  # a full cyclic collection at most this often ...
QUIET_S = 5.0  # ... once no pod, node or namespace has changed for this long


async def _keep_collections_short(watch: LiveWatch, state: ClusterState) -> None:
    """Keep the cyclic collector's pauses out of pod bursts.

    A collection holds the GIL while it walks every object it tracks, and a midnight
    burst of CronJob pods adds ~10^6 objects that live for minutes and hold almost no
    cycles (full collections in such a burst took 20-90 ms each and freed nothing),
    so http_sd answers waited on them. Once the first lists are in, and then every
    second, what is alive is frozen out of the collector's reach (``gc.freeze`` is a
    list splice): a collection walks at most one second of allocations, and the oldest
    generation's own collections are pushed past a burst (1,000 middle ones, ~7 million
    allocations, instead of 10). Cycles among
    frozen objects wait for the full collection, which runs every ``FULL_EVERY_S``
    while the cluster has been quiet for ``QUIET_S`` (at the latest after another
    ``FULL_EVERY_S``)."""
    last_change = [time.monotonic()]
    state.listeners.append(lambda: last_change.__setitem__(0, time.monotonic()))
    while not await watch.wait_ready(60.0):
        pass
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 1_000)
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(1.0)
        now = time.monotonic()
        if full_collection_due(now=now, last_full=last_full, last_change=last_change[0]):
            gc.unfreeze()
            gc.collect()
            last_full = now
        gc.freeze()


def full_collection_due(*, now: float, last_full: float, last_change: float) -> bool:
    """Every ``FULL_EVERY_S`` once the cluster has been quiet for ``QUIET_S``; a cluster
    that never rests gets one after ``2 * FULL_EVERY_S`` all the same."""
    since_full = now - last_full
    return since_full >= FULL_EVERY_S and (now - last_change >= QUIET_S or since_full >= 2 * FULL_EVERY_S)


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("publishing the targets failed (retried on the next change): %r", exc)


async def _serve(settings: DiscoverySettings, view: TargetsView, metrics: DiscoveryMetrics) -> None:
    http = settings.http_sd
    auth = Auth(
        bearer_token=http.bearer_token.get_secret_value(),
        username=http.username,
        password=http.password.get_secret_value(),
    )
    app = create_app(view=view, metrics=metrics, auth=auth)
    await http_server(app, listen=http.listen, tls=http.tls).serve()
