"""logbridge settings: one YAML file + ``VNBRIDGE_LOGBRIDGE_*`` environment overrides.

Why: validated once at start-up (``extra="forbid"``), described field by field so
``logbridge config schema`` and the README teach every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from logbridge.decoding import MULTILINE_LANGUAGES, SHAPES
from logbridge.kafka.starting import StartError, parse_start
from logbridge.profiles import PROFILES, OptionError, build
from logbridge.profiles.importing import Imported, import_config
from logbridge.transforming import Assembly
from vnbridge.clientsettings import (
    ElasticsearchSettings,
    KafkaSettings,
    KubeSettings,
    Listen,
    ServerTLSSettings,
)
from vnbridge.configuring import ComponentSettings

__all__ = ["LogbridgeSettings", "run_problems"]


if TYPE_CHECKING:
    ProfileName = str
else:  # the registry's names: a profile registered is a profile.name allowed (and in the schema)
    ProfileName = Literal[PROFILES]


class ProfileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ProfileName = Field(
        PROFILES[0], description=f"Which DaemonSet collector's documents to produce: {', '.join(PROFILES)}."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Profile options by the collector's own key names, "
        "e.g. {Merge_Log: On, Replace_Dots: On}. "
        "Unknown keys are rejected; `logbridge profiles` lists them.",
    )

    config_file: Path | None = Field(
        None,
        description="The platform's own collector config (Fluent Bit classic or YAML, filebeat.yml, "
        "Vector YAML/TOML): the profile and its options are read from it (`logbridge profiles import "
        "FILE` shows what it gives); `options` set here override it. Settings it cannot reproduce are "
        "logged at start-up, one line each.",
    )
    _imported: Imported | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _check_options(self) -> ProfileSettings:
        try:
            if self.config_file is not None:
                imported = import_config(self.config_file)
                if "name" in self.model_fields_set and self.name != imported.profile:
                    raise OptionError(
                        f"name {self.name} contradicts config_file {self.config_file} ({imported.kind})"
                    )
                self.name = imported.profile
                self.options = {**imported.options, **self.options}
                self._imported = imported
            build(self.name, self.options)  # every check a profile makes: keys, values, regexps, index
        except OptionError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def unsupported(self) -> list[str]:
        """Settings of the config_file that shape documents but are not reproduced."""
        return list(self._imported.unsupported) if self._imported else []

    @property
    def multiline(self) -> dict[str, str]:
        """assembly.multiline_namespaces the config_file's multiline filter asks for."""
        return dict(self._imported.multiline) if self._imported else {}


class AssemblySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_line_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Cap of every line, reassembled or not; beyond it the line is truncated "
        "(counted in vnbridge_logbridge_lines_truncated_total) and its remaining fragments discarded.",
    )
    multiline_max_lines: int = Field(
        500,
        ge=1,
        description="Lines in one stack-trace document (Filebeat's multiline.max_lines); a longer "
        "trace is flushed in documents of this many lines, never dropped.",
    )
    multiline_max_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Bytes in one stack-trace document (Fluent Bit's multiline_buffer_limit, 2MB); "
        "a longer trace is flushed in documents of at most this size, never dropped.",
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
    source: Literal["kube", "files", "none"] = Field(
        "kube",
        description="Where `run` gets pod metadata: kube = list/watch the API (discovery's inventory), "
        "files = pods_path, none = only what the provider embedded in the record.",
    )
    kube: KubeSettings = Field(
        default_factory=KubeSettings, description="Kubernetes API access (source kube)."
    )
    watch_namespaces: bool = Field(
        False,
        description="Watch namespaces too, for namespace labels (Vector namespace_labels, Filebeat "
        "add_resource_metadata.namespace); needs get/list/watch on namespaces.",
    )
    sync_timeout_s: float = Field(
        60.0, ge=0, description="Wait this long for the first complete pod list before consuming."
    )
    pods_path: Path | None = Field(
        None,
        description="Pod JSON/YAML files or a `kubectl get pods -o json` list "
        "to enrich from (convert); the live API is used by `run`.",
    )
    tombstone_retention_s: float = Field(
        86400.0,
        gt=0,
        description="Keep deleted pods' metadata this long, for their late lines (~700 bytes per pod: "
        "a day of 10,000 CronJobs is ~400,000 pods).",
    )


# decoders that read the provider's own record (the `record` knobs apply to them)
RECORD_DECODERS = ("auto", "eks", "fluent-bit", "filebeat")


class RecordSettings(BaseModel):
    """How the provider's record is laid out, by the provider console's own knobs: copy
    the values of Tencent's LogConfig `kafkaDetail` (timestampKey, timestampFormat,
    metadata.formatType) and super-node annotations (log-key-as-message,
    filebeat-metadata-format). `auto` reads every documented variant."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    message_key: str = Field(
        "auto",
        min_length=1,
        description="Field that holds the line: auto = `log`, else `message` (Tencent's annotation "
        "eks.tke.cloud.tencent.com/log-key-as-message: 'true' renames `log` to `message`).",
    )
    metadata_key: str = Field(
        "kubernetes",
        min_length=1,
        description="Field that holds the pod metadata, as an object or a JSON-encoded string (Tencent's "
        "default is the string; the annotation eks.tke.cloud.tencent.com/filebeat-metadata-format: 'true' "
        "makes it an object). Both are read either way.",
    )
    metadata_format: Literal["auto", "default", "fluent-bit", "filebeat"] = Field(
        "auto",
        description="Layout of the metadata (LogConfig kafkaDetail.metadata.formatType): fluent-bit = "
        "pod_name/namespace_name/container_name, filebeat = pod.name/namespace/container.name, default "
        "(not published) and auto = any of them.",
    )
    timestamp_key: str = Field(
        "auto",
        min_length=1,
        description="Field of the provider's timestamp (LogConfig kafkaDetail.timestampKey): auto = "
        "`@timestamp`. The CRI `time` the collector's parser keeps (nanoseconds) wins when present.",
    )
    timestamp_format: Literal["auto", "double", "iso8601", "iso8601_ns"] = Field(
        "auto",
        description="Encoding of timestamp_key (LogConfig kafkaDetail.timestampFormat, default double: "
        "epoch seconds); a record whose timestamp is the other type is dead-lettered bad_timestamp.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> RecordSettings:
        named = {
            "message_key": self.message_key,
            "metadata_key": self.metadata_key,
            "timestamp_key": self.timestamp_key,
        }
        seen: dict[str, str] = {}
        for k, v in named.items():
            if v == "auto":
                continue
            if v in seen:
                raise ValueError(f"{seen[v]} and {k} name the same field {v!r}; each must be its own field")
            seen[v] = k
        if self.metadata_key in ("log", "message") and self.message_key == "auto":
            raise ValueError(
                f"metadata_key {self.metadata_key!r} is a field auto reads the line from; "
                "set message_key to the line's field"
            )
        return self

    def core(self) -> dict[str, str]:
        """The record spec as the core takes it (every key)."""
        return self.model_dump()

    @property
    def is_default(self) -> bool:
        return self == RecordSettings()


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topics: list[str] = Field(default_factory=lambda: ["eks-logs"], description="Provider topics to consume.")
    group_id: str = Field("vnbridge-logbridge", description="Consumer group; replicas share partitions.")
    decoder: Literal["auto", "eks", "fluent-bit", "filebeat", "cls", "sls", "lts", "docker", "cri"] = Field(
        "auto",
        description="Record shape; auto sniffs each record (tests/fixtures/providers/README.md). One of: "
        f"{', '.join(SHAPES)}.",
    )
    record: RecordSettings = Field(
        default_factory=RecordSettings,
        description="The provider record's layout, by the provider console's knobs (auto: every variant).",
    )
    start: str = Field(
        "earliest",
        description="Where a partition the group has no committed offset for starts: earliest (every "
        "retained record), latest (records produced from now on), an RFC 3339 time with its zone "
        "(2026-12-04T08:00:00Z) or a duration ago (-30m, -2h, -1d): the first record at or after it. "
        "A committed offset always wins; the start is committed with the first cycle.",
    )
    progress_every_s: float = Field(
        10.0,
        ge=0,
        description="While a backlog (more than a cycle's records) is worked off, log records done, "
        "lag, rate and time to go this often; 0 = never (the backlog_records, consume_rate and "
        "catchup_eta_seconds metrics are kept either way).",
    )
    check_crcs: bool = Field(
        False,
        description=(
            "Verify the CRC32C of every fetched record batch (costs ~10% CPU). Off by default, "
            "as in librdkafka (check.crcs): brokers validate batches on write and TCP checks transit."
        ),
    )

    @model_validator(mode="after")
    def _record_applies(self) -> SourceSettings:
        if self.decoder not in RECORD_DECODERS and not self.record.is_default:
            raise ValueError(
                f"source.record describes the provider collector's record, but decoder {self.decoder!r} "
                f"does not read one; use decoder auto or one of {', '.join(RECORD_DECODERS[1:])}, "
                "or drop source.record"
            )
        return self

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        try:
            parse_start(v, now_s=0.0)
        except StartError as exc:
            raise ValueError(str(exc)) from None
        return v.strip()


class ElasticsearchSinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Deliver to Elasticsearch (connection under `elasticsearch`).")
    batch_docs: int = Field(2000, ge=1, le=100_000, description="Documents per bulk request.")
    batch_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Bytes per bulk request.")
    concurrency: int = Field(2, ge=1, le=16, description="Bulk requests in flight.")


class KafkaSinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Deliver to a Kafka topic, exactly once (transactions).")
    topic: str = Field("vnbridge-logs", min_length=1, description="Topic for the documents; key = pod uid.")


class FileSinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Append JSON lines to a file (debugging).")
    path: Path = Field(Path("logbridge-out.jsonl"), description="Output file.")


class SinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    elasticsearch: ElasticsearchSinkSettings = Field(default_factory=ElasticsearchSinkSettings)
    kafka: KafkaSinkSettings = Field(default_factory=KafkaSinkSettings)
    file: FileSinkSettings = Field(default_factory=FileSinkSettings)

    def enabled(self) -> list[str]:
        return [n for n in ("elasticsearch", "kafka", "file") if getattr(self, n).enabled]


class DeliverySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dead_letter_topic: str = Field("vnbridge-dead-letter", min_length=1, description="Dead-letter topic.")
    transactional_id: str = Field(
        "",
        description="Kafka transactional.id of this replica; must be unique per replica and stable across "
        "its restarts (default: <group_id>-<hostname>).",
    )
    batch_max_records: int = Field(5000, ge=1, le=200_000, description="Records per delivery cycle.")
    batch_max_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Bytes consumed per cycle: the bound on in-flight data."
    )
    linger_ms: int = Field(
        200, ge=0, le=60_000, description="Longest a cycle waits to fill before delivering."
    )
    retry_initial_s: float = Field(0.2, gt=0, description="First retry delay after a sink failure.")
    retry_max_s: float = Field(10.0, gt=0, description="Cap of the retry delay (equal jitter below it).")
    degraded_after_s: float = Field(
        5.0, gt=0, description="A delivery slower than this pauses the partitions and turns /readyz to 503."
    )
    shutdown_timeout_s: float = Field(
        20.0, gt=0, description="On SIGTERM, wait this long for in-flight delivery before exiting."
    )
    max_poll_interval_s: int = Field(
        1800, ge=10, description="Longest sink outage before the consumer leaves the group."
    )


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Serve /metrics, /healthz, /readyz.")
    listen: Listen = Field("127.0.0.1:8081", description="host:port of the metrics and health server.")
    tls: ServerTLSSettings = Field(
        default_factory=ServerTLSSettings,
        description="Serve HTTPS (tls.cert_file, tls.key_file); client certificates from tls.client_ca_file.",
    )


class TracingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="Record an OpenTelemetry span per delivery cycle.")
    otlp_endpoint: str = Field(
        "", description="Export spans over OTLP/HTTP (needs the `otlp` extra); empty = log them to stderr."
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
    sinks: SinkSettings = Field(default_factory=SinkSettings, description="Where documents go (run).")
    delivery: DeliverySettings = Field(
        default_factory=DeliverySettings, description="Batching, retries, DLQ."
    )
    http: HttpSettings = Field(default_factory=HttpSettings, description="Metrics and health endpoints.")
    tracing: TracingSettings = Field(default_factory=TracingSettings, description="OpenTelemetry spans.")
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="Event loop of `run`: uvloop (libuv; a produce request leaves in one vectored write, "
        "~10% less CPU) or Python's own asyncio.",
    )

    @model_validator(mode="after")
    def _imported_multiline(self) -> LogbridgeSettings:
        """A multiline filter of the imported collector config groups stack traces here
        too, unless assembly.multiline_namespaces says otherwise."""
        if self.profile.multiline and not self.assembly.multiline_namespaces:
            self.assembly.multiline_namespaces = self.profile.multiline
        return self

    def core_assembly(self) -> Assembly:
        """How the core reads and reassembles records: ``source.decoder``,
        ``source.record`` and the ``assembly`` block."""
        a = self.assembly
        return Assembly(
            shape=self.source.decoder,
            record=self.source.record.core(),
            max_line_bytes=a.max_line_bytes,
            partial_idle_s=a.partial_idle_s,
            multiline_namespaces=a.multiline_namespaces,
            multiline_max_lines=a.multiline_max_lines,
            multiline_max_bytes=a.multiline_max_bytes,
        )


def run_problems(settings: LogbridgeSettings) -> list[str]:
    """What ``logbridge run`` refuses in settings ``convert`` accepts (one line each)."""
    problems: list[str] = []
    if not settings.sinks.enabled():
        problems.append(
            "no sink enabled: set sinks.elasticsearch.enabled, sinks.kafka.enabled or sinks.file.enabled"
        )
    return problems
