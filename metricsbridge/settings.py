"""metricsbridge settings: one YAML file + ``VNBRIDGE_METRICSBRIDGE_*`` overrides."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from vnbridge.clientsettings import KubeSettings, Listen, ServerTLSSettings, TLSSettings
from vnbridge.configuring import ComponentSettings
from vnbridge.exporters import TARGET_KEYS_MOVED, TargetSettings

__all__ = ["MetricsbridgeSettings"]


class MetricsbridgeSettings(ComponentSettings):
    """Settings of the metricsbridge component."""

    model_config = SettingsConfigDict(env_prefix="VNBRIDGE_METRICSBRIDGE_")
    moved_keys: ClassVar[dict[str, str]] = {**TARGET_KEYS_MOVED, "scheme": "targets.scheme"}

    listen: Listen = Field(
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
    targets: TargetSettings = Field(
        default_factory=TargetSettings,
        description="Which pods are virtual-node exporter targets: /probe allows exactly their addresses. "
        "Give it the same block as vnbridge-discovery's targets.",
    )
    pass_vm_metrics: bool = Field(
        False,
        description="Also serve the sandbox's VM-level pod_* series (Tencent: node_exporter with node_ "
        "renamed pod_) as they are, with the pod's namespace and pod labels, for the provider's own "
        "dashboards. Off: they only feed the derived cAdvisor series.",
    )
    default_timeout_s: float = Field(
        8.0,
        gt=0,
        description="Fetch timeout when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds header.",
    )
    tls: TLSSettings = Field(default_factory=TLSSettings, description="TLS for fetching sandbox exporters.")
    listen_tls: ServerTLSSettings = Field(
        default_factory=ServerTLSSettings,
        description="Serve /probe and /metrics over HTTPS (cert_file, key_file); client certificates "
        "from client_ca_file, required with require_client_cert.",
    )
