"""Connection settings shared by every network client (Kafka, Elasticsearch, Kubernetes).

Why: secure by default means every client offers TLS and authentication the same
way; secrets are ``SecretStr`` so ``config check`` and logs never show them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "ElasticsearchSettings",
    "KafkaSettings",
    "KubeSettings",
    "Listen",
    "ServerTLSSettings",
    "TLSSettings",
    "WatchSettings",
    "check_listen",
]


def check_listen(value: str) -> str:
    """``host:port`` with a port in 1..65535 (``[::1]:8080`` for IPv6)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen must be host:port (e.g. 127.0.0.1:8080), got {value!r}")
    return value


Listen = Annotated[str, AfterValidator(check_listen)]


class TLSSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Use TLS for this connection.")
    ca_file: Path | None = Field(None, description="PEM bundle of CAs to trust (default: system store).")
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: Path | None = Field(None, description="Client private key (PEM) for mutual TLS.")
    verify: bool = Field(
        True, description="Verify the server certificate and host name. Keep true outside tests."
    )


class ServerTLSSettings(BaseModel):
    """HTTPS for one of our own servers, optionally requiring client certificates."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Serve HTTPS (needs cert_file and key_file).")
    cert_file: Path | None = Field(None, description="Server certificate chain (PEM).")
    key_file: Path | None = Field(None, description="Server private key (PEM).")
    client_ca_file: Path | None = Field(
        None, description="CAs (PEM) whose client certificates are accepted (mutual TLS)."
    )
    require_client_cert: bool = Field(
        False, description="Refuse clients without a certificate from client_ca_file."
    )

    @model_validator(mode="after")
    def _complete(self) -> ServerTLSSettings:
        if self.enabled and not (self.cert_file and self.key_file):
            raise ValueError("tls.enabled needs tls.cert_file and tls.key_file")
        if self.require_client_cert and not self.client_ca_file:
            raise ValueError("tls.require_client_cert needs tls.client_ca_file")
        if (self.require_client_cert or self.client_ca_file) and not self.enabled:
            raise ValueError("client certificates need tls.enabled (HTTPS)")
        return self


class KafkaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list of brokers.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when security_protocol is SASL_*."
    )
    sasl_username: str = Field("", description="SASL user name.")
    sasl_password: SecretStr = Field(SecretStr(""), description="SASL password (masked in output).")
    tls: TLSSettings = Field(default_factory=TLSSettings, description="TLS for SSL / SASL_SSL.")
    client_id: str = Field("vnbridge", description="Client id reported to the brokers.")

    @model_validator(mode="after")
    def _check(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and (self.sasl_mechanism is None or not self.sasl_username):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism and sasl_username"
            )
        if not sasl and (self.sasl_mechanism is not None or self.sasl_username):
            raise ValueError(
                "sasl_* settings need security_protocol SASL_PLAINTEXT or SASL_SSL, "
                f"not {self.security_protocol}"
            )
        if self.tls.enabled and not self.security_protocol.endswith("SSL"):
            raise ValueError(
                f"tls.enabled with security_protocol {self.security_protocol} would connect in plaintext: "
                "use SSL or SASL_SSL"
            )
        return self


class ElasticsearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hosts: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:9200"], description="Node URLs.")
    username: str = Field("", description="Basic-auth user.")
    password: SecretStr = Field(SecretStr(""), description="Basic-auth password (masked in output).")
    api_key: SecretStr = Field(SecretStr(""), description="API key (id:key, base64) instead of basic auth.")
    ca_file: Path | None = Field(None, description="CA bundle to verify the cluster's certificate.")
    verify_certs: bool = Field(True, description="Verify the cluster's certificate.")


class KubeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kubeconfig: Path | None = Field(None, description="kubeconfig file; unset = in-cluster service account.")
    context: str = Field("", description="kubeconfig context (default: current-context).")


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
    backoff_max_s: float = Field(
        10.0, gt=0, description="Cap of the reconnect delay (equal jitter below it)."
    )
    denied_retry_s: float = Field(
        60.0,
        gt=0,
        description="Retry interval after the API answers 400/401/403/404 (credentials, RBAC or API "
        "version must be fixed first); readiness is false meanwhile and the last inventory is kept.",
    )
