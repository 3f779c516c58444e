"""Wire the watch, the cluster state and the publishers into one running service.

Why: ``vnbridge-discovery run`` and ``logbridge run`` (which enriches from the live
API) need the same watch start-up: an API client from a kubeconfig or the service
account, one reflector per kind whose callbacks hop onto the asyncio loop, and a
bounded wait for the first complete sync. Only this module and ``watching`` do I/O
against the Kubernetes API.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from kubernetes import client, config
from prometheus_client import CollectorRegistry

from discovery.httpkit import Auth, http_server
from discovery.publishing import Debouncer, FileSdWriter, TargetsView
from discovery.serving import DiscoveryMetrics, create_app
from discovery.settings import DiscoverySettings, KubeSettings, WatchSettings
from discovery.targeting import NodeSelector, TargetRules
from discovery.tracking import ClusterState, watched_kinds
from discovery.watching import Backoff, Reflector

__all__ = ["LiveWatch", "api_client", "rules_from", "run"]

log = logging.getLogger("vnbridge.discovery")
PATHS = {"pods": "/api/v1/pods", "nodes": "/api/v1/nodes", "namespaces": "/api/v1/namespaces"}


class KubeConfigError(Exception):
    """No usable kubeconfig or service account (not retriable)."""


def api_client(kube: KubeSettings) -> client.ApiClient:
    """An ApiClient from ``kube.kubeconfig``, else $KUBECONFIG/~/.kube/config, else in-cluster."""
    try:
        if kube.kubeconfig is not None:
            return config.new_client_from_config(  # type: ignore[no-untyped-call,no-any-return]
                config_file=str(kube.kubeconfig), context=kube.context or None
            )
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return client.ApiClient()
        return config.new_client_from_config(context=kube.context or None)  # type: ignore[no-untyped-call,no-any-return]
    except (config.ConfigException, OSError) as exc:
        raise KubeConfigError(f"cannot load Kubernetes credentials: {exc}") from exc


def rules_from(settings: DiscoverySettings) -> TargetRules:
    return TargetRules(
        selector=NodeSelector(settings.selector_labels()),
        default_port=settings.metrics_port,
        metrics_path=settings.metrics_path,
        bridge_address=settings.metricsbridge_address,
        bridge_path=settings.metricsbridge_path,
        static_labels=dict(settings.static_labels) if settings.metricsbridge_address else {},
        pod_label_keys=tuple(settings.pod_labels),
    )


class LiveWatch:
    """Reflectors for pods, nodes (and namespaces) feeding a ``ClusterState`` on ``loop``."""

    def __init__(
        self,
        *,
        api: client.ApiClient,
        state: ClusterState,
        watch: WatchSettings,
        on_error: Callable[[str], Callable[[str], None]] | None = None,
    ) -> None:
        self.state = state
        self._api = api
        self._watch = watch
        self._on_error = on_error
        self.reflectors: dict[str, Reflector] = {}

    def start(self, loop: asyncio.AbstractEventLoop, *, only: tuple[str, ...] = ()) -> None:
        """Start one reflector per watched kind (or only the kinds in ``only``; tests use
        it to start the pod reflector before the node reflector). Each runs in its own
        thread, so lists and events arrive in any order across kinds."""

        def hop(fn: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                loop.call_soon_threadsafe(fn, *args)

            return call

        for kind in sorted(self.state.required, key=("nodes", "namespaces", "pods").index):
            if (only and kind not in only) or kind in self.reflectors:
                continue
            on_list, on_event = self.state.handlers(kind)
            reflector = Reflector(
                api=self._api,
                path=PATHS[kind],
                on_list=hop(on_list),
                on_event=hop(on_event),
                page_size=self._watch.page_size,
                watch_timeout_s=self._watch.timeout_s,
                backoff=Backoff(initial_s=self._watch.backoff_initial_s, max_s=self._watch.backoff_max_s),
                on_error=self._on_error(kind) if self._on_error else None,
            )
            self.reflectors[kind] = reflector
            reflector.start()

    async def wait_ready(self, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.state.ready and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return self.state.ready

    def stop(self) -> None:
        for reflector in self.reflectors.values():
            reflector.stop(timeout=2.0)


async def run(settings: DiscoverySettings, *, api: client.ApiClient | None = None) -> None:
    """Run until SIGTERM/SIGINT: watch, publish file_sd and serve http_sd."""
    loop = asyncio.get_running_loop()
    state = ClusterState(
        retention_s=settings.tombstone_retention_s, kinds=watched_kinds(settings.watch.namespaces)
    )
    view = TargetsView(state=state, rules=rules_from(settings))
    metrics = DiscoveryMetrics(CollectorRegistry())
    metrics.watch(state, view)
    writer = (
        FileSdWriter(path=settings.file_sd_path, view=view, shard=settings.shard, shards=settings.shards)
        if settings.file_sd_path
        else None
    )

    def publish() -> None:
        view.refresh()
        if writer is not None and writer.publish():
            metrics.file_writes.inc()

    debouncer = Debouncer(loop=loop, delay_s=settings.debounce_s, action=publish)
    state.listeners.append(debouncer.poke)
    watch = LiveWatch(
        api=api or api_client(settings.kube), state=state, watch=settings.watch, on_error=metrics.error_hook
    )
    watch.start(loop)
    log.info("discovery started: virtual nodes %s", settings.selector_labels())
    try:
        if settings.http_sd.enabled:
            await _serve(settings, view, metrics)
        else:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        debouncer.cancel()
        watch.stop()


async def _serve(settings: DiscoverySettings, view: TargetsView, metrics: DiscoveryMetrics) -> None:
    http = settings.http_sd
    auth = Auth(
        bearer_token=http.bearer_token.get_secret_value(),
        username=http.username,
        password=http.password.get_secret_value(),
    )
    app = create_app(view=view, metrics=metrics, auth=auth)
    await http_server(app, listen=http.listen, tls=http.tls).serve()
