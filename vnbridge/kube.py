"""The live Kubernetes watch every service stands on: an API client from a kubeconfig
or the service account, one reflector per kind whose callbacks hop onto the asyncio
loop, and a bounded wait for the first complete sync.

Why: discovery publishes targets from it, logbridge enriches from it and metricsbridge
allows probes from it; the start-up must be the same in all three. Only this module
and ``watching`` do I/O against the Kubernetes API.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kubernetes import client, config
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vnbridge.clientsettings import KubeSettings, WatchSettings
from vnbridge.tracking import ClusterState
from vnbridge.watching import Backoff, Reflector

__all__ = ["PATHS", "Inbox", "KubeConfigError", "LiveWatch", "WatchCollector", "api_client"]

PATHS = {
    "pods": "/api/v1/pods",
    "nodes": "/api/v1/nodes",
    "namespaces": "/api/v1/namespaces",
    # Tencent's cluster-wide pod annotation defaults (one ConfigMap, by field selector)
    "eks-config": "/api/v1/namespaces/kube-system/configmaps",
}
SELECTORS = {"eks-config": "metadata.name=eks-config"}


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
        where = str(kube.kubeconfig) if kube.kubeconfig is not None else "$KUBECONFIG / ~/.kube/config"
        reason = " ".join(str(exc).split())
        raise KubeConfigError(
            f"cannot load Kubernetes credentials from {where} ({reason}); set kubeconfig to a readable "
            "kubeconfig file, or leave it unset in a pod to use its service account"
        ) from None


class Inbox:
    """Lists and events from the reflector threads, applied on the loop in slices.

    Why: a burst (5,000 CronJob pods starting at midnight) would otherwise queue one
    loop callback per event, all run before the loop next looks at its sockets, and
    every http_sd / probe / health request waits behind them. Here at most ``slice_n``
    (and at most ``slice_s`` seconds' worth) are applied per loop iteration, in arrival
    order, and I/O is served in between: a request needs several loop iterations, so
    the slice bounds what each of them adds.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, slice_n: int = 256, slice_s: float = 0.002
    ) -> None:
        self._loop = loop
        self._slice = slice_n
        self._budget = slice_s
        self._queue: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, fn: Callable[..., None], *args: Any) -> None:
        """From any thread: apply ``fn(*args)`` on the loop, after everything put before."""
        self._queue.append((fn, args))
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        deadline = time.perf_counter() + self._budget
        try:
            for _ in range(self._slice):
                if not self._queue:
                    break
                fn, args = self._queue.popleft()
                fn(*args)  # an error propagates to the loop's handler (logged); the rest still runs
                if time.perf_counter() >= deadline:
                    break
        finally:
            with self._lock:
                more = bool(self._queue)
                if not more:
                    self._scheduled = False
            if more:
                self._loop.call_soon(self._drain)  # next iteration: sockets are polled first


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
        self._inbox: Inbox | None = None  # one for all kinds: arrival order is kept

    def start(self, loop: asyncio.AbstractEventLoop, *, only: tuple[str, ...] = ()) -> None:
        """Start one reflector per watched kind (or only the kinds in ``only``; tests use
        it to start the pod reflector before the node reflector). Each runs in its own
        thread, so lists and events arrive in any order across kinds."""

        inbox = self._inbox = self._inbox or Inbox(loop)

        def hop(fn: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                inbox.put(fn, *args)

            return call

        for kind in sorted(self.state.required, key=("nodes", "namespaces", "eks-config", "pods").index):
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
                on_status=hop(lambda status, kind=kind: self.state.watch_status(kind, status)),
                denied_retry_s=self._watch.denied_retry_s,
                field_selector=SELECTORS.get(kind, ""),
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


class WatchCollector(Collector):
    """``<prefix>_watch_refused{resource}``: the HTTP status (401, 403, 404) the API server
    refuses a watched kind with, 0 while it answers. Registered by each service."""

    def __init__(self, state: ClusterState, prefix: str) -> None:
        self._state = state
        self._name = f"{prefix}_watch_refused"

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily(
            self._name,
            "HTTP status the Kubernetes API refuses this kind with (0 = answering); readiness is "
            "false while non-zero.",
            labels=["resource"],
        )
        for kind in sorted(self._state.required):
            family.add_metric([kind], self._state.failing.get(kind, 0))
        yield family


class ApiHttp:
    """The API server as a plain HTTPS endpoint (its node proxy serves the kubelets'
    metrics to the node-proxy presets), with the ApiClient's own TLS and credentials:
    the CA, a client certificate, and a bearer token read on every request (a projected
    service-account token is rotated under us)."""

    def __init__(self, api: client.ApiClient) -> None:
        import ssl

        import httpx

        cfg = api.configuration
        self.base = str(cfg.host).rstrip("/")
        verify: ssl.SSLContext | bool = bool(cfg.verify_ssl)
        if cfg.verify_ssl:
            ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
            if cfg.cert_file and cfg.key_file:
                ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
            verify = ctx
        self._cfg = cfg
        self.client = httpx.AsyncClient(verify=verify, follow_redirects=False, trust_env=False)

    def headers(self) -> dict[str, str]:
        """The Authorization header the ApiClient would send now, if any."""
        auth = self._cfg.auth_settings().get("BearerToken") or {}
        value = auth.get("value")
        return {"Authorization": str(value)} if value else {}

    def node_url(self, node: str, path: str) -> str:
        from urllib.parse import quote

        return f"{self.base}/api/v1/nodes/{quote(node, safe='')}/proxy{path}"

    async def aclose(self) -> None:
        await self.client.aclose()
