"""The probe and metrics routes every vnbridge service serves the same way.

Why: operators wire liveness/readiness probes and Prometheus scrapes once for all
three services; ``/healthz`` (process alive), ``/readyz`` (503 with a reason until
ready) and ``/metrics`` (the service's own registry, optionally behind auth) must
behave identically everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, generate_latest

__all__ = ["PROMETHEUS_TEXT", "add_health_routes"]

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def add_health_routes(
    app: FastAPI,
    *,
    registry: CollectorRegistry,
    not_ready: Callable[[], str],
    guard: Callable[[Request], Response | None] | None = None,
) -> None:
    """``not_ready()`` returns "" when ready, else the reason shown with the 503.
    ``guard(request)`` returns a refusal for /metrics (auth), or None to serve it."""

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if guard is not None and (refused := guard(request)) is not None:
            return refused
        return Response(generate_latest(registry), media_type=PROMETHEUS_TEXT)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"ok\n", media_type="text/plain")

    @app.get("/readyz")
    async def readyz() -> Response:
        reason = not_ready()
        if reason:
            return Response(reason.encode() + b"\n", status_code=503, media_type="text/plain")
        return Response(b"ready\n", media_type="text/plain")
