"""Value types the Python side of the transform passes around.

Why: the compiled core reads every record; Python sees only what depends on the pod
and what failed. A ``PodRef`` is the container a record came from, as the core read
it (the key of a fragment render); a ``DeadLetter`` carries the original bytes and a
reason from a fixed enum, so error counters have bounded cardinality and nothing is
ever dropped silently.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DeadLetter", "Embedded", "PodRef", "Reason"]


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
class PodRef:
    """The container a record came from, as the core decoded it: what ``resolve`` looks
    up and a profile's ``fragment`` renders for."""

    namespace: str
    pod: str
    container: str
    container_id: str = ""  # bare 64-hex id, no scheme
    embedded: Embedded | None = None  # what the provider attached, for a pod never seen


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: Reason
    detail: str  # short, never the record itself (no secrets in logs)
    record: bytes
