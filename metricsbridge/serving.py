"""metricsbridge's HTTP surface: ``/probe`` plus its own ``/metrics``, ``/healthz``, ``/readyz``.

Why: Prometheus scrapes ``/probe?target=<podIP:port>`` (the blackbox_exporter
multi-target pattern) and gets the sandbox's metrics in the kubelet/cAdvisor shape.
Anything that is not a current inventory endpoint gets 403; sandbox failures answer
502/504 so the target shows ``up`` = 0, like any failed scrape.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from fastapi import FastAPI, Query, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from metricsbridge.exposition import OPENMETRICS, TEXT
from metricsbridge.probing import AllowList, FetchError, Target, fetch, scrape_timeout
from metricsbridge.translating import Translation, translate_node, translate_text
from vnbridge.httpkit import Auth, add_health_routes
from vnbridge.kube import ApiHttp
from vnbridge.tracking import ClusterState

__all__ = ["BridgeMetrics", "create_app"]


class BridgeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "vnbridge_metricsbridge_"
        self.probes = Counter(f"{p}probes", "Probes by result.", ["result"], registry=r)
        self.dropped = Counter(f"{p}series_dropped", "Sandbox series not translated.", ["reason"], registry=r)
        self.series = Counter(f"{p}series_out", "Translated series served.", registry=r)
        self.parse_errors = Counter(f"{p}parse_errors", "Malformed exposition lines skipped.", registry=r)
        self.seconds = Histogram(
            f"{p}translate_seconds",
            "Parse + translate + render time per probe.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=r,
        )
        self.allowed = Gauge(f"{p}allowed_targets", "Exporter addresses currently allowed.", registry=r)
        self.conflicts = Gauge(
            f"{p}address_conflicts",
            "Exporter addresses claimed by more than one Running pod (allowed for the newest pod); "
            "non-zero means the API shows a stale pod Running.",
            registry=r,
        )
        self.watch_errors = Counter(
            f"{p}watch_errors",
            "List/watch failures by resource and error_code (as vnbridge_discovery_watch_errors_total): "
            "the allow-list lags the pods while they grow.",
            ["resource", "error_code"],
            registry=r,
        )

    def error_hook(self, resource: str) -> Callable[[str], None]:
        return lambda code: self.watch_errors.labels(resource, code).inc()


def create_app(
    *,
    state: ClusterState,
    allow: AllowList,
    client: httpx.AsyncClient,
    metrics: BridgeMetrics,
    default_timeout_s: float,
    scheme: str = "http",
    auth: Auth | None = None,
    clock: Callable[[], float] = time.perf_counter,
    api: ApiHttp | None = None,
    pass_vm: bool = False,
) -> FastAPI:
    """``auth`` (bearer token) guards /probe and /metrics; /healthz and /readyz stay open.
    ``api``: the API server, for the presets whose metrics sit behind its node proxy."""
    endpoint = allow.rule.endpoint

    async def scrape(request: Request, target: str, t: Target, timeout: float) -> str:
        # only the query parameters the provider documents pass on (Tencent's collect[])
        params = [(k, v) for k, v in request.query_params.multi_items() if k in endpoint.pass_params]
        if endpoint.where == "pod":
            return await fetch(client, f"{scheme}://{target}{t.path}", timeout_s=timeout, params=params)
        if api is None:
            raise FetchError("no_api_server", 502)
        params += [(k, v.replace("{node}", t.node)) for k, v in endpoint.query.items()]
        return await fetch(
            api.client, api.node_url(t.node, t.path), timeout_s=timeout, params=params, headers=api.headers()
        )

    def translate(body: str, t: Target, openmetrics: bool) -> Translation:
        if endpoint.speaks == "sandbox":
            return translate_text(body, t.pods[0], openmetrics=openmetrics, pass_vm=pass_vm)
        return translate_node(
            body, list(t.pods), openmetrics=openmetrics, rules=endpoint.speaks == "resource"
        )

    app = FastAPI(title="metricsbridge", docs_url=None, redoc_url=None, openapi_url=None)

    def plain(status: int, text: str) -> Response:
        return Response(text.encode() + b"\n", status_code=status, media_type="text/plain")

    def denied(request: Request) -> Response | None:
        if auth is None or auth.allows(request.headers.get("authorization")):
            return None
        return plain(401, "unauthorized")

    @app.get("/probe")
    async def probe(request: Request, target: str = Query("", max_length=300)) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        if not state.ready:
            metrics.probes.labels("not_ready").inc()
            return plain(503, "inventory not synced yet")
        found = allow.lookup(target)
        metrics.allowed.set(len(allow))
        metrics.conflicts.set(allow.conflicts)
        if found is None:
            metrics.probes.labels("forbidden").inc()
            return plain(403, "target is not a current virtual-node pod exporter")
        timeout = scrape_timeout(
            request.headers.get("x-prometheus-scrape-timeout-seconds"), default_timeout_s
        )
        try:
            body = await scrape(request, target, found, timeout)
        except FetchError as exc:
            metrics.probes.labels(exc.code).inc()
            return plain(exc.status, f"sandbox scrape failed: {exc.code}")
        started = clock()
        openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
        result = translate(body, found, openmetrics)
        metrics.seconds.observe(clock() - started)
        metrics.parse_errors.inc(result.parse_errors)
        for reason, n in result.dropped.items():
            metrics.dropped.labels(reason).inc(n)
        metrics.series.inc(result.series)
        metrics.probes.labels("ok").inc()
        return Response(result.text.encode(), media_type=OPENMETRICS if openmetrics else TEXT)

    add_health_routes(
        app,
        component=app.title,
        registry=metrics.registry,
        not_ready=state.not_ready,
        guard=denied,
    )
    return app
