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
        static_labels=dict(settings.static_labels) if settings.metricsbridge_address else {},
        pod_label_keys=tuple(settings.pod_labels),
    )


async def run(settings: DiscoverySettings, *, api: client.ApiClient | None = None) -> None:
    """Run until SIGTERM/SIGINT: watch, publish file_sd and serve http_sd."""
    loop = asyncio.get_running_loop()
    # the reflector threads parse JSON and the target build runs in a worker thread: the
    # loop (http_sd requests) gets the GIL back every millisecond instead of every five
    sys.setswitchinterval(0.001)
    state = ClusterState(
        retention_s=settings.tombstone_retention_s, kinds=watched_kinds(settings.watch.namespaces)
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
    freezing = loop.create_task(_freeze_after_sync(watch))
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


async def _freeze_after_sync(watch: LiveWatch) -> None:
    """Once the first lists are in, move everything alive (modules, clients, the listed
    inventory) out of the cyclic collector's reach: its full collections then scan only
    what came after, and stop pausing the loop for tens of milliseconds in a burst."""
    while not await watch.wait_ready(60.0):
        pass
    gc.collect()
    gc.freeze()


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
