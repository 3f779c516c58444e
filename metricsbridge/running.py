"""Run metricsbridge: the inventory watch (the allow-list) plus the HTTP server."""

from __future__ import annotations

import asyncio
import hmac
import ssl
from typing import Any

import httpx
import uvicorn
from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from discovery.running import LiveWatch, api_client
from discovery.settings import WatchSettings
from discovery.targeting import NodeSelector, TargetRules
from discovery.tracking import ClusterState
from metricsbridge.probing import AllowList
from metricsbridge.serving import BridgeMetrics, create_app
from metricsbridge.settings import MetricsbridgeSettings

__all__ = ["run"]

OPEN = ("/healthz", "/readyz")


def _verify(settings: MetricsbridgeSettings) -> ssl.SSLContext | bool:
    tls = settings.tls
    if not tls.verify:
        return False
    ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file and tls.key_file:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return ctx


def build_app(settings: MetricsbridgeSettings, state: ClusterState) -> tuple[Any, httpx.AsyncClient]:
    rules = TargetRules(selector=NodeSelector(settings.selector_labels()), default_port=settings.metrics_port)
    client = httpx.AsyncClient(verify=_verify(settings), follow_redirects=False, trust_env=False)
    app = create_app(
        state=state,
        allow=AllowList(state=state, rules=rules),
        client=client,
        metrics=BridgeMetrics(),
        metrics_path=settings.metrics_path,
        default_timeout_s=settings.default_timeout_s,
        scheme=settings.scheme,
    )
    token = settings.bearer_token.get_secret_value()
    if token:

        async def auth(request: Request, call_next: RequestResponseEndpoint) -> Response:
            if request.url.path not in OPEN:
                given = request.headers.get("authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    return Response(b"unauthorized\n", status_code=401, media_type="text/plain")
            return await call_next(request)

        app.add_middleware(BaseHTTPMiddleware, dispatch=auth)
    return app, client


async def run(settings: MetricsbridgeSettings) -> None:
    state = ClusterState(kinds=("nodes", "pods"))
    watch = LiveWatch(api=api_client(settings.kube), state=state, watch=WatchSettings(namespaces=False))
    watch.start(asyncio.get_running_loop())
    app, client = build_app(settings, state)
    host, _, port = settings.listen.rpartition(":")
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host.strip("[]"), port=int(port), log_level="warning", access_log=False, lifespan="off"
        )
    )
    try:
        await server.serve()
    finally:
        watch.stop()
        await client.aclose()
