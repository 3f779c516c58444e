"""metricsbridge settings: one YAML file + ``VNBRIDGE_METRICSBRIDGE_*`` overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from discovery.clientsettings import TLSSettings
from discovery.configuring import ComponentSettings
from discovery.settings import NODE_PRESETS, KubeSettings

__all__ = ["MetricsbridgeSettings"]


class MetricsbridgeSettings(ComponentSettings):
    """Settings of the metricsbridge component."""

    model_config = SettingsConfigDict(env_prefix="VNBRIDGE_METRICSBRIDGE_")

    listen: str = Field(
        "127.0.0.1:9101", description="host:port serving /probe, /metrics, /healthz, /readyz."
    )
    bearer_token: SecretStr = Field(
        SecretStr(""),
        description="Require this bearer token on /probe and /metrics (Prometheus authorization).",
    )
    kube: KubeSettings = Field(
        default_factory=KubeSettings,
        description="Kubernetes API access: the pod inventory is the allow-list of probe targets.",
    )
    node_preset: Literal["tencent-eklet", "aws-fargate", "virtual-kubelet", "custom"] = Field(
        "tencent-eklet", description="Which nodes are virtual (same meaning as in vnbridge-discovery)."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels when node_preset is custom."
    )
    metrics_port: int = Field(
        9100, ge=1, le=65535, description="Exporter port unless the pod annotation says otherwise."
    )
    metrics_path: str = Field("/metrics", description="Sandbox exporter path.")
    scheme: Literal["http", "https"] = Field("http", description="Sandbox exporter scheme.")
    default_timeout_s: float = Field(
        8.0,
        gt=0,
        description="Fetch timeout when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds header.",
    )
    tls: TLSSettings = Field(default_factory=TLSSettings, description="TLS for fetching sandbox exporters.")

    @model_validator(mode="after")
    def _check(self) -> MetricsbridgeSettings:
        if self.node_preset == "custom" and not self.node_selector:
            raise ValueError("node_preset custom needs node_selector")
        return self

    def selector_labels(self) -> dict[str, str]:
        return (
            dict(self.node_selector) if self.node_preset == "custom" else dict(NODE_PRESETS[self.node_preset])
        )
