"""metricsbridge settings: one YAML file + ``VNBRIDGE_METRICSBRIDGE_*`` overrides."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from discovery.clientsettings import TLSSettings
from discovery.configuring import ComponentSettings

__all__ = ["MetricsbridgeSettings"]


class MetricsbridgeSettings(ComponentSettings):
    """Settings of the metricsbridge component."""

    model_config = SettingsConfigDict(env_prefix="VNBRIDGE_METRICSBRIDGE_")

    listen: str = Field(
        "127.0.0.1:9101", description="host:port serving /probe, /metrics, /healthz, /readyz."
    )
    inventory_url: str = Field(
        "http://127.0.0.1:8080",
        description="discovery's http_sd base URL: the allow-list of probe targets (anything else gets 403).",
    )
    default_timeout_s: float = Field(
        8.0,
        gt=0,
        description="Fetch timeout when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds header.",
    )
    tls: TLSSettings = Field(default_factory=TLSSettings, description="TLS for fetching sandbox exporters.")
