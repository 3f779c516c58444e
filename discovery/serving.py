"""The http_sd endpoint, metrics and health probes of vnbridge-discovery (FastAPI).

Why: Prometheus ≥ 2.28.1 polls ``GET /targets`` and keeps its previous list on any
error, so the answer is the *whole* list as ``application/json`` (``[]`` when truly
empty) and 503 until the first complete sync. ``?shard=i&shards=n`` gives each of n
Prometheus servers a stable, disjoint slice. ``/targets`` and ``/metrics`` can
require a bearer token or basic auth; ``/healthz`` and ``/readyz`` never do.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Query, Request, Response
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from discovery.publishing import TargetsView
from vnbridge.httpkit import Auth, add_health_routes
from vnbridge.kube import WatchCollector
from vnbridge.tracking import ClusterState

__all__ = ["DiscoveryMetrics", "create_app"]


class _StateCollector(Collector):
    def __init__(self, state: ClusterState, view: TargetsView) -> None:
        self._state = state
        self._view = view

    def collect(self):  # type: ignore[no-untyped-def]
        yield GaugeMetricFamily(
            "vnbridge_discovery_pods", "Live pods in the inventory.", len(self._state.inventory)
        )
        yield GaugeMetricFamily(
            "vnbridge_discovery_tombstones",
            "Deleted pods kept for enrichment.",
            self._state.inventory.tombstones,
        )
        yield GaugeMetricFamily("vnbridge_discovery_targets", "Published targets.", len(self._view.groups))
        yield GaugeMetricFamily(
            "vnbridge_discovery_address_conflicts",
            "Exporter addresses claimed by more than one Running pod (published for the newest pod); "
            "non-zero means the API shows a stale pod Running.",
            self._view.conflicts,
        )
        yield GaugeMetricFamily(
            "vnbridge_discovery_ready", "1 after the first complete sync.", int(self._view.ready)
        )
        yield GaugeMetricFamily(
            "vnbridge_discovery_last_publish_timestamp_seconds",
            "Wall time of the last change of the target list.",
            self._view.published_at,
        )


class DiscoveryMetrics:
    """Counters of the watch and the endpoints (bounded label values only)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.watch_errors = Counter(
            "vnbridge_discovery_watch_errors",
            "List/watch failures by resource and error_code (gone, http, connection, bad_event, "
            "http_400/401/403/404).",
            ["resource", "error_code"],
            registry=registry,
        )
        self.file_writes = Counter(
            "vnbridge_discovery_file_sd_writes", "Atomic rewrites of the file_sd file.", registry=registry
        )
        self.requests = Counter(
            "vnbridge_discovery_http_sd_requests",
            "http_sd requests by status code.",
            ["code"],
            registry=registry,
        )

    def watch(self, state: ClusterState, view: TargetsView) -> None:
        self.registry.register(_StateCollector(state, view))
        self.registry.register(WatchCollector(state, "vnbridge_discovery"))

    def error_hook(self, resource: str) -> Callable[[str], None]:
        return lambda code: self.watch_errors.labels(resource, code).inc()


def create_app(*, view: TargetsView, metrics: DiscoveryMetrics, auth: Auth) -> FastAPI:
    app = FastAPI(title="vnbridge-discovery", docs_url=None, redoc_url=None, openapi_url=None)

    def denied(request: Request) -> Response | None:
        if auth.allows(request.headers.get("authorization")):
            return None
        metrics.requests.labels("401").inc()
        return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="vnbridge"'})

    @app.get("/targets")
    async def targets(
        request: Request,
        shard: int = Query(0, ge=0, description="this Prometheus' shard index"),
        shards: int = Query(1, ge=1, le=1024, description="how many Prometheus servers share the targets"),
    ) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        if shard >= shards:
            metrics.requests.labels("400").inc()
            return Response(
                b'{"error":"shard must be < shards"}', status_code=400, media_type="application/json"
            )
        if not view.ready:
            metrics.requests.labels("503").inc()
            return Response(
                b'{"error":"no complete sync with the Kubernetes API yet"}',
                status_code=503,
                media_type="application/json",
                headers={"Retry-After": "5"},
            )
        if not view.background or not view.built:
            view.refresh()  # a background view serves its last build (at most debounce_s old)
        metrics.requests.labels("200").inc()
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                view.json_gzip(shard, shards),
                media_type="application/json",
                headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
            )
        return Response(
            view.json(shard, shards), media_type="application/json", headers={"Vary": "Accept-Encoding"}
        )

    add_health_routes(
        app,
        component=app.title,
        registry=metrics.registry,
        not_ready=view.not_ready,
        guard=denied,
    )
    return app
