"""Type stubs of the compiled core (core/src/py.rs, core/src/py_metrics.rs)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol, TypedDict

__version__: str

Rendered = tuple[int, str, str | None, tuple[bytes, ...] | None]  # parts None: the pod is excluded

class EmbeddedMeta(TypedDict):
    """Pod metadata the provider put in the record (core/src/py.rs emb_dict)."""

    pod_uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    host: str
    pod_ip: str
    image: str
    image_id: str

class DecodedLine(TypedDict):
    """One record read by `decode_one` (core/src/py.rs)."""

    ts_ns: int
    time_text: str
    stream: Literal["stdout", "stderr"]
    text: str
    partial: bool
    namespace: str
    pod: str
    container: str
    container_id: str
    shape: str
    via_identity: str
    via_message: str
    via_time: str
    embedded: EmbeddedMeta | None

# (namespace, pod, container, container id, embedded metadata) -> the pod's fragment
Render = Callable[[str, str, str, str, EmbeddedMeta | None], Rendered]

class KafkaRecord(Protocol):
    """What push_records reads of a fetched record (aiokafka's ConsumerRecord)."""

    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...

class Batch:
    def __len__(self) -> int: ...
    @property
    def replayed(self) -> int: ...
    @property
    def truncated(self) -> int: ...
    @property
    def excluded(self) -> int: ...
    @property
    def bytes_in(self) -> int: ...
    def take_bodies(self) -> list[bytes]: ...
    def keys(self) -> list[bytes]: ...
    def indices(self) -> list[str]: ...
    def ids(self, default_ids: bool) -> list[str | None]: ...
    def actions(self, op: str, default_ids: bool = True) -> list[bytes]: ...
    def bulk(self, op: str, default_ids: bool = True, base: int = 0) -> tuple[bytes, list[int]]: ...
    def release_bodies(self) -> None: ...
    def sources(self) -> list[int]: ...
    def pod_uids(self) -> list[str]: ...
    def tokens(self, i: int) -> list[tuple[str, int]]: ...
    def all_tokens(self) -> list[list[tuple[str, int]]]: ...
    def dead(self) -> list[tuple[str, int, str, str]]: ...

class RecordConfig(TypedDict):
    """`source.record` (logbridge/settings.py RecordSettings.core): every key, no other."""

    message_key: str
    metadata_key: str
    metadata_format: Literal["auto", "default", "fluent-bit", "filebeat"]
    timestamp_key: str
    timestamp_format: str

class AssemblyConfig(TypedDict):
    """How records are read and lines assembled (logbridge.transforming.core_transformer)."""

    shape: str
    record: RecordConfig | None
    max_line_bytes: int
    partial_idle_s: float
    multiline_namespaces: dict[str, Literal["java", "python", "go"]]
    multiline_max_lines: int
    multiline_max_bytes: int

# The fluent-bit profile's per-record options (logbridge/profiles/fluentbit.py core_config:
# exactly `profile_keys("fluent-bit")`); functional form: two keys have dots.
FluentBitConfig = TypedDict(
    "FluentBitConfig",
    {
        "profile": Literal["fluent-bit"],
        "parser": Literal["cri", "docker", "cri-classic", "docker-classic"],
        "Output": Literal["es", "kafka", "plain"],
        "Timestamp_Format": Literal["double", "iso8601", "iso8601_ns"],
        "Merge_Log": bool,
        "Merge_Log_Key": str,
        "Merge_Log_Trim": bool,
        "Keep_Log": bool,
        "Logstash_Format": bool,
        "Logstash_Prefix": str,
        "Logstash_Prefix_Key": str,
        "Logstash_Prefix_Separator": str,
        "Logstash_DateFormat": str,
        "Index": str,
        "Time_Key": str,
        "Time_Key_Format": str,
        "Time_Key_Nanos": bool,
        "Include_Tag_Key": bool,
        "Tag_Key": str,
        "Replace_Dots": bool,
        "Generate_ID": bool,
        "Timestamp_Key": str,
        "Tag_Prefix": str,
        "record_modifier.Record": list[tuple[str, str]],
        "modify.Add": list[tuple[str, str]],
    },
    total=False,
)

class FilebeatConfig(TypedDict):
    profile: Literal["filebeat"]
    index: str
    index_from_fragment: bool
    include_lines: list[str]
    exclude_lines: list[str]
    drop_event: str

class VectorConfig(TypedDict):
    profile: Literal["vector"]
    index: str
    index_from_fragment: bool
    auto_partial_merge: bool

ProfileConfig = FluentBitConfig | FilebeatConfig | VectorConfig

def profile_keys(profile: str) -> list[str]: ...

class Transformer:
    def __init__(
        self,
        profile: ProfileConfig,
        assembly: AssemblyConfig,
        render: Render,
    ) -> None: ...
    @property
    def joins_partials(self) -> bool: ...
    def push_records(self, source: str, records: Sequence[KafkaRecord], now: float) -> Batch: ...
    def push_values(
        self,
        source: str,
        values: Sequence[bytes],
        first_offset: int,
        now: float = 0.0,
        file: tuple[str, str, str, str] | None = None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Batch: ...
    def flush_idle(self, now: float) -> Batch: ...
    def flush_all(self) -> Batch: ...
    def invalidate(self, namespace: str, pod: str) -> None: ...
    def invalidate_all(self) -> None: ...
    def set_replay(self, source: str, mark: int, held: Sequence[int]) -> None: ...
    def clear_replay(self) -> None: ...
    def held(self, source: str) -> list[int]: ...
    def counters(self) -> dict[str, int]: ...

def decode_one(
    value: bytes,
    shape: str = "auto",
    file: tuple[str, str, str, str] | None = None,
    key: bytes | None = None,
    headers: Sequence[tuple[str, bytes]] | None = None,
    record: Mapping[str, str] | None = None,
) -> DecodedLine | tuple[str, str]: ...
def parse_rfc3339(text: str) -> int: ...
def format_rfc3339(ts_ns: int, digits: int = 9) -> str: ...
def strftime(fmt: str, secs: int) -> str: ...
def merge_body(text: str) -> bytes | None: ...
def replace_dots(doc: bytes) -> bytes: ...
def reasons() -> list[str]: ...
def regex_error(pattern: str) -> str | None: ...
def record_accessor_error(pattern: str) -> str | None: ...
def index_name_error(name: str) -> str | None: ...

class KafkaBatch:
    def record_count(self) -> int: ...
    def size(self) -> int: ...
    def build(
        self, producer_id: int, producer_epoch: int, base_sequence: int, transactional: bool
    ) -> bytes: ...

def kafka_batches(
    keys: Sequence[bytes],
    values: Sequence[bytes],
    partitions: int,
    limit: int,
    timestamp_ms: int,
    headers: list[list[tuple[str, bytes]]] | None = None,
) -> tuple[list[tuple[int, KafkaBatch]], list[int]]: ...

class Translator:
    def __init__(
        self,
        rules: list[dict[str, object]],
        derived: list[dict[str, object]],
        types: dict[str, str],
        vm_sources: list[str],
    ) -> None: ...
    def translate(
        self, text: str, pod: dict[str, object], openmetrics: bool = False, pass_vm: bool = False
    ) -> tuple[str, int, int, dict[str, int]]: ...
    def translate_node(
        self, text: str, pods: list[dict[str, object]], openmetrics: bool = False, rules: bool = False
    ) -> tuple[str, int, int, dict[str, int]]: ...
