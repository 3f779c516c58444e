"""vnbridge-discovery settings: one YAML file + ``VNBRIDGE_DISCOVERY_*`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from vnbridge.clientsettings import KubeSettings, Listen, ServerTLSSettings, WatchSettings
from vnbridge.configuring import ComponentSettings
from vnbridge.exporters import TARGET_KEYS_MOVED, TargetSettings

__all__ = ["DiscoverySettings", "HttpSdSettings"]


class HttpSdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Serve GET /targets (http_sd), /metrics, /healthz, /readyz.")
    listen: Listen = Field("127.0.0.1:8080", description="host:port of the http_sd / metrics server.")
    bearer_token: SecretStr = Field(
        SecretStr(""), description="Require this bearer token on /targets and /metrics."
    )
    username: str = Field("", description="Require basic auth with this user (and password) instead.")
    password: SecretStr = Field(SecretStr(""), description="Basic-auth password.")
    tls: ServerTLSSettings = Field(
        default_factory=ServerTLSSettings,
        description="Serve HTTPS with tls.cert_file/tls.key_file (enabled: true); "
        "client certificates from tls.client_ca_file, required with tls.require_client_cert.",
    )

    @model_validator(mode="after")
    def _check(self) -> HttpSdSettings:
        if bool(self.username) != bool(self.password.get_secret_value()):
            raise ValueError("basic auth needs both username and password")
        return self


class DiscoverySettings(ComponentSettings):
    """Settings of the discovery component."""

    model_config = SettingsConfigDict(env_prefix="VNBRIDGE_DISCOVERY_")
    moved_keys: ClassVar[dict[str, str]] = TARGET_KEYS_MOVED

    kube: KubeSettings = Field(default_factory=KubeSettings, description="Kubernetes API access.")
    targets: TargetSettings = Field(
        default_factory=TargetSettings,
        description="Which pods are virtual-node exporter targets; give metricsbridge the same block.",
    )
    metricsbridge_address: str = Field(
        "",
        description="host:port of metricsbridge. When set, each target is scraped through "
        "metricsbridge's /probe?target=<podIP:port> (multi-target pattern) and gets the cAdvisor-shaped "
        "labels; when empty, Prometheus scrapes the sandbox exporter directly.",
    )
    metricsbridge_path: str = Field("/probe", description="metricsbridge's probe path.")
    metricsbridge_scheme: Literal["http", "https"] = Field(
        "http",
        description="How Prometheus reaches metricsbridge (https when its listen_tls is on): the "
        "bridged targets' __scheme__. How metricsbridge reaches the sandbox is targets.scheme.",
    )
    api_server_address: str = Field(
        "kubernetes.default.svc:443",
        min_length=1,
        description="host:port where Prometheus reaches the API server: the node-proxy presets "
        "(aws-fargate, alibaba-eci, azure-aci) scraped directly (metricsbridge_address empty) target "
        "its /api/v1/nodes/<node>/proxy/... (Prometheus needs the API server's CA and a token with "
        "nodes/proxy in that scrape job).",
    )
    static_labels: dict[str, str] = Field(
        default_factory=lambda: {
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
            "endpoint": "https-metrics",
            "service": "kubelet",
        },
        description="Labels put on every bridged target: what kube-prometheus' kubelet ServiceMonitor "
        "gives cAdvisor targets (job and metrics_path are what its rules and dashboards select).",
    )
    pod_labels: list[str] = Field(
        default_factory=list,
        description='Pod label keys copied to target labels, sanitised [^a-zA-Z0-9_] -> _ ("*" = all).',
    )
    file_sd_path: Path | None = Field(None, description="Write targets to this JSON file (atomic rename).")
    shard: int = Field(0, ge=0, description="file_sd: this replica writes shard `shard` of `shards`.")
    shards: int = Field(
        1, ge=1, le=1024, description="file_sd: number of Prometheus servers sharing targets."
    )
    debounce_s: float = Field(0.1, ge=0, le=10, description="Fold bursts of pod events into one publication.")
    http_sd: HttpSdSettings = Field(default_factory=HttpSdSettings, description="http_sd endpoint.")
    watch: WatchSettings = Field(default_factory=WatchSettings, description="List/watch behaviour.")
    tombstone_retention_s: float = Field(
        0.0,
        ge=0,
        description="Deleted pods are never targets, so discovery keeps none (0, the default); a "
        "positive value keeps them this long, seen only in vnbridge_discovery_tombstones.",
    )

    @model_validator(mode="after")
    def _check(self) -> DiscoverySettings:
        if self.targets.labels == "kubernetes_sd" and self.metricsbridge_address:
            raise ValueError(
                "targets.labels kubernetes_sd publishes the targets kubernetes_sd would (the pod's own "
                "ports); leave metricsbridge_address empty and route through metricsbridge with "
                "relabel_configs (README: kubernetes_sd-compatible targets)"
            )
        if self.shard >= self.shards:
            raise ValueError(f"shard ({self.shard}) must be < shards ({self.shards})")
        return self
