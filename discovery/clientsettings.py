"""Connection settings shared by every network client (Kafka, Elasticsearch, Kubernetes).

Why: secure by default means every client offers TLS and authentication the same
way; secrets are ``SecretStr`` so ``config check`` and logs never show them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["ElasticsearchSettings", "KafkaSettings", "TLSSettings"]


class TLSSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Use TLS for this connection.")
    ca_file: Path | None = Field(None, description="PEM bundle of CAs to trust (default: system store).")
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: Path | None = Field(None, description="Client private key (PEM) for mutual TLS.")
    verify: bool = Field(
        True, description="Verify the server certificate and host name. Keep true outside tests."
    )


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


class ElasticsearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hosts: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:9200"], description="Node URLs.")
    username: str = Field("", description="Basic-auth user.")
    password: SecretStr = Field(SecretStr(""), description="Basic-auth password (masked in output).")
    api_key: SecretStr = Field(SecretStr(""), description="API key (id:key, base64) instead of basic auth.")
    ca_file: Path | None = Field(None, description="CA bundle to verify the cluster's certificate.")
    verify_certs: bool = Field(True, description="Verify the cluster's certificate.")
