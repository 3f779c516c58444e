"""metricsbridge's HTTP surface without a sandbox: the bearer token guards /probe and
/metrics (the shared ``Auth``), probes stay open, and nothing is proxied before the
inventory has synced."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from metricsbridge.running import build_app
from metricsbridge.settings import MetricsbridgeSettings
from vnbridge.configuring import load_settings
from vnbridge.tracking import ClusterState


def test_bearer_token_guards_probe_and_metrics_only() -> None:
    settings = load_settings(MetricsbridgeSettings, overrides={"bearer_token": "s3cret"})
    app, client = build_app(settings, ClusterState())
    try:
        http = TestClient(app)
        ok = {"Authorization": "Bearer s3cret"}
        assert http.get("/probe", params={"target": "10.0.0.1:9100"}).status_code == 401
        assert http.get("/probe", params={"target": "10.0.0.1:9100"}, headers=ok).status_code == 503
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/metrics", headers=ok).status_code == 200
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 503  # inventory not synced, no token needed
    finally:
        asyncio.run(client.aclose())


def test_without_a_token_everything_is_open() -> None:
    app, client = build_app(load_settings(MetricsbridgeSettings), ClusterState())
    try:
        assert TestClient(app).get("/metrics").status_code == 200
    finally:
        asyncio.run(client.aclose())
