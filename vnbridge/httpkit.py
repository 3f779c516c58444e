"""The HTTP plumbing every vnbridge service shares: server, auth, probe routes.

Why: operators wire liveness/readiness probes, Prometheus scrapes and credentials
once for all three services; ``/healthz`` (process alive), ``/readyz`` (503 with a
reason until ready) and ``/metrics`` (the service's own registry, optionally behind
auth) must behave identically everywhere, and so must ``listen`` and TLS. Written on
Starlette, which FastAPI extends: a service with an API (discovery, metricsbridge)
passes its FastAPI app, one with only these routes (logbridge) a plain Starlette app
and never imports FastAPI (a third of its start-up).
"""

from __future__ import annotations

import base64
import hmac
import platform
import ssl as _ssl
from collections.abc import Callable

import uvicorn
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from vnbridge import package_version
from vnbridge.clientsettings import ServerTLSSettings

__all__ = ["PROMETHEUS_TEXT", "Auth", "add_health_routes", "http_server"]


class Auth:
    """Optional bearer token or basic credentials, compared in constant time."""

    def __init__(self, *, bearer_token: str = "", username: str = "", password: str = "") -> None:
        self._bearer = bearer_token
        self._basic = f"{username}:{password}" if username else ""

    @property
    def enabled(self) -> bool:
        return bool(self._bearer or self._basic)

    def allows(self, header: str | None) -> bool:
        if not self.enabled:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if self._bearer and scheme.lower() == "bearer":
            return hmac.compare_digest(value.strip().encode(), self._bearer.encode())
        if self._basic and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except ValueError:
                return False
            return hmac.compare_digest(decoded, self._basic.encode())
        return False


def http_server(app: Starlette, *, listen: str, tls: ServerTLSSettings | None = None) -> uvicorn.Server:
    """A quiet uvicorn server for ``app`` on ``host:port`` (``[::1]:8080`` too), HTTPS
    when ``tls.enabled``; client certificates from ``tls.client_ca_file`` are asked for
    (and required with ``tls.require_client_cert``)."""
    host, _, port = listen.rpartition(":")
    ssl: dict[str, object] = {}
    if tls is not None and tls.enabled:
        ssl = {"ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file)}
        if tls.client_ca_file:
            ssl["ssl_ca_certs"] = str(tls.client_ca_file)
            ssl["ssl_cert_reqs"] = _ssl.CERT_REQUIRED if tls.require_client_cert else _ssl.CERT_OPTIONAL
    config = uvicorn.Config(
        app,
        host=host.strip("[]"),
        port=int(port),
        log_level="warning",
        access_log=False,
        lifespan="off",
        **ssl,  # type: ignore[arg-type]
    )
    return uvicorn.Server(config)


PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _standard_metrics(registry: CollectorRegistry, *, component: str) -> None:
    info = Gauge(
        "vnbridge_build_info",
        "1, labelled with the component, its version and the Python that runs it.",
        ["component", "version", "python_version"],
        registry=registry,
    )
    info.labels(component, package_version(), platform.python_version()).set(1)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)


def add_health_routes(
    app: Starlette,
    *,
    component: str,
    registry: CollectorRegistry,
    not_ready: Callable[[], str],
    guard: Callable[[Request], Response | None] | None = None,
) -> None:
    """``not_ready()`` returns "" when ready, else the reason shown with the 503.
    ``guard(request)`` returns a refusal for /metrics (auth), or None to serve it.
    /metrics also carries ``vnbridge_build_info`` and the standard ``process_*`` metrics."""
    _standard_metrics(registry, component=component)

    async def metrics(request: Request) -> Response:
        if guard is not None and (refused := guard(request)) is not None:
            return refused
        return Response(generate_latest(registry), media_type=PROMETHEUS_TEXT)

    async def healthz(request: Request) -> Response:
        return Response(b"ok\n", media_type="text/plain")

    async def readyz(request: Request) -> Response:
        reason = not_ready()
        if reason:
            return Response(reason.encode() + b"\n", status_code=503, media_type="text/plain")
        return Response(b"ready\n", media_type="text/plain")

    for path, endpoint in (("/metrics", metrics), ("/healthz", healthz), ("/readyz", readyz)):
        app.add_route(path, endpoint, methods=["GET"], include_in_schema=False)
