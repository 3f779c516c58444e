"""Value types that flow between the transform stages.

Why: the middle of the pipeline is pure functions over plain values; these are the
values. A ``LogLine`` is one decoded provider record, whatever its wire shape; a
``DeadLetter`` carries the original bytes and a reason from a fixed enum, so error
counters have bounded cardinality and nothing is ever dropped silently.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DeadLetter", "Embedded", "LogLine", "Reason"]


class Reason(enum.StrEnum):
    """Why a record was dead-lettered. Fixed: metric labels and DLQ headers use it."""

    NOT_UTF8 = "not_utf8"
    EMPTY = "empty_record"
    UNKNOWN_SHAPE = "unknown_shape"
    BAD_JSON = "bad_json"
    BAD_CRI = "bad_cri_line"
    BAD_TIMESTAMP = "bad_timestamp"
    NO_IDENTITY = "no_pod_identity"
    TOO_LARGE = "too_large"
    SINK_REJECTED = "sink_rejected"  # a sink refused the document for good (e.g. ES mapping error)
    BAD_INDEX = "bad_index"  # the index the collector's routing gives is a name Elasticsearch refuses
    TOO_MANY_KEYS = "too_many_keys"  # an object with more keys than the core reads (10,000)
    INTERNAL = "internal_error"  # the core failed on this record (a bug): kept, never a crash


@dataclass(frozen=True, slots=True)
class Embedded:
    """Metadata the provider attached to the record (used when the inventory has
    never seen the pod)."""

    pod_uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    host: str = ""
    pod_ip: str = ""
    image: str = ""
    image_id: str = ""
    namespace_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One decoded line (or fragment) of container output."""

    ts_ns: int  # nanoseconds since the epoch, UTC
    time_text: str  # the timestamp as the runtime wrote it (Fluent Bit keeps it verbatim)
    stream: str  # "stdout" | "stderr"
    text: str  # the line, without the runtime's trailing newline
    partial: bool  # CRI "P": more fragments follow
    namespace: str
    pod: str
    container: str
    container_id: str = ""  # bare 64-hex id, no scheme
    embedded: Embedded | None = None
    shape: str = ""  # which decoder read it
    first_partial: bool = False  # set by assembly: the joined line started with a "P" fragment


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: Reason
    detail: str  # short, never the record itself (no secrets in logs)
    record: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)
