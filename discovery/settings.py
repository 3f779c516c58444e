"""vnbridge-discovery settings: one YAML file + ``VNBRIDGE_DISCOVERY_*`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from discovery.clientsettings import TLSSettings
from discovery.configuring import ComponentSettings

__all__ = ["NODE_PRESETS", "DiscoverySettings"]

# How each provider marks its virtual nodes (DESIGN §3).
NODE_PRESETS: dict[str, dict[str, str]] = {
    "tencent-eklet": {"node.kubernetes.io/instance-type": "eklet"},
    "aws-fargate": {"eks.amazonaws.com/compute-type": "fargate"},
    "virtual-kubelet": {"type": "virtual-kubelet"},
}


class KubeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kubeconfig: Path | None = Field(None, description="kubeconfig file; unset = in-cluster service account.")
    context: str = Field("", description="kubeconfig context (default: current-context).")


class HttpSdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Serve GET /targets (http_sd), /metrics, /healthz, /readyz.")
    listen: str = Field("127.0.0.1:8080", description="host:port of the http_sd / metrics server.")
    bearer_token: SecretStr = Field(
        SecretStr(""), description="Require this bearer token on /targets and /metrics."
    )
    username: str = Field("", description="Require basic auth with this user (and password) instead.")
    password: SecretStr = Field(SecretStr(""), description="Basic-auth password.")
    tls: TLSSettings = Field(
        default_factory=TLSSettings,
        description="Serve HTTPS with tls.cert_file/tls.key_file (enabled: true).",
    )

    @model_validator(mode="after")
    def _check(self) -> HttpSdSettings:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"listen must be host:port, got {self.listen!r}")
        if self.tls.enabled and not (self.tls.cert_file and self.tls.key_file):
            raise ValueError("tls.enabled needs tls.cert_file and tls.key_file")
        if bool(self.username) != bool(self.password.get_secret_value()):
            raise ValueError("basic auth needs both username and password")
        return self


class WatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespaces: bool = Field(
        False,
        description="Also watch namespaces, for namespace labels in enrichment (Vector's namespace_labels, "
        "Filebeat's add_resource_metadata.namespace); needs get/list/watch on namespaces in RBAC.",
    )
    page_size: int = Field(500, ge=1, le=10000, description="Objects per list page (continue tokens).")
    timeout_s: int = Field(300, ge=10, le=3600, description="Server-side watch timeout before a re-watch.")
    backoff_initial_s: float = Field(0.2, gt=0, description="First reconnect delay after an API failure.")
    backoff_max_s: float = Field(10.0, gt=0, description="Cap of the reconnect delay (full jitter below it).")


class DiscoverySettings(ComponentSettings):
    """Settings of the discovery component."""

    model_config = SettingsConfigDict(env_prefix="VNBRIDGE_DISCOVERY_")

    kube: KubeSettings = Field(default_factory=KubeSettings, description="Kubernetes API access.")
    node_preset: Literal["tencent-eklet", "aws-fargate", "virtual-kubelet", "custom"] = Field(
        "tencent-eklet", description="Which nodes are virtual: a provider preset, or custom (node_selector)."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels (all must match) when node_preset is custom."
    )
    metrics_port: int = Field(
        9100,
        ge=1,
        le=65535,
        description="Sandbox exporter port unless the pod "
        "annotation eks.tke.cloud.tencent.com/metrics-port says otherwise.",
    )
    metrics_path: str = Field("/metrics", description="Sandbox exporter path.")
    metricsbridge_address: str = Field(
        "",
        description="host:port of metricsbridge. When set, each target is scraped through "
        "metricsbridge's /probe?target=<podIP:port> (multi-target pattern) and gets the cAdvisor-shaped "
        "labels; when empty, Prometheus scrapes the sandbox exporter directly.",
    )
    metricsbridge_path: str = Field("/probe", description="metricsbridge's probe path.")
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
    tombstone_retention_s: float = Field(86400.0, gt=0, description="Keep deleted pods' metadata this long.")

    @model_validator(mode="after")
    def _check(self) -> DiscoverySettings:
        if self.node_preset == "custom" and not self.node_selector:
            raise ValueError("node_preset custom needs node_selector (node labels that mark virtual nodes)")
        if self.shard >= self.shards:
            raise ValueError(f"shard ({self.shard}) must be < shards ({self.shards})")
        return self

    def selector_labels(self) -> dict[str, str]:
        return (
            dict(self.node_selector) if self.node_preset == "custom" else dict(NODE_PRESETS[self.node_preset])
        )
