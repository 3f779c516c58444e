"""The transform: the compiled core driven from Python, with fragments rendered per pod.

Why: decode → reassemble → group stack traces → splice the pod's metadata → encode
runs in the core (``vnbridge_core.Transformer``), a batch at a time. What depends
only on the pod is rendered here, in Python, once per pod change: the core asks
``render`` for a (namespace, pod, container, container id) it has not seen since the
inventory last changed that pod, and caches the answer — as Fluent Bit's kubernetes
filter caches each pod's packed metadata. The class below also offers a record-at-a-
time ``push`` with arbitrary tokens for ``logbridge convert`` and tests; the streaming
pipeline pushes whole Kafka batches through ``core`` directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, Unpack, cast

import orjson
import vnbridge_core

from logbridge.decoding import NO_CONTEXT, Context
from logbridge.enrichment import Source, resolve
from logbridge.profiles import Profile
from logbridge.records import DeadLetter, Embedded, PodRef, Reason
from vnbridge.inventory import Lookup

__all__ = [
    "ASSEMBLY_DEFAULTS",
    "MULTILINE_ANNOTATION",
    "Assembly",
    "Output",
    "Renderer",
    "Transformer",
    "core_transformer",
    "dead_letter_json",
]

T = TypeVar("T", bound=Hashable)
MULTILINE_ANNOTATION = "vnbridge.io/multiline"
SOURCES = (Source.LIVE, Source.TOMBSTONE, Source.EMBEDDED, Source.NONE)
_SOURCE_CODE = {s: i for i, s in enumerate(SOURCES)}

if TYPE_CHECKING:  # the stub's names (core/vnbridge_core.pyi): types only
    Rendered = vnbridge_core.Rendered  # (source, pod uid, lang, parts); parts None: excluded
    Renderer = vnbridge_core.Render


def renderer(profile: Profile, lookup: Lookup | None) -> Renderer:
    """The function the core calls on a fragment cache miss."""

    def render(
        namespace: str, pod: str, container: str, container_id: str, emb: vnbridge_core.EmbeddedMeta | None
    ) -> Rendered:
        ref = PodRef(namespace, pod, container, container_id, None if emb is None else Embedded(**emb))
        res = resolve(ref, lookup)
        lang = res.pod.annotations.get(MULTILINE_ANNOTATION) if res.pod is not None else None
        uid = res.pod.uid if res.pod is not None else ""
        return _SOURCE_CODE[res.source], uid, lang, profile.fragment(ref, res)

    return render


class Assembly(TypedDict, total=False):
    """How the core reads and reassembles records: the settings' ``source.decoder``,
    ``source.record`` and ``assembly`` block (defaults: ``ASSEMBLY_DEFAULTS``)."""

    shape: str
    record: Mapping[str, str] | None
    max_line_bytes: int
    partial_idle_s: float
    multiline_namespaces: Mapping[str, str] | None
    multiline_max_lines: int
    multiline_max_bytes: int


ASSEMBLY_DEFAULTS = Assembly(
    shape="auto",
    record=None,
    max_line_bytes=2 * 1024 * 1024,
    partial_idle_s=4.0,
    multiline_namespaces=None,
    multiline_max_lines=500,
    multiline_max_bytes=2 * 1024 * 1024,
)


def core_transformer(
    *, profile: Profile, lookup: Lookup | None, **given: Unpack[Assembly]
) -> vnbridge_core.Transformer:
    a = Assembly(**{**ASSEMBLY_DEFAULTS, **given})
    record = a.get("record")
    assembly: vnbridge_core.AssemblyConfig = {
        "shape": a["shape"],
        "record": cast("vnbridge_core.RecordConfig", dict(record)) if record else None,
        "max_line_bytes": a["max_line_bytes"],
        "partial_idle_s": a["partial_idle_s"],
        "multiline_namespaces": cast("dict[str, Any]", dict(a.get("multiline_namespaces") or {})),
        "multiline_max_lines": a["multiline_max_lines"],
        "multiline_max_bytes": a["multiline_max_bytes"],
    }
    return vnbridge_core.Transformer(profile.core_config(), assembly, renderer(profile, lookup))


@dataclass(frozen=True, slots=True)
class Output(Generic[T]):
    body: bytes  # the document, as the sink writes it
    index: str
    doc_id: str | None
    tokens: tuple[T, ...]
    source: Source
    pod_uid: str = ""

    @property
    def doc(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


class Transformer(Generic[T]):
    """Record-at-a-time face of the core (``convert``, tests): each input carries a token
    of the caller's choosing; each output carries the tokens it consumed."""

    _SOURCE = "in"

    def __init__(
        self, *, profile: Profile, lookup: Lookup | None = None, **assembly: Unpack[Assembly]
    ) -> None:
        self.profile = profile
        self.core = core_transformer(profile=profile, lookup=lookup, **assembly)
        self._tokens: dict[int, T] = {}
        self._values: dict[int, bytes] = {}
        self._next = 0
        self._truncated = 0

    @property
    def counters(self) -> Counter[str]:
        c: Counter[str] = Counter({k: int(v) for k, v in self.core.counters().items() if v})
        if self._truncated:
            c["truncated_lines"] = self._truncated
        return c

    @property
    def joins_partials(self) -> bool:
        return bool(self.core.joins_partials)

    def push(
        self, value: bytes, token: T, ctx: Context = NO_CONTEXT, now: float = 0.0
    ) -> tuple[list[Output[T]], list[tuple[DeadLetter, T]]]:
        n = self._next
        self._next += 1
        self._tokens[n] = token
        self._values[n] = value
        batch = self.core.push_values(
            self._SOURCE, [value], n, now, ctx.file_tuple(), ctx.key, list(ctx.headers) or None
        )
        return self._collect(batch)

    def flush_idle(self, now: float) -> list[Output[T]]:
        return self._collect(self.core.flush_idle(now))[0]

    def flush_all(self) -> list[Output[T]]:
        return self._collect(self.core.flush_all())[0]

    def invalidate(self, namespace: str, pod: str) -> None:
        self.core.invalidate(namespace, pod)

    def _collect(self, batch: vnbridge_core.Batch) -> tuple[list[Output[T]], list[tuple[DeadLetter, T]]]:
        self._truncated += batch.truncated
        outs: list[Output[T]] = []
        for body, index, doc_id, source, uid, toks in zip(
            batch.take_bodies(),
            batch.indices(),
            batch.ids(False),
            batch.sources(),
            batch.pod_uids(),
            batch.all_tokens(),
            strict=True,
        ):
            tokens = tuple(self._tokens.pop(o) for _, o in toks)
            for _, o in toks:
                self._values.pop(o, None)
            outs.append(Output(body, index, doc_id, tokens, SOURCES[source], uid))
        dead: list[tuple[DeadLetter, T]] = []
        for _, offset, reason, detail in batch.dead():
            dead.append(
                (DeadLetter(Reason(reason), detail, self._values.pop(offset, b"")), self._tokens.pop(offset))
            )
        return outs, dead


def dead_letter_json(dl: DeadLetter) -> dict[str, Any]:
    return {"reason": dl.reason.value, "detail": dl.detail, "record": dl.record.decode("utf-8", "replace")}
