"""logbridge settings: one YAML file + ``VNBRIDGE_LOGBRIDGE_*`` environment overrides.

Why: validated once at start-up (``extra="forbid"``), described field by field so
``logbridge config schema`` and the README teach every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from discovery.clientsettings import ElasticsearchSettings, KafkaSettings
from discovery.configuring import ComponentSettings
from logbridge.assembly import MULTILINE_LANGUAGES
from logbridge.decoding import SHAPES
from logbridge.profiles import PROFILES, OptionError, option_table
from logbridge.profiles.options import parse_options

__all__ = ["LogbridgeSettings"]


class ProfileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["fluent-bit", "filebeat", "vector"] = Field(
        "fluent-bit", description=f"Which DaemonSet collector's documents to produce: {', '.join(PROFILES)}."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Profile options by the collector's own key names, "
        "e.g. {Merge_Log: On, Replace_Dots: On}. "
        "Unknown keys are rejected; `logbridge profiles` lists them.",
    )

    @model_validator(mode="after")
    def _check_options(self) -> ProfileSettings:
        try:
            parse_options(self.name, option_table(self.name), self.options)
        except OptionError as exc:
            raise ValueError(str(exc)) from None
        return self


class AssemblySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_line_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Cap of a reassembled line; beyond it "
        "the line is truncated and its remaining fragments discarded.",
    )
    partial_idle_s: float = Field(
        4.0, gt=0, description="Emit a stranded partial line after this many seconds."
    )
    multiline_namespaces: dict[str, str] = Field(
        default_factory=dict,
        description="Stack-trace grouping per namespace, e.g. {payments: java}. A pod annotation "
        f"vnbridge.io/multiline overrides it. Languages: {', '.join(MULTILINE_LANGUAGES)}.",
    )

    @field_validator("multiline_namespaces")
    @classmethod
    def _langs(cls, v: dict[str, str]) -> dict[str, str]:
        bad = {k: x for k, x in v.items() if x not in MULTILINE_LANGUAGES}
        if bad:
            raise ValueError(f"unknown language(s) {bad}; allowed: {', '.join(MULTILINE_LANGUAGES)}")
        return v


class InventorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pods_path: Path | None = Field(
        None,
        description="Pod JSON/YAML files or a `kubectl get pods -o json` list "
        "to enrich from (convert); the live API is used by `run`.",
    )
    tombstone_retention_s: float = Field(86400.0, gt=0, description="Keep deleted pods' metadata this long.")


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topics: list[str] = Field(default_factory=lambda: ["eks-logs"], description="Provider topics to consume.")
    group_id: str = Field("vnbridge-logbridge", description="Consumer group; replicas share partitions.")
    decoder: Literal["auto", "eks", "fluent-bit", "filebeat", "cls", "docker", "cri"] = Field(
        "auto", description=f"Record shape; auto sniffs each record. One of: {', '.join(SHAPES)}."
    )


class LogbridgeSettings(ComponentSettings):
    """Settings of the logbridge component."""

    model_config = SettingsConfigDict(env_prefix="VNBRIDGE_LOGBRIDGE_")

    profile: ProfileSettings = Field(default_factory=ProfileSettings, description="Target collector profile.")
    source: SourceSettings = Field(default_factory=SourceSettings, description="Provider topics.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="Kafka connection (source).")
    elasticsearch: ElasticsearchSettings = Field(
        default_factory=ElasticsearchSettings, description="Elasticsearch connection (sink)."
    )
    assembly: AssemblySettings = Field(default_factory=AssemblySettings, description="Line reassembly.")
    inventory: InventorySettings = Field(default_factory=InventorySettings, description="Pod metadata.")
