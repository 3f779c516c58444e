"""Run metricsbridge: the inventory watch (the allow-list) plus the HTTP server."""

from __future__ import annotations

import asyncio
import ssl

import httpx
from fastapi import FastAPI

from metricsbridge.probing import AllowList
from metricsbridge.serving import BridgeMetrics, create_app
from metricsbridge.settings import MetricsbridgeSettings
from vnbridge.checking import answering_api
from vnbridge.clientsettings import WatchSettings
from vnbridge.exporters import ExporterRule
from vnbridge.httpkit import Auth, http_server
from vnbridge.kube import ApiHttp, LiveWatch, WatchCollector
from vnbridge.tracking import ClusterState, watched_kinds

__all__ = ["run"]


def _verify(settings: MetricsbridgeSettings) -> ssl.SSLContext | bool:
    tls = settings.tls
    if not tls.verify:
        return False
    ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file and tls.key_file:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return ctx


def build_app(
    settings: MetricsbridgeSettings,
    state: ClusterState,
    api: ApiHttp | None = None,
    metrics: BridgeMetrics | None = None,
) -> tuple[FastAPI, httpx.AsyncClient]:
    client = httpx.AsyncClient(verify=_verify(settings), follow_redirects=False, trust_env=False)
    metrics = metrics or BridgeMetrics()
    metrics.registry.register(WatchCollector(state, "vnbridge_metricsbridge"))
    app = create_app(
        state=state,
        allow=AllowList(state=state, rule=ExporterRule.from_settings(settings.targets)),
        client=client,
        metrics=metrics,
        default_timeout_s=settings.default_timeout_s,
        scheme=settings.targets.scheme,
        auth=Auth(bearer_token=settings.bearer_token.get_secret_value()),
        api=api,
        pass_vm=settings.pass_vm_metrics,
    )
    return app, client


async def run(settings: MetricsbridgeSettings) -> None:
    endpoint = settings.targets.endpoint()
    # allows live pods only; Tencent's cluster-wide annotation defaults when it has them
    state = ClusterState(retention_s=0, kinds=watched_kinds(False, endpoint.cluster_defaults))
    api_client = await answering_api(settings.kube)
    metrics = BridgeMetrics()
    watch = LiveWatch(
        api=api_client, state=state, watch=WatchSettings(namespaces=False), on_error=metrics.error_hook
    )
    watch.start(asyncio.get_running_loop())
    api = ApiHttp(api_client) if endpoint.where != "pod" else None
    app, client = build_app(settings, state, api, metrics)
    server = http_server(app, listen=settings.listen, tls=settings.listen_tls)
    try:
        await server.serve()
    finally:
        watch.stop()
        await client.aclose()
        if api is not None:
            await api.aclose()
