"""vnbridge-discovery settings: one YAML file + ``VNBRIDGE_DISCOVERY_*`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
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
    listen: str = Field("127.0.0.1:8080", description="host:port of the http_sd / metrics server.")
    bearer_token: SecretStr = Field(SecretStr(""), description="Require this bearer token on /targets.")
    tls: TLSSettings = Field(default_factory=TLSSettings, description="Serve TLS with cert_file/key_file.")


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
    file_sd_path: Path | None = Field(None, description="Write targets to this JSON file (atomic rename).")
    http_sd: HttpSdSettings = Field(default_factory=HttpSdSettings, description="http_sd endpoint.")
    tombstone_retention_s: float = Field(86400.0, gt=0, description="Keep deleted pods' metadata this long.")
